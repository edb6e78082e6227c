import Tensor

/// Einsum over any equation (explicit or implicit output, repeated indices for diagonals and
/// traces, "..." broadcasting): a direct loop over the joint index space. Backward runs the same
/// loop, accumulating into each wanted operand. Meant for the small contractions models use.
final class Einsum: Operator {
    let node: Node
    let inputTerms: [[Character]]
    let outputTerm: [Character]?
    let hasEllipsis: Bool

    init(node: Node) throws {
        self.node = node
        let equation = try NodeAttributes(node: node).string("equation").filter { !$0.isWhitespace }
        let sides = equation.components(separatedBy: "->")
        guard sides.count <= 2 else { throw EngineError("node '\(node.name)' (Einsum): bad equation '\(equation)'") }
        // "..." becomes one marker character, expanded per operand later.
        func terms(_ s: String) -> [[Character]] { s.replacingOccurrences(of: "...", with: "*").split(separator: ",", omittingEmptySubsequences: false).map(Array.init) }
        inputTerms = terms(sides[0])
        outputTerm = sides.count == 2 ? Array(sides[1].replacingOccurrences(of: "...", with: "*")) : nil
        hasEllipsis = equation.contains("...")
        for t in inputTerms + [outputTerm ?? []] {
            for c in t where !(c.isLetter || c == "*") { throw EngineError("node '\(node.name)' (Einsum): bad character '\(c)' in '\(equation)'") }
        }
    }

    var differentiableInputs: [Int] { Array(node.inputs.indices) }

    struct Plan {
        var sizes: [Int]                 // per label
        var outputLabels: [Int]
        var operandLabels: [[Int]]       // per operand, per axis: label
        var operandStrides: [[Int]]      // per operand, per label: stride (0 if absent or broadcast)
        var outputShape: [Int]
    }

    func plan(_ shapes: [[Int]]) throws -> Plan {
        guard shapes.count == inputTerms.count else {
            throw EngineError("node '\(node.name)' (Einsum): \(shapes.count) operands for \(inputTerms.count) terms")
        }
        var labelIndex: [Character: Int] = [:]
        var sizes: [Int] = []
        var ellipsisRank = 0
        for (term, shape) in zip(inputTerms, shapes) where term.contains("*") { ellipsisRank = max(ellipsisRank, shape.count - (term.count - 1)) }
        // Ellipsis dimensions get labels 0..<ellipsisRank (right-aligned across operands).
        sizes = Array(repeating: 1, count: ellipsisRank)
        var operandLabels: [[Int]] = []
        for (term, shape) in zip(inputTerms, shapes) {
            var labels: [Int] = []
            let own = shape.count - (term.count - (term.contains("*") ? 1 : 0))
            guard term.contains("*") ? own >= 0 : own == 0 else {
                throw EngineError("node '\(node.name)' (Einsum): term '\(String(term))' does not fit operand of shape \(shape)")
            }
            for c in term {
                if c == "*" { labels += ((ellipsisRank - own)..<ellipsisRank).map { $0 } ; continue }
                if labelIndex[c] == nil { labelIndex[c] = sizes.count; sizes.append(1) }
                labels.append(labelIndex[c]!)
            }
            for (axis, label) in labels.enumerated() {
                let n = shape[axis]
                if sizes[label] == 1 { sizes[label] = n }
                else if n != 1 && n != sizes[label] {
                    throw EngineError("node '\(node.name)' (Einsum): dimension \(n) of operand \(shape) does not match \(sizes[label])")
                }
            }
            operandLabels.append(labels)
        }
        var outputLabels: [Int]
        if let outputTerm {
            outputLabels = []
            for c in outputTerm {
                if c == "*" { outputLabels += Array(0..<ellipsisRank); continue }
                guard let l = labelIndex[c] else { throw EngineError("node '\(node.name)' (Einsum): output label '\(c)' is not in any input") }
                outputLabels.append(l)
            }
        } else {
            let counts = inputTerms.joined().reduce(into: [Character: Int]()) { $0[$1, default: 0] += 1 }
            outputLabels = Array(0..<ellipsisRank) + counts.filter { $0.key != "*" && $0.value == 1 }.keys.sorted().map { labelIndex[$0]! }
        }
        let operandStrides = zip(operandLabels, shapes).map { labels, shape -> [Int] in
            var strides = [Int](repeating: 0, count: sizes.count)
            var step = 1
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                if shape[axis] != 1 { strides[labels[axis]] += step }
                step *= shape[axis]
            }
            return strides
        }
        return Plan(sizes: sizes, outputLabels: outputLabels, operandLabels: operandLabels, operandStrides: operandStrides,
                    outputShape: outputLabels.map { sizes[$0] })
    }

    /// Calls `body(outputOffset, operandOffsets)` for every point of the joint index space.
    func iterate(_ p: Plan, _ body: (Int, [Int]) -> Void) {
        let labelCount = p.sizes.count
        guard p.sizes.allSatisfy({ $0 > 0 }) else { return }
        var outputStrides = [Int](repeating: 0, count: labelCount)
        var step = 1
        for l in p.outputLabels.reversed() { outputStrides[l] += step; step *= p.sizes[l] }
        var index = [Int](repeating: 0, count: labelCount)
        var outOffset = 0
        var offsets = [Int](repeating: 0, count: p.operandStrides.count)
        while true {
            body(outOffset, offsets)
            var l = labelCount - 1
            while l >= 0 {
                index[l] += 1
                outOffset += outputStrides[l]
                for k in offsets.indices { offsets[k] += p.operandStrides[k][l] }
                if index[l] < p.sizes[l] { break }
                outOffset -= outputStrides[l] * index[l]
                for k in offsets.indices { offsets[k] -= p.operandStrides[k][l] * index[l] }
                index[l] = 0
                l -= 1
            }
            if l < 0 { return }
        }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let operands = try inputs.indices.map { try floatInput(inputs, $0, node) }
        let p = try plan(operands.map(\.shape))
        var y = Tensor.zeros(p.outputShape)
        iterate(p) { out, offsets in
            var product: Float = 1
            for k in operands.indices { product *= operands[k].data[offsets[k]] }
            y.data[out] += product
        }
        return [.float(y)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let operands = try inputs.indices.map { try floatInput(inputs, $0, node) }
        let p = try plan(operands.map(\.shape))
        var grads = operands.map { Tensor.zeros($0.shape) }
        iterate(p) { out, offsets in
            let d = dy.data[out]
            for k in operands.indices where wanted.contains(k) {
                var product = d
                for j in operands.indices where j != k { product *= operands[j].data[offsets[j]] }
                grads[k].data[offsets[k]] += product
            }
        }
        var result: [Int: Tensor] = [:]
        for k in wanted where k < grads.count { result[k] = grads[k] }
        return result
    }
}
