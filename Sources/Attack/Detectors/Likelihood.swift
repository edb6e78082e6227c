// Likelihood-based OOD detection: a flow's negative log-likelihood in bits/dim (Kingma & Dhariwal 2018; Nalisnick et al. 2019).
import Foundation
import Tensor

/// The negative log-likelihood of a generative model as OOD score: bits/dim of a scalar layer such as the bundled
/// Glow's `bpd` (Glow: Kingma & Dhariwal, NeurIPS 2018; as OOD detector and its failure: Nalisnick, Matsukawa, Teh,
/// Gorur & Lakshminarayanan, "Do Deep Generative Models Know What They Don't Know?", ICLR 2019).
/// OOD score = bits/dim (less likely = more OOD).
public struct LikelihoodDetector: Detector {
    /// The detector; it has no settings.
    public init() {}
    /// The name tables and legends use.
    public var name: String { "likelihood (bits/dim)" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] {
        try layers[0].scalars(x).map(Float.init)
    }

    /// Registry entry `"likelihood"`.
    public static let kind = DetectorKind(
        "likelihood", layers: ["nll"],
        summary: "a generative model's negative log-likelihood, e.g. a flow's bits/dim (Kingma & Dhariwal 2018; Nalisnick et al. 2019)") { _ in
        LikelihoodDetector()
    }
}
