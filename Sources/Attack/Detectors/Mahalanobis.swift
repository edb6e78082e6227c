// Mahalanobis distance to class means with a tied covariance (Lee et al. 2018).
import Foundation
import Tensor

/// Mahalanobis distance to class-conditional Gaussians with a tied covariance (Lee, Lee, Lee & Shin, "A Simple
/// Unified Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018), on one
/// feature layer, without input pre-processing or layer ensembles. fit: class means μ_c and
/// Σ = (1/N) Σ_i (z_i − μ_{y_i})(z_i − μ_{y_i})ᵀ; Σ⁻¹ applied through a Cholesky factor of Σ + λI (small ridge).
/// OOD score = min_c (z − μ_c)ᵀ Σ⁻¹ (z − μ_c) (the squared distance; the paper's confidence is its negative).
public struct MahalanobisDetector: Sendable {
    /// Class means μ_c.
    public private(set) var means: [[Double]] = []
    /// The class labels seen in fitting, sorted.
    public private(set) var classes: [Int] = []
    /// The tied covariance Σ, row-major d × d.
    public private(set) var covariance: [Double] = []
    /// The ridge λ added to Σ for the Cholesky factor.
    public private(set) var ridge: Double = 0
    var factor: [Double] = []
    /// The feature dimension d.
    public var dimension: Int { means.first?.count ?? 0 }
    /// λ relative to trace(Σ)/d, before any increase.
    public var relativeRidge: Double

    /// An unfitted detector.
    public init(relativeRidge: Double = 1e-6) { self.relativeRidge = relativeRidge }

    /// Fits class means and the tied covariance on features [N, D] and their labels.
    public mutating func fit(features: Tensor, labels: [Int]) throws {
        let z = try rows(features, what: "features")
        guard z.count == labels.count, !z.isEmpty else {
            throw AttackError.invalidArgument("\(z.count) feature rows for \(labels.count) labels")
        }
        let d = z[0].count
        classes = Array(Set(labels)).sorted()
        var sums = [Int: [Double]](), counts = [Int: Int]()
        for (row, y) in zip(z, labels) {
            sums[y, default: [Double](repeating: 0, count: d)] = zip(sums[y, default: [Double](repeating: 0, count: d)], row).map(+)
            counts[y, default: 0] += 1
        }
        means = classes.map { c in sums[c]!.map { $0 / Double(counts[c]!) } }
        var cov = [Double](repeating: 0, count: d * d)
        for (row, y) in zip(z, labels) {
            let mu = means[classes.firstIndex(of: y)!]
            let diff = zip(row, mu).map(-)
            for a in 0..<d { for b in a..<d { cov[a * d + b] += diff[a] * diff[b] } }
        }
        for a in 0..<d { for b in a..<d {
            cov[a * d + b] /= Double(z.count)
            cov[b * d + a] = cov[a * d + b]
        } }
        covariance = cov
        (factor, ridge) = try LinearAlgebra.choleskyWithRidge(cov, n: d, relativeRidge: relativeRidge)
    }

    /// Squared Mahalanobis distance of each row to each class mean, [N][C]. With Σ + λI = L·Lᵀ the distance is
    /// ‖L⁻¹z − L⁻¹μ_c‖², so each row needs one triangular solve, not one per class.
    public func distances(features: Tensor) throws -> [[Double]] {
        guard !means.isEmpty else { throw AttackError.invalidArgument("Mahalanobis detector is not fitted") }
        let z = try rows(features, what: "features")
        let d = dimension
        guard z.first.map({ $0.count == d }) ?? true else {
            throw AttackError.shapeMismatch(what: "features", expected: "[N, \(d)]", got: features.shape)
        }
        let whitenedMeans = means.map { LinearAlgebra.solveLower(factor, n: d, $0) }
        return z.map { row in
            let y = LinearAlgebra.solveLower(factor, n: d, row)
            return whitenedMeans.map { m in
                var sum = 0.0
                for j in 0..<d { sum += (y[j] - m[j]) * (y[j] - m[j]) }
                return sum
            }
        }
    }

    /// OOD scores of features [N, D], one per row (the detector must be fitted).
    public func score(features: Tensor) throws -> [Float] {
        try distances(features: features).map { Float($0.min() ?? .nan) }
    }
}

extension MahalanobisDetector: Detector {
    /// The name tables and legends use.
    public var name: String { "Mahalanobis" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] { try score(features: try layers[0].output(x)) }

    /// Registry entry `"mahalanobis"`.
    public static let kind = DetectorKind(
        "mahalanobis", layers: ["features"], fitting: .imagesAndLabels,
        summary: "squared Mahalanobis distance to the nearest class mean with a tied covariance (Lee et al. 2018)") { setup in
        let features = try setup.layers[0].output(try setup.fitImages("mahalanobis"))
        let labels = setup.labels ?? []
        guard labels.count == features.shape[0] else {
            throw AttackError.invalidArgument("mahalanobis: \(labels.count) labels for \(features.shape[0]) fit images")
        }
        var d = MahalanobisDetector()
        try d.fit(features: features, labels: labels)
        return d
    }
}
