// The input-complexity-corrected likelihood (Serrà et al. 2020) with PNG as the lossless compressor.
import Foundation
import Imaging
import Tensor

/// Input complexity (Serrà, Álvarez, Gómez, Slizovskaia, Núñez & Luque, "Input Complexity and Out-of-Distribution
/// Detection with Likelihood-based Generative Models", ICLR 2020): simple images get high likelihoods, so the
/// likelihood is corrected by the image's code length L(x) under a generic lossless compressor. OOD score
/// S(x) = bpd(x) − L(x), with L(x) = 8·|PNG(x)| / D the PNG file's length in bits per dimension (x rounded to 8 bits,
/// zlib level 9, `PNG.codeLength`). The compressor is not differentiable: an attack on the likelihood leaves L(x)
/// free to move.
public struct ComplexityDetector: Detector {
    /// The detector; it has no settings.
    public init() {}
    /// The name tables and legends use.
    public var name: String { "complexity (PNG)" }

    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] {
        let nll = try layers[0].scalars(x)
        let lengths = try Self.codeLengths(x)
        return zip(nll, lengths).map { Float($0 - $1) }
    }

    /// L(x) in bits/dim for each image of a batch [N, C, H, W] (C = 1 or 3) or [N, H, W].
    public static func codeLengths(_ x: Tensor) throws -> [Double] {
        guard x.rank == 3 || x.rank == 4, x.shape[0] > 0 else {
            throw AttackError.shapeMismatch(what: "complexity: images", expected: "[N, C, H, W] or [N, H, W]", got: x.shape)
        }
        let n = x.shape[0], d = x.count / n
        return try (0..<n).map { i in
            let picture = x.slice(i)
            do {
                return Double(8 * (try PNG.codeLength(picture))) / Double(d)
            } catch let error as ImagingError {
                throw AttackError.invalidArgument("complexity: cannot compress image \(i) of shape \(picture.shape): \(error.message)")
            }
        }
    }

    /// Registry entry `"complexity"`.
    public static let kind = DetectorKind(
        "complexity", layers: ["nll"],
        summary: "bits/dim minus the image's PNG code length in bits/dim (Serrà et al. 2020)") { _ in ComplexityDetector() }
}
