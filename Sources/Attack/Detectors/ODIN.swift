// ODIN: temperature scaling and input pre-processing (Liang et al. 2018).
import Foundation
import Tensor

/// ODIN (Liang, Li & Srikant, "Enhancing the Reliability of Out-of-Distribution Image Detection in Neural Networks",
/// ICLR 2018): temperature scaling and input pre-processing x̃ = x − ε·sign(−∇ₓ log S_ŷ(x; T)) with
/// S(x; T) = softmax(f(x)/T) and ŷ its arg-max; OOD score = −max S(x̃; T). Defaults T = 1000, ε = 0.0014.
/// (The original code divides the gradient by the per-channel normalisation std; with an encoder that takes
/// [0, 1] images that factor is part of the encoder.)
public struct ODINDetector: Sendable {
    /// The temperature T.
    public var temperature: Double
    /// The pre-processing step ε.
    public var epsilon: Double
    /// ODIN with temperature T and step ε.
    public init(temperature: Double = 1000, epsilon: Double = 0.0014) {
        self.temperature = temperature
        self.epsilon = epsilon
    }

    /// Temperature-scaled score without pre-processing: −max softmax(logits/T).
    public func score(logits: Tensor) throws -> [Float] {
        let t = temperature
        return try rows(logits, what: "logits").map { Float(-(softmaxRow($0.map { $0 / t }).max() ?? 0)) }
    }

    /// The pre-processed inputs x̃ for a batch x, using the encoder output named `logits`.
    public func preprocess(encoder: any DifferentiableEncoder, x: Tensor, logits: String) throws -> Tensor {
        let idx = try OODAttack.resolve([logits], in: encoder.outputNames)[0]
        let outs = try encoder.forward(x)
        let z = outs[idx]
        let r = try rows(z, what: "logits '\(logits)'")
        guard r.count == x.shape.first else {
            throw AttackError.encoderContract("logits have \(r.count) rows for a batch of \(x.shape.first ?? 0)")
        }
        // ∂(−log S_ŷ)/∂z = (softmax(z/T) − onehot(ŷ)) / T.
        var seeds = outs.map { Tensor.zeros($0.shape) }
        let c = z.shape[1]
        for (i, row) in r.enumerated() {
            let p = softmaxRow(row.map { $0 / temperature })
            let yhat = p.indices.max { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) } ?? 0
            for j in 0..<c { seeds[idx].data[i * c + j] = Float((p[j] - (j == yhat ? 1 : 0)) / temperature) }
        }
        let g = try encoder.pullback(seeds)
        guard g.shape == x.shape else {
            throw AttackError.encoderContract("pullback returned shape \(g.shape) for input \(x.shape)")
        }
        let e = Float(epsilon)
        var out = x
        for i in 0..<out.count {
            let s: Float = g.data[i] > 0 ? 1 : (g.data[i] < 0 ? -1 : 0)
            out.data[i] -= e * s
        }
        return out
    }

    /// Full ODIN: pre-process, forward again, temperature-scaled score.
    public func score(encoder: any DifferentiableEncoder, x: Tensor, logits: String) throws -> [Float] {
        let xt = try preprocess(encoder: encoder, x: x, logits: logits)
        let idx = try OODAttack.resolve([logits], in: encoder.outputNames)[0]
        return try score(logits: try encoder.forward(xt)[idx])
    }
}

extension ODINDetector: Detector {
    /// The name tables and legends use.
    public var name: String { "ODIN (T=\(formatSetting(temperature)), ε=\(formatSetting(epsilon)))" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] {
        try score(encoder: layers[0].encoder, x: x, logits: layers[0].encoder.outputNames[0])
    }

    /// Registry entry `"odin"`.
    public static let kind = DetectorKind(
        "odin", layers: ["logits"],
        options: [DetectorOption("temperature", default: 1000, range: 1e-12...1e12, "the temperature T"),
                  DetectorOption("eps", default: 0.0014, range: 0...1e12, "the input pre-processing step ε")],
        summary: "temperature scaling and input pre-processing along the gradient (Liang et al. 2018)") { setup in
        ODINDetector(temperature: setup.options["temperature"]!, epsilon: setup.options["eps"]!)
    }
}
