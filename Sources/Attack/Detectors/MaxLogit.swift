// Maximum logit (Hendrycks et al. 2022).
import Foundation
import Tensor

/// Maximum logit (Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World Settings", ICML 2022).
/// OOD score = −max_c logit_c.
public struct MaxLogitDetector: Sendable {
    /// The detector; it has no settings.
    public init() {}
    /// OOD scores of logits [N, C], one per row.
    public func score(logits: Tensor) throws -> [Float] {
        try rows(logits, what: "logits").map { Float(-($0.max() ?? 0)) }
    }
}

extension MaxLogitDetector: Detector {
    /// The name tables and legends use.
    public var name: String { "MaxLogit" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] { try score(logits: try layers[0].output(x)) }

    /// Registry entry `"maxlogit"`.
    public static let kind = DetectorKind(
        "maxlogit", layers: ["logits"], summary: "the largest logit, negated (Hendrycks et al. 2022)") { _ in MaxLogitDetector() }
}
