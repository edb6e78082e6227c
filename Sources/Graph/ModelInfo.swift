import Tensor

/// What `mirage model info` prints: inputs, outputs, and every named tensor with its shape,
/// the parameters of the node that makes it, and its FLOPs, measured by running batch 1.
public struct ModelInfo: Sendable {
    public struct TensorRow: Sendable {
        public var name: String
        public var operation: String
        public var shape: [Int]
        public var parameters: Int
        public var flops: Int
    }

    public var input: ValueInfo
    public var outputs: [ValueInfo]
    public var tensors: [TensorRow]
    public var parameterCount: Int
    public var opsets: [String: Int]
    public var producer: String

    public var totalFLOPs: Int { tensors.reduce(0) { $0 + $1.flops } }
}

extension Model {
    /// Runs one zero input of batch size 1 (symbolic dimensions set to 1) to measure every tensor.
    public func info() throws -> ModelInfo {
        guard let input else { throw EngineError("the model has no input") }
        let dims = (input.shape ?? []).map { d -> Int in if case .fixed(let n) = d { return n }; return 1 }
        let outputs = graph.outputs.map(\.name).filter { producers[$0] != nil }
        let encoder = try self.encoder(outputs: outputs, fusing: false)   // a row for every node
        _ = try encoder.forward(Tensor.zeros(dims))
        let (_, flops) = encoder.lastRun()
        let rows = flops.map { node, shape, count in
            ModelInfo.TensorRow(
                name: node.outputs.first ?? node.name, operation: node.opType, shape: shape,
                parameters: parameterCount(of: node),
                flops: count)
        }
        return ModelInfo(input: input, outputs: graph.outputs, tensors: rows, parameterCount: parameterCount,
                         opsets: graph.opsets, producer: graph.producer)
    }

    /// Float initializers a node reads (and, for a Conv with BatchNormalization folded in, its folded weights).
    private func parameterCount(of node: Node) -> Int {
        node.inputs.reduce(0) { total, name in
            if let value = graph.initializers[name] { if case .floats = value.storage { return total + value.count } else { return total } }
            return foldedParameters.contains(name) ? total + (constants[name]?.shape.reduce(1, *) ?? 0) : total
        }
    }
}
