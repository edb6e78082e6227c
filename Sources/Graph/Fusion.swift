/// Nodes the executor runs as one step: a convolution and its ReLU, a batch normalisation and its ReLU, a sigmoid and the product that makes it SiLU, a product and its bias, a transpose and the product that reads it, the Gathers of one tensor, a Concat of Slices of one tensor.
import Foundation
import Tensor

/// Nodes that run as one step. Mostly pairs: the second reads the first's output and nothing else
/// does, so that value never needs to exist: the pair's node reads the first's inputs and writes the
/// second's outputs. The Gathers of one tensor along one axis by constant indices are a group: one
/// node with all their indices and outputs. So are a Concat and the Slices of one tensor it reads.
struct Fusion {
    /// The indices of the nodes that do not run as steps of their own (the index of the one whose place
    /// the step takes keys it). A pair takes the first node's place, except a transpose read by a
    /// product: the product's other operand may be computed between the two. A group of Gathers takes
    /// its first Gather's place, a Concat of Slices the Concat's.
    let absorbed: [Int]
    /// The step as one node. For a pair: the first's name and attributes (the product's, for a
    /// transpose and its product), the inputs it reads, the second's outputs.
    let node: Node
    /// The operator that runs them all.
    let op: Operator
    /// What profiles call the step ("Conv+Relu").
    let label: String

