// The likelihood ratio against a background model (Ren et al. 2019).
import Foundation
import Tensor

/// Likelihood ratio (Ren, Liu, Fertig, Snoek, Poplin, DePristo, Dillon & Lakshminarayanan, "Likelihood Ratios for
/// Out-of-Distribution Detection", NeurIPS 2019): a background model trained on perturbed inputs captures the
/// population-level statistics (smoothness, background pixels) that dominate the likelihood; the ratio
/// LLR(x) = log p_θ(x) − log p_θ₀(x) keeps the semantic part. With both models' bits/dim, OOD score =
/// bpd(x) − bpd_background(x) = −LLR(x) / (D·ln 2) (higher = more OOD).
public struct LikelihoodRatioDetector: Detector {
    /// The detector; it has no settings.
    public init() {}
    /// The name tables and legends use.
    public var name: String { "likelihood ratio" }

    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] {
        let nll = try layers[0].scalars(x), background = try layers[1].scalars(x)
        guard nll.count == background.count else {
            throw AttackError.encoderContract("the background layer gave \(background.count) values for \(nll.count) images")
        }
        return zip(nll, background).map { Float($0 - $1) }
    }

    /// Registry entry `"likelihood_ratio"`: reads the model's bits/dim and the background model's (`background=`).
    public static let kind = DetectorKind(
        "likelihood_ratio", layers: ["nll", "background"],
        summary: "bits/dim minus a background model's bits/dim, the background trained on noised inputs (Ren et al. 2019)") { _ in
        LikelihoodRatioDetector()
    }
}
