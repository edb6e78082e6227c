/// The ONNX target: model bytes through import, preparation and one forward at a tiny input.
import Graph
import Tensor

enum ONNXFuzz {
    /// The largest input the forward runs at; bigger declared inputs are shrunk, then skipped.
    static let maximumInputElements = 1 << 14

    static let target = FuzzTarget("onnx", "ONNX model bytes through ONNXImport, Model preparation (constant folding) and one forward") { bytes in
        guard let graph = try? ONNXImport.load(bytes: bytes, directory: nil),
              let model = try? Model(graph: graph) else { return }
        _ = model.tensorNames
        let names = graph.outputs.map(\.name)
        guard let input = model.input, !names.isEmpty, let encoder = try? model.encoder(outputs: names) else { return }
        let shape = (input.shape ?? [.fixed(1)]).map { dimension -> Int in
            if case .fixed(let n) = dimension { return n }
            return 1
        }
        guard shape.allSatisfy({ $0 > 0 && $0 <= maximumInputElements }) else { return }
        let (count, overflow) = shape.reduce((1, false)) { acc, n in
            let (p, o) = acc.0.multipliedReportingOverflow(by: n)
            return (p, acc.1 || o)
        }
        guard !overflow, count <= maximumInputElements else { return }
        let x = Tensor(shape: shape, data: (0..<count).map { Float($0 % 7) / 7 })
        guard let outputs = try? encoder.forward(x) else { return }
        // The backward pass the attack runs, seeded with ones.
        _ = try? encoder.pullback(outputs.map { Tensor.ones($0.shape) })
    }
}
