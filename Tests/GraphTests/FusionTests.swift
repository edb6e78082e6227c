/// Tests of the node pairs the executor fuses: SiLU (Sigmoid then Mul) and a MatMul with its bias.
import Testing
@testable import Graph
@testable import Tensor

@Suite struct FusionTests {
    /// x → MatMul(W) + b → SiLU → MatMul(W2) + b2 (the bias first, as some exporters write the Add),
    /// and a SiLU whose sigmoid another node also reads (not fused).
    static func model() throws -> Model {
        var initializers: [String: TensorValue] = [:]
        func weight(_ name: String, _ shape: [Int], _ seed: UInt64) -> String {
            initializers[name] = constant(randomTensor(shape, seed: seed, range: -0.5...0.5))
            return name
        }
        let nodes = [
            Node(name: "fc1", opType: "MatMul", inputs: ["x", weight("w1", [12, 16], 1)], outputs: ["h0"]),
            Node(name: "bias1", opType: "Add", inputs: ["h0", weight("b1", [16], 2)], outputs: ["h1"]),
            Node(name: "sigmoid", opType: "Sigmoid", inputs: ["h1"], outputs: ["s"]),
            Node(name: "silu", opType: "Mul", inputs: ["h1", "s"], outputs: ["h2"]),
            Node(name: "fc2", opType: "MatMul", inputs: ["h2", weight("w2", [16, 8], 3)], outputs: ["h3"]),
            Node(name: "bias2", opType: "Add", inputs: [weight("b2", [1, 1, 8], 4), "h3"], outputs: ["h4"]),
            Node(name: "sigmoid2", opType: "Sigmoid", inputs: ["h4"], outputs: ["t"]),
            Node(name: "silu2", opType: "Mul", inputs: ["t", "h4"], outputs: ["h5"]),
            Node(name: "gate", opType: "Add", inputs: ["h5", "t"], outputs: ["y"]),
        ]
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [.symbolic("batch"), .fixed(5), .fixed(12)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: initializers)
        return try Model(graph: graph)
    }

    @Test func fusedPairsComputeWhatTheNodesDo() throws {
        let model = try Self.model()
        let fused = try model.encoder(outputs: ["y"]), plain = try model.encoder(outputs: ["y"], fusing: false)
        #expect(fused.stepLabels == ["MatMul+Add", "Sigmoid+Mul", "MatMul+Add", "Sigmoid", "Mul", "Add"])
        #expect(plain.stepLabels.count == 9)
        let x = randomTensor([3, 5, 12], seed: 5, range: -3...3), seed = randomTensor([3, 5, 8], seed: 6)
        let (y, y0) = (try fused.forward(x)[0], try plain.forward(x)[0])
        #expect(y.shape == [3, 5, 8] && largestDifference(y, y0) <= 1e-6)
        let (g, g0) = (try fused.pullback([seed]), try plain.pullback([seed]))
        #expect(largestDifference(g, g0) <= 1e-5 * max(1, g0.data.map(abs).max() ?? 0))
    }

    @Test func aFusedBiasGetsItsGradient() throws {
        let model = try Self.model()
        let fused = try model.encoder(outputs: ["y"]), plain = try model.encoder(outputs: ["y"], fusing: false)
        let x = randomTensor([2, 5, 12], seed: 7), seed = randomTensor([2, 5, 8], seed: 8)
        var gradients: [[String: Tensor]] = []
        for encoder in [fused, plain] {
            try encoder.trackGradients(of: ["b1", "b2", "w1"])
            _ = try encoder.forward(x)
            gradients.append(try encoder.parameterGradients([seed]))
        }
        for name in ["b1", "b2", "w1"] {
            let (a, b) = (try #require(gradients[0][name]), try #require(gradients[1][name]))
            #expect(a.shape == b.shape && largestDifference(a, b) <= 1e-5, "\(name)")
        }
    }
}

private func largestDifference(_ a: Tensor, _ b: Tensor) -> Float { zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0 }
