// The energy score (Liu et al. 2020).
import Foundation
import Tensor

/// Energy score (Liu et al., "Energy-based Out-of-distribution Detection", NeurIPS 2020).
/// E(x) = −T·logsumexp(f(x)/T). The paper uses −E as the in-distribution score; our OOD score is E itself
/// (higher energy = more OOD).
public struct EnergyDetector: Sendable {
    /// The temperature T.
    public var temperature: Double
    /// Energy at temperature T.
    public init(temperature: Double = 1) { self.temperature = temperature }
    /// OOD scores of logits [N, C], one per row.
    public func score(logits: Tensor) throws -> [Float] {
        let t = temperature
        return try rows(logits, what: "logits").map { Float(-t * logSumExpRow($0.map { $0 / t })) }
    }
}

extension EnergyDetector: Detector {
    /// The name tables and legends use.
    public var name: String { temperature == 1 ? "Energy" : "Energy (T=\(formatSetting(temperature)))" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] { try score(logits: try layers[0].output(x)) }

    /// Registry entry `"energy"`.
    public static let kind = DetectorKind(
        "energy", layers: ["logits"],
        options: [DetectorOption("temperature", default: 1, range: 1e-12...1e12, "the temperature T")],
        summary: "−T·logsumexp(logits/T) (Liu et al. 2020)") { setup in EnergyDetector(temperature: setup.options["temperature"]!) }
}

/// A setting as tables print it: whole numbers without a decimal point, others with up to 6 significant digits.
func formatSetting(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(format: "%.6g", x)
}
