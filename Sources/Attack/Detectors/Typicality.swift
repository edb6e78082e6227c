// The typicality test (Nalisnick, Matsukawa, Teh & Lakshminarayanan 2019), single-sample version.
import Foundation
import Tensor

/// Typicality (Nalisnick, Matsukawa, Teh & Lakshminarayanan, "Detecting Out-of-Distribution Inputs to Deep Generative
/// Models Using Typicality", arXiv 1906.02994, 2019): in-distribution samples lie in the typical set, whose
/// negative log-likelihood is near the training set's mean, so both too low and too high a bits/dim is suspicious.
/// fit: the mean bits/dim of the training images. OOD score = |bpd(x) − mean| (the test with batch size M = 1;
/// `batchScore` gives the paper's batch statistic |mean over a batch − mean|).
public struct TypicalityDetector: Detector {
    /// Mean bits/dim of the fit images.
    public let trainingMean: Double
    /// Standard deviation of the fit images' bits/dim (for reading scores: a score of 3·std is 3 σ off).
    public let trainingStd: Double

    /// A detector with a known training mean.
    public init(trainingMean: Double, trainingStd: Double = .nan) {
        self.trainingMean = trainingMean
        self.trainingStd = trainingStd
    }

    /// Fits the mean on the bits/dim of in-distribution images.
    public init(fitting bitsPerDim: [Double]) throws {
        guard !bitsPerDim.isEmpty, bitsPerDim.allSatisfy(\.isFinite) else {
            throw AttackError.invalidArgument("typicality is fitted on the finite bits/dim of at least one image")
        }
        let m = bitsPerDim.reduce(0, +) / Double(bitsPerDim.count)
        let v = bitsPerDim.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(1, bitsPerDim.count - 1))
        self.init(trainingMean: m, trainingStd: v.squareRoot())
    }

    /// The name tables and legends use.
    public var name: String { "typicality" }

    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] {
        try layers[0].scalars(x).map { Float(abs($0 - trainingMean)) }
    }

    /// The batch test's statistic for bits/dim of a batch: |mean − training mean|.
    public func batchScore(_ bitsPerDim: [Double]) -> Double {
        abs(bitsPerDim.reduce(0, +) / Double(max(1, bitsPerDim.count)) - trainingMean)
    }

    /// Registry entry `"typicality"`.
    public static let kind = DetectorKind(
        "typicality", layers: ["nll"], fitting: .images,
        summary: "distance of bits/dim from the training images' mean, single-sample typicality test (Nalisnick et al. 2019)") { setup in
        try TypicalityDetector(fitting: try setup.layers[0].scalars(try setup.fitImages("typicality")))
    }
}
