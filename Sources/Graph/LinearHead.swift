// A model's final linear layer (a Gemm with constant weights) read back as W and b, for detectors such as ViM.
import Tensor

extension Model {
    /// The linear layer `logits = W·features + b` (a Gemm node with constant B and C, as `torch.nn.Linear` exports)
    /// as W [classes, dims] and b [classes], with Gemm's alpha, beta and transB applied.
    public func linearHead(features: String, logits: String) throws -> (weight: Tensor, bias: Tensor) {
        guard let node = graph.nodes.first(where: { $0.outputs.contains(logits) }) else {
            throw EngineError("no node of the model computes '\(logits)'")
        }
        guard node.opType == "Gemm", node.inputs.count >= 3, node.inputs[0] == features,
              let b = graph.initializers[node.inputs[1]], let c = graph.initializers[node.inputs[2]],
              case .floats(let bData) = b.storage, case .floats(let cData) = c.storage, b.shape.count == 2 else {
            throw EngineError("'\(logits)' must be a linear layer (a Gemm with constant weights) of '\(features)'; it is made by a \(node.opType) node '\(node.name)'")
        }
        let attributes = NodeAttributes(node: node)
        let alpha = try attributes.float("alpha", default: 1), beta = try attributes.float("beta", default: 1)
        guard try attributes.int("transA", default: 0) == 0 else { throw EngineError("node '\(node.name)': a Gemm with transA = 1 is not a linear head") }
        let transposed = try attributes.int("transB", default: 0) != 0
        let (classes, dims) = transposed ? (b.shape[0], b.shape[1]) : (b.shape[1], b.shape[0])
        var weight = [Float](repeating: 0, count: classes * dims)
        for i in 0..<classes {
            for j in 0..<dims { weight[i * dims + j] = alpha * (transposed ? bData[i * dims + j] : bData[j * classes + i]) }
        }
        guard cData.count == classes || cData.count == 1 else {
            throw EngineError("the bias of '\(logits)' has \(cData.count) values for \(classes) classes")
        }
        let bias = (0..<classes).map { beta * cData[cData.count == 1 ? 0 : $0] }
        return (Tensor(shape: [classes, dims], data: weight), Tensor(shape: [classes], data: bias))
    }
}
