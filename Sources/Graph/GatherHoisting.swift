// Moving a Gather of one index up the graph, above the row-wise operators before it, so they compute the row that is read and not the others.

/// A graph rewrite run before fusion: a `Gather` of one constant index along an axis (ViT's class token,
/// `encoder[:, 0]`) whose input only it reads moves above the operator that computes that input when the
/// operator treats slices along that axis independently: element-wise ones (GELU, ReLU, …), a binary
/// element-wise operator (a residual Add, a bias), `LayerNormalization` over later axes, `MatMul` by a constant
/// matrix on a row or batch axis, and `Transpose`. The operator then runs on the one slice. In ViT-B/16 the
/// last block's MLP, its LayerNorms and its residual Adds run on one token of 197. Two Gathers of one value
/// by one index along one axis become one, so a value read twice (a residual branch) moves on too.
///
/// Every move needs the ranks (and for a binary operator the sizes along the axis) of the values involved,
/// from the model's declared shapes (`Graph.valueInfo`, which `torch.onnx.export` writes); without them
/// nothing moves. The moved graph computes the same numbers for the rows that were read: the products
/// have fewer rows, so the order of their sums may differ by rounding.
enum GatherHoisting {
    /// Element-wise operators of one input that commute with taking a slice.
    private static let elementwise: Set<String> = ["Gelu", "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish",
                                                   "Tanh", "Erf", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Softplus", "Identity"]
    /// Binary element-wise operators with broadcasting.
    private static let binary: Set<String> = ["Add", "Sub", "Mul", "Div"]

    /// `nodes` (in execution order) with every Gather moved as far up as it goes. Values in `outputs` are never
    /// removed; `constants` are the model's constant values, `declared` its declared shapes.
    static func apply(_ nodes: [Node], keeping outputs: Set<String>, constants: [String: RuntimeValue], declared: [String: ValueInfo]) throws -> [Node] {
        guard !declared.isEmpty else { return nodes }
        var nodes = nodes
        var moved = 0
        var index = 0
        while index < nodes.count {
            if let next = try hoist(at: index, in: nodes, keeping: outputs, constants: constants, declared: declared, serial: moved) {
                (nodes, index, moved) = (next, 0, moved + 1)
            } else {
                index += 1
            }
        }
        return nodes
    }

    /// The declared rank of `name`, and its dimensions.
    private static func shape(_ name: String, _ declared: [String: ValueInfo], _ constants: [String: RuntimeValue]) -> [Dimension]? {
        if let constant = constants[name] { return constant.shape.map { .fixed($0) } }
        return declared[name]?.shape
    }

    /// The graph with the Gather at `index` moved above its input's producer, or nil when it does not move.
    private static func hoist(at index: Int, in nodes: [Node], keeping outputs: Set<String>, constants: [String: RuntimeValue],
                              declared: [String: ValueInfo], serial: Int) throws -> [Node]? {
        let gather = nodes[index]
        guard gather.opType == "Gather", gather.domain.isEmpty || gather.domain == "ai.onnx", gather.inputs.count == 2, gather.outputs.count == 1,
              case .int(let indices)? = constants[gather.inputs[1]], indices.shape.isEmpty else { return nil }
        let value = gather.inputs[0]
        guard !outputs.contains(value), constants[value] == nil,
              let producerIndex = nodes.firstIndex(where: { $0.outputs.contains(value) }),
              nodes.filter({ $0.inputs.contains(value) }).count == 1,
              let dims = shape(value, declared, constants) else { return nil }
        let producer = nodes[producerIndex]
        guard producer.outputs == [value], producer.domain.isEmpty || producer.domain == "ai.onnx" else { return nil }
        let rank = dims.count
        var axis = try NodeAttributes(node: gather).int("axis", default: 0)
        if axis < 0 { axis += rank }
        guard (0..<rank).contains(axis) else { return nil }

        // Per input of the producer, the axis to take the slice along (nil: read it whole), and the producer's new attributes.
        var sliced: [Int?]
        var attributes = producer.attributes
        let operands = producer.inputs
        switch producer.opType {
        case let op where elementwise.contains(op) && operands.count == 1:
            sliced = [axis]
        case "LayerNormalization":
            let normalized = try NodeAttributes(node: producer).int("axis", default: -1)
            guard shape(operands[0], declared, constants)?.count == rank else { return nil }
            let first = normalized < 0 ? normalized + rank : normalized
            guard axis < first else { return nil }
            if normalized >= 0 { attributes["axis"] = .int(normalized - 1) }
            sliced = [axis] + Array(repeating: nil, count: operands.count - 1)
        case "MatMul":
            guard operands.count == 2, rank >= 3, axis <= rank - 2, let b = constants[operands[1]], b.shape.count == 2,
                  shape(operands[0], declared, constants)?.count == rank else { return nil }
            sliced = [axis, nil]
        case let op where binary.contains(op) && operands.count == 2:
            sliced = []
            for operand in operands {
                guard let operandDims = shape(operand, declared, constants) else { return nil }
                let own = axis - (rank - operandDims.count)
                if own < 0 { sliced.append(nil); continue }            // broadcast over the axis: read whole
                guard constants[operand] == nil, operandDims[own] == dims[axis], case .fixed = dims[axis] else { return nil }
                sliced.append(own)
            }
        case "Transpose":
            guard operands.count == 1, case .ints(let perm)? = producer.attributes["perm"], perm.count == rank else { return nil }
            sliced = [perm[axis]]
            attributes["perm"] = .ints(perm.enumerated().filter { $0.offset != axis }.map { $0.element - ($0.element > perm[axis] ? 1 : 0) })
        default:
            return nil
        }

        // The new Gathers, each right after what computes its input; one already there is reused.
        var result = nodes
        result.remove(at: index)
        result.remove(at: producerIndex)
        var inputs = operands
        for (k, along) in sliced.enumerated() {
            guard let along else { continue }
            let source = operands[k]
            if let existing = try result.first(where: { node in
                guard node.opType == "Gather", node.inputs == [source, gather.inputs[1]] else { return false }
                return try NodeAttributes(node: node).int("axis", default: 0) == along
            }) {
                inputs[k] = existing.outputs[0]
                continue
            }
            let name = "\(gather.outputs[0])/slice\(serial)_\(k)"
            let slice = Node(name: "\(gather.name)/above \(producer.name)", opType: "Gather", inputs: [source, gather.inputs[1]], outputs: [name],
                             attributes: ["axis": .int(along)])
            let place = (result.firstIndex(where: { $0.outputs.contains(source) }).map { $0 + 1 }) ?? 0
            result.insert(slice, at: place)
            inputs[k] = name
        }
        // The producer, reading the slices, takes the Gather's output; it goes after the last of its inputs' producers.
        let replacement = Node(name: producer.name, opType: producer.opType, domain: producer.domain, inputs: inputs, outputs: gather.outputs,
                               attributes: attributes)
        let place = inputs.compactMap { name in result.firstIndex(where: { $0.outputs.contains(name) }) }.max().map { $0 + 1 } ?? 0
        result.insert(replacement, at: place)
        return result
    }
}