    /// The pairs and groups among `nodes` (in graph order), keyed by the index of the step each takes
    /// the place of; a node is in one of them at most. Values in `outputs` (asked for by the caller) are
    /// never fused away; `constantShape` gives the shape of a model constant (nil for computed values).
    static func all(_ nodes: [Node], keeping outputs: Set<String>, constantShape: (String) -> [Int]?) throws -> [Int: Fusion] {
        var readers: [String: [Int]] = [:]
        for (k, node) in nodes.enumerated() { for name in Set(node.inputs) where !name.isEmpty { readers[name, default: []].append(k) } }
        /// The only node reading `node`'s single output, if there is one and nobody asked for that output.
        func soleReader(of node: Node) -> Int? {
            guard node.outputs.count == 1, !outputs.contains(node.outputs[0]), let r = readers[node.outputs[0]], r.count == 1 else { return nil }
            return r[0]
        }
        var pairs: [Int: Fusion] = [:]
        var paired: Set<Int> = []
        for (k, node) in nodes.enumerated() where node.domain.isEmpty || node.domain == "ai.onnx" {
            guard !paired.contains(k), let r = soleReader(of: node), !paired.contains(r) else { continue }
            let next = nodes[r]
            defer { if pairs[k] != nil || pairs[r] != nil { paired.formUnion([k, r]) } }   // neither was paired before
            switch node.opType {
            case "Conv" where next.opType == "Relu" && next.inputs == node.outputs:
                var pair = node
                pair.outputs = next.outputs
                pairs[k] = Fusion(absorbed: [r], node: pair, op: try Conv(node: node, fusedReLU: true), label: "Conv+Relu")
            case "BatchNormalization" where next.opType == "Relu" && next.inputs == node.outputs:
                // DenseNet's pre-activation: the affine map and the ReLU in one pass each way (inference mode only).
                guard try NodeAttributes(node: node).int("training_mode", default: 0) == 0 else { continue }
                var pair = node
                pair.outputs = next.outputs
                pairs[k] = Fusion(absorbed: [r], node: pair, op: try BatchNormalization(node: node, fusedReLU: true), label: "BatchNormalization+Relu")
            case "Sigmoid" where next.opType == "Mul" && Set(next.inputs) == Set(node.inputs + node.outputs) && next.inputs.count == 2:
                // x·σ(x): oneDNN's swish, one pass forward and one backward instead of two each.
                let pair = Node(name: next.name, opType: "Sigmoid+Mul", inputs: node.inputs, outputs: next.outputs)
                pairs[k] = Fusion(absorbed: [r], node: pair, op: Unary(node: pair, { x in x / (1 + exp(-x)) }, { x, _ in
                    let s = 1 / (1 + exp(-x))
                    return s + x * s * (1 - s)
                }, oneDNN: .swish), label: "Sigmoid+Mul")
            case "MatMul" where next.opType == "Add" && next.inputs.count == 2 && next.inputs.contains(node.outputs[0]):
                // A Linear layer's bias: added by the product itself, no pass of its own.
                let bias = next.inputs[0] == node.outputs[0] ? next.inputs[1] : next.inputs[0]
                guard let shape = constantShape(bias), shape.count >= 1, shape.dropLast().allSatisfy({ $0 == 1 }) else { continue }
                let pair = Node(name: node.name, opType: "MatMul", inputs: node.inputs + [bias], outputs: next.outputs)
                pairs[k] = Fusion(absorbed: [r], node: pair, op: MatMul(node: pair, fusedBias: true), label: "MatMul+Add")
            case "Transpose" where next.opType == "MatMul" && next.inputs.count == 2 && next.inputs[0] != next.inputs[1]:
                // kᵀ in q·kᵀ: the product reads its operand through swapped strides instead of a copy.
                guard node.attributes["perm"] != nil, case let perm = try NodeAttributes(node: node).ints("perm"), perm.count >= 2,
                      perm == Array(0..<(perm.count - 2)) + [perm.count - 1, perm.count - 2] else { continue }
                let operand = next.inputs[0] == node.outputs[0] ? 0 : 1
                var pair = next
                pair.inputs[operand] = node.inputs[0]
                pairs[r] = Fusion(absorbed: [k], node: pair, op: MatMul(node: pair, transposedRanks: operand == 0 ? [perm.count, nil] : [nil, perm.count]),
                                  label: "Transpose+MatMul")
            default:
                continue
            }
        }
        // A Concat of Slices of one tensor (torch.roll): one node, one pass each way.
        var producer: [String: Int] = [:]
        for (k, node) in nodes.enumerated() { for name in node.outputs where !name.isEmpty { producer[name] = k } }
        for (k, node) in nodes.enumerated() where node.opType == "Concat" && (node.domain.isEmpty || node.domain == "ai.onnx") && !paired.contains(k) {
            let members = node.inputs.compactMap { producer[$0] }
            guard node.inputs.count >= 2, node.outputs.count == 1, members.count == node.inputs.count, Set(members).count == members.count,
                  members.allSatisfy({ nodes[$0].opType == "Slice" && nodes[$0].domain == node.domain && !paired.contains($0) && soleReader(of: nodes[$0]) == k }),
                  Set(members.map { nodes[$0].inputs[0] }).count == 1 else { continue }
            let slices = members.map { nodes[$0] }
            let fused = Node(name: node.name, opType: "Concat", inputs: [slices[0].inputs[0]] + slices.flatMap { $0.inputs.dropFirst() },
                             outputs: node.outputs, attributes: node.attributes)
            pairs[k] = Fusion(absorbed: members, node: fused, op: ConcatOfSlices(node: fused, slices: slices, concat: node), label: "Slice+Concat")
            paired.formUnion(members + [k])
        }
        // Gathers of one tensor along one axis by constant indices: one node, one gradient tensor.
        struct Source: Hashable { let data: String, axis: Int }
        var gathers: [Source: [Int]] = [:]
        for (k, node) in nodes.enumerated() where node.opType == "Gather" && (node.domain.isEmpty || node.domain == "ai.onnx") && !paired.contains(k) {
            guard node.inputs.count == 2, node.outputs.count == 1, constantShape(node.inputs[1]) != nil else { continue }
            gathers[Source(data: node.inputs[0], axis: try NodeAttributes(node: node).int("axis", default: 0)), default: []].append(k)
        }
        for group in gathers.values where group.count > 1 {
            let members = group.map { nodes[$0] }
            let node = Node(name: members[0].name, opType: "Gather", inputs: [members[0].inputs[0]] + members.map { $0.inputs[1] },
                            outputs: members.map { $0.outputs[0] }, attributes: members[0].attributes)
            pairs[group[0]] = Fusion(absorbed: Array(group.dropFirst()), node: node, op: Gather(node: node, members: members), label: "Gather×\(group.count)")
        }
        return pairs
    }
}
