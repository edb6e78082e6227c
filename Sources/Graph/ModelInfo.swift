import Tensor

/// What `mirage model info` prints: inputs, outputs, and every named tensor with its shape,
/// the parameters of the node that makes it, and its FLOPs, measured by running batch 1.
public struct ModelInfo: Sendable {
    /// One named tensor of the graph, as measured at batch 1.
    public struct TensorRow: Sendable {
        /// The tensor's name in the graph.
        public var name: String
        /// The operator (ONNX op type) of the node that makes it.
        public var operation: String
        /// Its shape at batch 1.
        public var shape: [Int]
        /// Parameters (initializer elements) its node reads.
        public var parameters: Int
        /// Floating-point operations its node did at batch 1 (multiply-adds count two).
        public var flops: Int
    }

    /// The graph's input.
    public var input: ValueInfo
    /// The graph's declared outputs.
    public var outputs: [ValueInfo]
    /// Every named tensor, in graph order.
    public var tensors: [TensorRow]
    /// Initializer elements of the whole model.
    public var parameterCount: Int
    /// Opset version per operator domain ("" is ai.onnx).
    public var opsets: [String: Int]
    /// The exporter that wrote the file (its name and version).
    public var producer: String

    /// FLOPs of one forward pass at batch 1.
    public var totalFLOPs: Int { tensors.reduce(0) { $0 + $1.flops } }

    /// The tensor table as text, one row per named tensor: name, operator, shape at batch 1, parameters and
    /// FLOPs (digits grouped by commas), under a header; the name column is as wide as the longest name, so
    /// long layer names stay whole. What `mirage model info` prints and a model shows in a notebook as plain text.
    public func table() -> String {
        let width = max(12, tensors.map(\.name.count).max() ?? 0)
        let opWidth = max(18, tensors.map(\.operation.count).max() ?? 0)
        func row(_ name: String, _ op: String, _ shape: String, _ params: String, _ flops: String) -> String {
            name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + op.padding(toLength: opWidth, withPad: " ", startingAt: 0)
                + "  " + shape.padding(toLength: 20, withPad: " ", startingAt: 0) + "  " + params.leftPadded(9) + "  " + flops.leftPadded(12)
        }
        var lines = [row("tensor", "op", "shape", "params", "FLOPs")]
        for t in tensors { lines.append(row(t.name, t.operation, "\(t.shape)", Self.grouped(t.parameters), Self.grouped(t.flops))) }
        return lines.joined(separator: "\n")
    }

    /// `n` with its digits in groups of three: 1234567 → "1,234,567".
    public static func grouped(_ n: Int) -> String {
        let digits = Array(String(n.magnitude))
        var out = n < 0 ? "-" : ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
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
