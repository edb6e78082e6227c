// Virtual-logit matching (Wang et al. 2022) and the linear head it reads from the graph.
import Foundation
import Tensor

/// Virtual-logit matching (Wang, Li, Feng & Zhang, "ViM: Out-Of-Distribution with Virtual-logit Matching",
/// CVPR 2022). fit (as in the paper's code): origin o = −pinv(W)·b for the last layer logits = W z + b;
/// principal subspace P = top-`principalDimension` eigenvectors of the (uncentred) covariance of z − o over the
/// training features; virtual logit v(z) = α·‖(I − PPᵀ)(z − o)‖ with α = mean_train(max logit) / mean_train(‖residual‖).
/// The ViM in-distribution score is logsumexp(logits) − v; our OOD score is v − logsumexp(logits)
/// (monotone in the virtual class's softmax probability).
public struct ViMDetector: Sendable {
    /// The dimension D of the principal subspace.
    public var principalDimension: Int
    /// The origin o = −pinv(W)·b.
    public private(set) var origin: [Double] = []
    /// The principal directions, D vectors of the feature size.
    public private(set) var principal: [[Double]] = []
    /// The scale α of the virtual logit.
    public private(set) var alpha: Double = 0
    var weight: [[Double]] = []
    var bias: [Double] = []

    /// An unfitted detector with a D-dimensional principal subspace.
    public init(principalDimension: Int) { self.principalDimension = principalDimension }

    /// `weight` [C, D] and `bias` [C] of the final linear layer; `features` [N, D] training features.
    public mutating func fit(features: Tensor, weight: Tensor, bias: Tensor) throws {
        let z = try rows(features, what: "training features")
        let w = try rows(weight, what: "weight")
        guard let d = z.first?.count, w.first?.count == d, bias.count == w.count else {
            throw AttackError.shapeMismatch(what: "weight", expected: "[C, D] with D the feature size and C = bias count \(bias.count)", got: weight.shape)
        }
        guard principalDimension >= 1, principalDimension < d else {
            throw AttackError.invalidArgument("ViM principal dimension must be in 1..<\(d), got \(principalDimension)")
        }
        let c = w.count
        let b = bias.data.map(Double.init)
        self.weight = w
        self.bias = b
        // o = −pinv(W) b, via the normal equations of the smaller side (with a tiny ridge for rank deficiency).
        if c <= d {
            var g = [Double](repeating: 0, count: c * c)
            for i in 0..<c { for j in 0..<c { g[i * c + j] = zip(w[i], w[j]).reduce(0) { $0 + $1.0 * $1.1 } } }
            let (l, _) = try LinearAlgebra.choleskyWithRidge(g, n: c, relativeRidge: 1e-12)
            let y = LinearAlgebra.solveUpperTransposed(l, n: c, LinearAlgebra.solveLower(l, n: c, b))
            origin = (0..<d).map { k in -(0..<c).reduce(0) { $0 + w[$1][k] * y[$1] } }
        } else {
            var g = [Double](repeating: 0, count: d * d)
            for i in 0..<d { for j in 0..<d { g[i * d + j] = (0..<c).reduce(0) { $0 + w[$1][i] * w[$1][j] } } }
            let wtb = (0..<d).map { k in (0..<c).reduce(0) { $0 + w[$1][k] * b[$1] } }
            let (l, _) = try LinearAlgebra.choleskyWithRidge(g, n: d, relativeRidge: 1e-12)
            origin = LinearAlgebra.solveUpperTransposed(l, n: d, LinearAlgebra.solveLower(l, n: d, wtb)).map { -$0 }
        }
        var cov = [Double](repeating: 0, count: d * d)
        for row in z {
            let x = zip(row, origin).map(-)
            for i in 0..<d { for j in i..<d { cov[i * d + j] += x[i] * x[j] } }
        }
        for i in 0..<d { for j in i..<d {
            cov[i * d + j] /= Double(z.count)
            cov[j * d + i] = cov[i * d + j]
        } }
        let (_, vectors) = LinearAlgebra.symmetricEigen(cov, n: d)
        principal = (0..<principalDimension).map { col in (0..<d).map { vectors[$0 * d + col] } }
        alpha = 1
        let residuals = z.map { residualNorm($0) }
        let maxLogits = z.map { logitsOf($0).max()! }
        alpha = (maxLogits.reduce(0, +) / Double(z.count)) / (residuals.reduce(0, +) / Double(z.count))
    }

    func logitsOf(_ z: [Double]) -> [Double] {
        zip(weight, bias).map { row, b in zip(row, z).reduce(b) { $0 + $1.0 * $1.1 } }
    }

    func residualNorm(_ z: [Double]) -> Double {
        var x = zip(z, origin).map(-)
        for p in principal {
            let proj = zip(p, x).reduce(0) { $0 + $1.0 * $1.1 }
            for i in 0..<x.count { x[i] -= proj * p[i] }
        }
        return x.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    /// Virtual logits α·‖residual‖ for features [N, D].
    public func virtualLogits(features: Tensor) throws -> [Double] {
        guard !principal.isEmpty else { throw AttackError.invalidArgument("ViM detector is not fitted") }
        let z = try rows(features, what: "features")
        guard z.first.map({ $0.count == origin.count }) ?? true else {
            throw AttackError.shapeMismatch(what: "features", expected: "[N, \(origin.count)]", got: features.shape)
        }
        return z.map { alpha * residualNorm($0) }
    }

    /// OOD scores of features [N, D], one per row (the detector must be fitted).
    public func score(features: Tensor) throws -> [Float] {
        let v = try virtualLogits(features: features)
        let z = try rows(features, what: "features")
        return zip(z, v).map { Float($1 - logSumExpRow(logitsOf($0))) }
    }
}

extension ViMDetector: Detector {
    /// The name tables and legends use.
    public var name: String { "ViM (D=\(principalDimension))" }
    /// Scores of a batch x [N, …] from the layers it reads: one per image, higher = more OOD.
    public func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float] { try score(features: try layers[0].output(x)) }

    /// Registry entry `"vim"`: reads the features and the logits the final linear layer computes from them.
    public static let kind = DetectorKind(
        "vim", layers: ["features", "logits"],
        options: [DetectorOption("dim", default: nil, range: 1...1_000_000, integer: true, "principal dimensions (default: half the feature size)")],
        fitting: .images, summary: "virtual-logit matching: the residual outside the features' principal subspace against the logits (Wang et al. 2022)") { setup in
        let (featureLayer, logitLayer) = (setup.layers[0], setup.layers[1])
        guard let model = logitLayer.model else { throw AttackError.invalidArgument("vim needs the model of the logits layer to read its linear head") }
        let head = try model.linearHead(features: featureLayer.name, logits: logitLayer.name)
        let features = try featureLayer.output(try setup.fitImages("vim"))
        let width = features.count / max(1, features.shape[0])
        let dim = setup.options["dim"].map { Int($0) } ?? max(1, width / 2)
        guard dim < width else { throw AttackError.invalidArgument("vim: dim must be below the feature size \(width), got \(dim)") }
        var d = ViMDetector(principalDimension: dim)
        try d.fit(features: features, weight: head.weight, bias: head.bias)
        return d
    }
}
