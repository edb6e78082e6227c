// Maximum softmax probability (Hendrycks & Gimpel 2017).
import Foundation
import Tensor

/// Maximum softmax probability (Hendrycks & Gimpel, "A Baseline for Detecting Misclassified and Out-of-Distribution
/// Examples in Neural Networks", ICLR 2017). OOD score = −max_c softmax(logits)_c (higher = more OOD).
public struct MaxSoftmaxDetector: Sendable {
    /// The detector; it has no settings.
    public init() {}
    /// OOD scores of logits [N, C], one per row.
    public func score(logits: Tensor) throws -> [Float] {
        try rows(logits, what: "logits").map { Float(-(softmaxRow($0).max() ?? 0)) }
    }
}

extension MaxSoftmaxDetector: Detector {
    /// The name tables and legends use.
    public var name: String { "MSP" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] { try score(logits: try layers[0].output(x)) }

    /// Registry entry `"msp"`.
    public static let kind = DetectorKind(
        "msp", layers: ["logits"],
        summary: "max softmax probability of a logits layer, negated (Hendrycks & Gimpel 2017)") { _ in MaxSoftmaxDetector() }
}
