import Foundation
import Tensor

/// Rows of a rank-2 tensor [N, D] as Double arrays.
func rows(_ t: Tensor, what: String) throws -> [[Double]] {
    guard t.rank == 2 else { throw AttackError.shapeMismatch(what: what, expected: "[N, D]", got: t.shape) }
    let d = t.shape[1]
    return (0..<t.shape[0]).map { i in t.data[(i * d)..<((i + 1) * d)].map(Double.init) }
}

func softmaxRow(_ row: [Double]) -> [Double] {
    let m = row.max() ?? 0
    let e = row.map { Foundation.exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

func logSumExpRow(_ row: [Double]) -> Double {
    guard let m = row.max(), m.isFinite else { return row.max() ?? -.infinity }
    return m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
}

/// Maximum softmax probability (Hendrycks & Gimpel, "A Baseline for Detecting Misclassified and Out-of-Distribution
/// Examples in Neural Networks", ICLR 2017). OOD score = −max_c softmax(logits)_c (higher = more OOD).
public struct MaxSoftmaxDetector: Sendable {
    public init() {}
    public func score(logits: Tensor) throws -> [Float] {
        try rows(logits, what: "logits").map { Float(-(softmaxRow($0).max() ?? 0)) }
    }
}

/// Maximum logit (Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World Settings", ICML 2022).
/// OOD score = −max_c logit_c.
public struct MaxLogitDetector: Sendable {
    public init() {}
    public func score(logits: Tensor) throws -> [Float] {
        try rows(logits, what: "logits").map { Float(-($0.max() ?? 0)) }
    }
}

/// Energy score (Liu et al., "Energy-based Out-of-distribution Detection", NeurIPS 2020).
/// E(x) = −T·logsumexp(f(x)/T). The paper uses −E as the in-distribution score; our OOD score is E itself
/// (higher energy = more OOD).
public struct EnergyDetector: Sendable {
    public var temperature: Double
    public init(temperature: Double = 1) { self.temperature = temperature }
    public func score(logits: Tensor) throws -> [Float] {
        let t = temperature
        return try rows(logits, what: "logits").map { Float(-t * logSumExpRow($0.map { $0 / t })) }
    }
}

/// ODIN (Liang, Li & Srikant, "Enhancing the Reliability of Out-of-Distribution Image Detection in Neural Networks",
/// ICLR 2018): temperature scaling and input pre-processing x̃ = x − ε·sign(−∇ₓ log S_ŷ(x; T)) with
/// S(x; T) = softmax(f(x)/T) and ŷ its arg-max; OOD score = −max S(x̃; T). Defaults T = 1000, ε = 0.0014.
/// (The original code divides the gradient by the per-channel normalisation std; with an encoder that takes
/// [0, 1] images that factor is part of the encoder.)
public struct ODINDetector: Sendable {
    public var temperature: Double
    public var epsilon: Double
    public init(temperature: Double = 1000, epsilon: Double = 0.0014) {
        self.temperature = temperature
        self.epsilon = epsilon
    }

    /// Temperature-scaled score without pre-processing: −max softmax(logits/T).
    public func score(logits: Tensor) throws -> [Float] {
        let t = temperature
        return try rows(logits, what: "logits").map { Float(-(softmaxRow($0.map { $0 / t }).max() ?? 0)) }
    }

    /// The pre-processed inputs x̃ for a batch x, using the encoder output named `logits`.
    public func preprocess(encoder: any DifferentiableEncoder, x: Tensor, logits: String) throws -> Tensor {
        let idx = try OODAttack.resolve([logits], in: encoder.outputNames)[0]
        let outs = try encoder.forward(x)
        let z = outs[idx]
        let r = try rows(z, what: "logits '\(logits)'")
        guard r.count == x.shape.first else {
            throw AttackError.encoderContract("logits have \(r.count) rows for a batch of \(x.shape.first ?? 0)")
        }
        // ∂(−log S_ŷ)/∂z = (softmax(z/T) − onehot(ŷ)) / T.
        var seeds = outs.map { Tensor.zeros($0.shape) }
        let c = z.shape[1]
        for (i, row) in r.enumerated() {
            let p = softmaxRow(row.map { $0 / temperature })
            let yhat = p.indices.max { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) } ?? 0
            for j in 0..<c { seeds[idx].data[i * c + j] = Float((p[j] - (j == yhat ? 1 : 0)) / temperature) }
        }
        let g = try encoder.pullback(seeds)
        guard g.shape == x.shape else {
            throw AttackError.encoderContract("pullback returned shape \(g.shape) for input \(x.shape)")
        }
        let e = Float(epsilon)
        var out = x
        for i in 0..<out.count {
            let s: Float = g.data[i] > 0 ? 1 : (g.data[i] < 0 ? -1 : 0)
            out.data[i] -= e * s
        }
        return out
    }

    /// Full ODIN: pre-process, forward again, temperature-scaled score.
    public func score(encoder: any DifferentiableEncoder, x: Tensor, logits: String) throws -> [Float] {
        let xt = try preprocess(encoder: encoder, x: x, logits: logits)
        let idx = try OODAttack.resolve([logits], in: encoder.outputNames)[0]
        return try score(logits: try encoder.forward(xt)[idx])
    }
}

/// Mahalanobis distance to class-conditional Gaussians with a tied covariance (Lee, Lee, Lee & Shin, "A Simple
/// Unified Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018), on one
/// feature layer, without input pre-processing or layer ensembles. fit: class means μ_c and
/// Σ = (1/N) Σ_i (z_i − μ_{y_i})(z_i − μ_{y_i})ᵀ; Σ⁻¹ applied through a Cholesky factor of Σ + λI (small ridge).
/// OOD score = min_c (z − μ_c)ᵀ Σ⁻¹ (z − μ_c) (the squared distance; the paper's confidence is its negative).
public struct MahalanobisDetector: Sendable {
    public private(set) var means: [[Double]] = []
    public private(set) var classes: [Int] = []
    public private(set) var covariance: [Double] = []
    public private(set) var ridge: Double = 0
    var factor: [Double] = []
    public var dimension: Int { means.first?.count ?? 0 }
    public var relativeRidge: Double

    public init(relativeRidge: Double = 1e-6) { self.relativeRidge = relativeRidge }

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

    public func score(features: Tensor) throws -> [Float] {
        try distances(features: features).map { Float($0.min() ?? .nan) }
    }
}

/// k-nearest-neighbour distance on L2-normalised features (Sun, Ming, Zhu & Li, "Out-of-Distribution Detection with
/// Deep Nearest Neighbors", ICML 2022). OOD score = ‖ẑ − ẑ_(k)‖₂, the distance to the k-th nearest normalised
/// training feature (the paper thresholds its negative). Brute force; the paper uses k = 50 on CIFAR-10.
public struct KNNDetector: Sendable {
    public var k: Int
    public private(set) var bank: [[Double]] = []
    public init(k: Int = 50) { self.k = k }

    static func normalised(_ r: [Double]) -> [Double] {
        let n = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return r.map { $0 / max(n, 1e-12) }
    }

    public mutating func fit(features: Tensor) throws {
        let z = try rows(features, what: "training features")
        guard k >= 1, k <= z.count else {
            throw AttackError.invalidArgument("k = \(k) needs between 1 and \(z.count) (the training set size)")
        }
        bank = z.map(Self.normalised)
    }

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

/// Virtual-logit matching (Wang, Li, Feng & Zhang, "ViM: Out-Of-Distribution with Virtual-logit Matching",
/// CVPR 2022). fit (as in the paper's code): origin o = −pinv(W)·b for the last layer logits = W z + b;
/// principal subspace P = top-`principalDimension` eigenvectors of the (uncentred) covariance of z − o over the
/// training features; virtual logit v(z) = α·‖(I − PPᵀ)(z − o)‖ with α = mean_train(max logit) / mean_train(‖residual‖).
/// The ViM in-distribution score is logsumexp(logits) − v; our OOD score is v − logsumexp(logits)
/// (monotone in the virtual class's softmax probability).
public struct ViMDetector: Sendable {
    public var principalDimension: Int
    public private(set) var origin: [Double] = []
    public private(set) var principal: [[Double]] = []
    public private(set) var alpha: Double = 0
    var weight: [[Double]] = []
    var bias: [Double] = []

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

    public func score(features: Tensor) throws -> [Float] {
        let v = try virtualLogits(features: features)
        let z = try rows(features, what: "features")
        return zip(z, v).map { Float($1 - logSumExpRow(logitsOf($0))) }
    }
}
