/// Pairs of nodes the executor runs as one step: a convolution and its ReLU, a sigmoid and the product that makes it SiLU, a product and its bias.
import Foundation
import Tensor

/// Two nodes that run as one step. The second reads the first's output and nothing else does, so
/// that value never needs to exist: the pair's node reads the first's inputs and writes the
/// second's outputs.
struct Fusion {
    /// The index of the second node (the first's index keys the pair).
    let second: Int
    /// The pair as one node: the first's name and attributes, the inputs it reads, the second's outputs.
    let node: Node
    /// The operator that runs both.
    let op: Operator
    /// What profiles call the step ("Conv+Relu").
    let label: String

    /// The pairs among `nodes` (in graph order), keyed by the first node's index. Values in `outputs`
    /// (asked for by the caller) are never fused away; `constantShape` gives the shape of a model
    /// constant (nil for computed values).
    static func pairs(_ nodes: [Node], keeping outputs: Set<String>, constantShape: (String) -> [Int]?) throws -> [Int: Fusion] {
        var readers: [String: [Int]] = [:]
        for (k, node) in nodes.enumerated() { for name in Set(node.inputs) where !name.isEmpty { readers[name, default: []].append(k) } }
        /// The only node reading `node`'s single output, if there is one and nobody asked for that output.
        func soleReader(of node: Node) -> Int? {
            guard node.outputs.count == 1, !outputs.contains(node.outputs[0]), let r = readers[node.outputs[0]], r.count == 1 else { return nil }
            return r[0]
        }
        var pairs: [Int: Fusion] = [:]
        for (k, node) in nodes.enumerated() where node.domain.isEmpty || node.domain == "ai.onnx" {
            guard let r = soleReader(of: node) else { continue }
            let next = nodes[r]
            switch node.opType {
            case "Conv" where next.opType == "Relu" && next.inputs == node.outputs:
                var pair = node
                pair.outputs = next.outputs
                pairs[k] = Fusion(second: r, node: pair, op: try Conv(node: node, fusedReLU: true), label: "Conv+Relu")
            case "Sigmoid" where next.opType == "Mul" && Set(next.inputs) == Set(node.inputs + node.outputs) && next.inputs.count == 2:
                // x·σ(x): oneDNN's swish, one pass forward and one backward instead of two each.
                let pair = Node(name: next.name, opType: "Sigmoid+Mul", inputs: node.inputs, outputs: next.outputs)
                pairs[k] = Fusion(second: r, node: pair, op: Unary(node: pair, { x in x / (1 + exp(-x)) }, { x, _ in
                    let s = 1 / (1 + exp(-x))
                    return s + x * s * (1 - s)
                }, oneDNN: .swish), label: "Sigmoid+Mul")
            case "MatMul" where next.opType == "Add" && next.inputs.count == 2 && next.inputs.contains(node.outputs[0]):
                // A Linear layer's bias: added by the product itself, no pass of its own.
                let bias = next.inputs[0] == node.outputs[0] ? next.inputs[1] : next.inputs[0]
                guard let shape = constantShape(bias), shape.count >= 1, shape.dropLast().allSatisfy({ $0 == 1 }) else { continue }
                let pair = Node(name: node.name, opType: "MatMul", inputs: node.inputs + [bias], outputs: next.outputs)
                pairs[k] = Fusion(second: r, node: pair, op: MatMul(node: pair, fusedBias: true), label: "MatMul+Add")
            default:
                continue
            }
        }
        return pairs
    }
}
