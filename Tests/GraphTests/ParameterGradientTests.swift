import Foundation
import Testing
import Tensor
@testable import Graph

/// Gradients with respect to initializers (for training or fine-tuning) against central differences of the
/// loss with the initializer perturbed, on the bundled MNIST CNN (Conv weights and biases, Gemm weights).
@Suite struct ParameterGradientTests {
    static let names = ["conv1.weight", "conv2.bias", "fc1.weight", "fc2.bias"]

    /// Σ y² of `output` for a batch, with one initializer replaced.
    func loss(_ graph: Graph, _ x: Tensor, output: String, replacing name: String? = nil, by value: [Float]? = nil) throws -> Double {
        var g = graph
        if let name, let value, let old = g.initializers[name] {
            g.initializers[name] = TensorValue(type: .float, shape: old.shape, storage: .floats(value))
        }
        let y = try Model(graph: g).encoder(outputs: [output]).forward(x)[0]
        return y.data.reduce(0) { $0 + Double($1) * Double($1) }
    }

    @Test(arguments: ["features", "logits"])
    func parameterGradientsMatchCentralDifferences(output: String) throws {
        let model = try Model(path: "Examples/models/mnist_cnn.onnx")
        var rng = SeededGenerator(seed: 3)
        let x = Tensor(shape: [3, 1, 28, 28], data: (0..<(3 * 784)).map { _ in Float(rng.nextUniform()) })
        let encoder = try model.encoder(outputs: [output])
        let used = Self.names.filter { output == "logits" || !$0.hasPrefix("fc2") }
        try encoder.trackGradients(of: used)
        let y = try encoder.forward(x)[0]
        let gradients = try encoder.parameterGradients([y.map { 2 * $0 }])
        // The input gradient is unchanged by tracking parameters.
        let inputGradient = try encoder.pullback([y.map { 2 * $0 }])
        let plain = try model.encoder(outputs: [output])
        let yPlain = try plain.forward(x)[0]
        #expect(inputGradient.data == (try plain.pullback([yPlain.map { 2 * $0 }])).data)

        #expect(Set(gradients.keys) == Set(used))
        for name in used {
            guard case .floats(let w)? = model.graph.initializers[name]?.storage else { Issue.record("no \(name)"); continue }
            let g = try #require(gradients[name])
            #expect(g.count == w.count)
            // A random unit direction, in Double; the step is small against the weights' scale.
            let v = (0..<w.count).map { _ in rng.nextUniform() - 0.5 }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let direction = v.map { $0 / norm }
            let h = 1e-2
            let plus = try loss(model.graph, x, output: output, replacing: name, by: zip(w, direction).map { $0 + Float(h * $1) })
            let minus = try loss(model.graph, x, output: output, replacing: name, by: zip(w, direction).map { $0 - Float(h * $1) })
            let numeric = (plus - minus) / (2 * h)
            let analytic = zip(g.data, direction).reduce(0) { $0 + Double($1.0) * $1.1 }
            let scale = max(abs(numeric), 1e-3 * g.data.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot())
            #expect(abs(analytic - numeric) <= 2e-2 * scale, "\(output)/\(name): ∂/∂θ·v \(analytic) vs central difference \(numeric)")
        }
    }

    @Test func unknownOrFoldedParametersAreRefusedByName() throws {
        let encoder = try Model(path: "Examples/models/mnist_cnn.onnx").encoder(outputs: ["features"])
        #expect(throws: EngineError.self) { try encoder.trackGradients(of: ["fc2.weight"]) }
        do {
            try encoder.trackGradients(of: ["no.such.weight"])
            Issue.record("an unknown name was accepted")
        } catch let error as EngineError {
            #expect("\(error)".contains("'no.such.weight' is not a float initializer"))
        }
        #expect(throws: EngineError.self) { try encoder.parameterGradients([Tensor.zeros([1, 128])]) }
    }
}
