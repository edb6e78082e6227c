// k-th nearest normalised training feature (Sun et al. 2022).
import Foundation
import Tensor

/// k-nearest-neighbour distance on L2-normalised features (Sun, Ming, Zhu & Li, "Out-of-Distribution Detection with
/// Deep Nearest Neighbors", ICML 2022). OOD score = ‖ẑ − ẑ_(k)‖₂, the distance to the k-th nearest normalised
/// training feature (the paper thresholds its negative). Brute force; the paper uses k = 50 on CIFAR-10.
public struct KNNDetector: Sendable {
    /// The neighbour whose distance is the score.
    public var k: Int
    /// The normalised training features.
    public private(set) var bank: [[Double]] = []
    /// A detector scoring by the k-th neighbour.
    public init(k: Int = 50) { self.k = k }

    static func normalised(_ r: [Double]) -> [Double] {
        let n = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return r.map { $0 / max(n, 1e-12) }
    }

    /// Stores the normalised training features [N, D].
    public mutating func fit(features: Tensor) throws {
        let z = try rows(features, what: "training features")
        guard k >= 1, k <= z.count else {
            throw AttackError.invalidArgument("k = \(k) needs between 1 and \(z.count) (the training set size)")
        }
        bank = z.map(Self.normalised)
    }

    /// OOD scores of features [N, D], one per row (the detector must be fitted).
    public func score(features: Tensor) throws -> [Float] {
        guard !bank.isEmpty else { throw AttackError.invalidArgument("KNN detector is not fitted") }
        let z = try rows(features, what: "features")
        guard z.first.map({ $0.count == bank[0].count }) ?? true else {
            throw AttackError.shapeMismatch(what: "features", expected: "[N, \(bank[0].count)]", got: features.shape)
        }
        // On unit vectors ‖q − b‖² = 2 − 2 q·b: one dot product per pair, then the k-th largest similarity.
        let d = bank[0].count
        let flatBank = bank.flatMap { $0 }
        return flatBank.withUnsafeBufferPointer { b in
            z.map { row in
                let q = Self.normalised(row)
                var similarity = [Double](repeating: 0, count: bank.count)
                q.withUnsafeBufferPointer { q in
                    for i in 0..<bank.count {
                        var dot = 0.0
                        for j in 0..<d { dot += q[j] * b[i * d + j] }
                        similarity[i] = dot
                    }
                }
                similarity.sort(by: >)
                return Float(max(0, 2 - 2 * similarity[k - 1]).squareRoot())
            }
        }
    }
}

extension KNNDetector: Detector {
    /// The name tables and legends use.
    public var name: String { "KNN (k=\(k))" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] { try score(features: try layers[0].output(x)) }

    /// Registry entry `"knn"`.
    public static let kind = DetectorKind(
        "knn", layers: ["features"], options: [DetectorOption("k", default: 50, range: 1...1_000_000, integer: true, "the neighbour k")],
        fitting: .images, summary: "distance to the k-th nearest normalised training feature (Sun et al. 2022)") { setup in
        var d = KNNDetector(k: Int(setup.options["k"]!))
        try d.fit(features: try setup.layers[0].output(try setup.fitImages("knn")))
        return d
    }
}
