import Foundation
import Testing
import Tensor
@testable import Attack

/// Samples of N(mean, diag(std²)) rotated by a fixed orthogonal-ish mixing, as rows [n, d].
func gaussianRows(_ n: Int, mean: [Float], std: Float, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    let noise = Tensor.normal([n, mean.count], std: std, using: &g).data
    return (0..<(n * mean.count)).map { mean[$0 % mean.count] + noise[$0] }
}

@Suite struct LogitDetectorTests {
    @Test func maxSoftmaxMaxLogitEnergy() throws {
        let logits = Tensor(shape: [2, 3], data: [10, 0, 0, 1, 1, 1])
        let msp = try MaxSoftmaxDetector().score(logits: logits)
        #expect(abs(msp[1] - (-1.0 / 3)) < 1e-7)
        #expect(abs(Double(msp[0]) + 1 / (1 + 2 * exp(-10))) < 1e-7)
        #expect(msp[1] > msp[0])  // the uniform prediction is more OOD
        #expect(try MaxLogitDetector().score(logits: logits) == [-10, -1])
        let e = try EnergyDetector().score(logits: logits)
        #expect(abs(Double(e[1]) - -(1 + log(3.0))) < 1e-6)
        #expect(abs(Double(e[0]) - -(10 + log(1 + 2 * exp(-10)))) < 1e-6)
        let e2 = try EnergyDetector(temperature: 2).score(logits: Tensor(shape: [1, 2], data: [0, 0]))
        #expect(abs(Double(e2[0]) + 2 * log(2.0)) < 1e-6)
        #expect(throws: AttackError.self) { try EnergyDetector().score(logits: Tensor.zeros([3])) }
    }

    @Test func odinPreprocessingFollowsTheGradientSign() throws {
        let enc = LinearEncoder(w: randomMatrix(3, 10, seed: 51), m: 3, n: 10)
        let x = randomUniform([2, 10], seed: 52)
        let odin = ODINDetector(temperature: 10, epsilon: 0.01)
        let xt = try odin.preprocess(encoder: enc, x: x, logits: "features")
        let z = try enc.forward(x)[0]
        for s in 0..<2 {
            let row = (0..<3).map { Double(z.data[s * 3 + $0]) / 10 }
            let p = softmaxRow(row)
            let yhat = p.firstIndex(of: p.max()!)!
            for j in 0..<10 {
                // ∂(−log S_ŷ)/∂x_j = Σ_i (p_i − 1[i = ŷ]) W_ij / T; x̃ = x − ε·sign(that).
                var g = 0.0
                for i in 0..<3 { g += (p[i] - (i == yhat ? 1 : 0)) * Double(enc.w[i * 10 + j]) / 10 }
                #expect(xt.data[s * 10 + j] == x.data[s * 10 + j] - (g > 0 ? 0.01 : -0.01))
            }
        }
        // The perturbation raises the temperature-scaled max softmax, i.e. lowers the OOD score.
        let plain = try odin.score(logits: z)
        let full = try odin.score(encoder: enc, x: x, logits: "features")
        for s in 0..<2 { #expect(full[s] < plain[s]) }
    }
}

@Suite struct FeatureDetectorTests {
    @Test func mahalanobisOnGaussianClasses() throws {
        // Two classes in 3-D with a shared diagonal covariance diag(1, 4, 0.25).
        let n = 4000
        var g = SeededGenerator(seed: 61)
        var feats: [Float] = [], labels: [Int] = []
        let means: [[Float]] = [[0, 0, 0], [6, 0, 0]], stds: [Float] = [1, 2, 0.5]
        for i in 0..<n {
            let c = i % 2
            let z = Tensor.normal([3], using: &g).data
            feats += (0..<3).map { means[c][$0] + stds[$0] * z[$0] }
            labels.append(c)
        }
        var det = MahalanobisDetector()
        try det.fit(features: Tensor(shape: [n, 3], data: feats), labels: labels)
        #expect(det.classes == [0, 1])
        for c in 0..<2 { for k in 0..<3 { #expect(abs(det.means[c][k] - Double(means[c][k])) < 0.1) } }
        let expectedCov: [Double] = [1, 0, 0, 0, 4, 0, 0, 0, 0.25]
        for k in 0..<9 { #expect(abs(det.covariance[k] - expectedCov[k]) < 0.15 * max(expectedCov[k], 1)) }
        // Distance of a query with a known answer under the fitted covariance: (x − μ)ᵀ Σ̂⁻¹ (x − μ) ≈ 1/1 + 4/4 + 0.25/0.25.
        let q = Tensor(shape: [2, 3], data: [1, 2, 0.5, 3, 0, 0])
        let dist = try det.distances(features: q)
        #expect(abs(dist[0][0] - 3) < 0.25)
        #expect(abs(dist[1][0] - 9) < 0.6 && abs(dist[1][1] - 9) < 0.6)
        let s = try det.score(features: q)
        #expect(s[0] == Float(dist[0].min()!))
        // In-distribution samples vs far-away OOD: near-perfect AUROC.
        let idScores = try det.score(features: Tensor(shape: [200, 3], data: gaussianRows(200, mean: [0, 0, 0], std: 0.5, seed: 62)))
        let oodScores = try det.score(features: Tensor(shape: [200, 3], data: gaussianRows(200, mean: [3, 0, 3], std: 0.5, seed: 63)))
        #expect(try DetectionMetrics(inDistribution: idScores, outOfDistribution: oodScores).auroc > 0.99)
    }

    @Test func mahalanobisRidgeHandlesASingularCovariance() throws {
        // Features on a 2-D plane in 3-D: the covariance is singular; the ridge makes Cholesky succeed.
        var g = SeededGenerator(seed: 64)
        let z = Tensor.normal([100, 2], using: &g).data
        var feats: [Float] = []
        for i in 0..<100 { feats += [z[2 * i], z[2 * i + 1], z[2 * i] + z[2 * i + 1]] }
        var det = MahalanobisDetector()
        try det.fit(features: Tensor(shape: [100, 3], data: feats), labels: [Int](repeating: 0, count: 100))
        #expect(det.ridge > 0)
        let mu = det.means[0].map { Float($0) }
        let s = try det.score(features: Tensor(shape: [2, 3], data: mu + [mu[0], mu[1], mu[2] + 1]))
        #expect(s[0] < 1e-6 && s[1] > 1000)  // the mean is at distance 0; off the plane is extremely far
    }

    @Test func knnDistanceToKthNeighbour() throws {
        var det = KNNDetector(k: 2)
        try det.fit(features: Tensor(shape: [3, 2], data: [2, 0, 0, 3, -1, 0]))
        // Query (1, 1)/√2 on the unit circle: distances to (1,0), (0,1) are √(2 − √2); to (−1,0) √(2 + √2).
        let s = try det.score(features: Tensor(shape: [2, 2], data: [5, 5, 1, 0]))
        #expect(abs(Double(s[0]) - (2 - 2.0.squareRoot()).squareRoot()) < 1e-6)
        // Query (1, 0): nearest is itself (0), the 2nd is (0, 1) at √2.
        #expect(abs(Double(s[1]) - 2.0.squareRoot()) < 1e-6)
        #expect(throws: AttackError.self) { var d = KNNDetector(k: 5); try d.fit(features: Tensor.zeros([3, 2])) }
        // Clusters: ID directions score lower than an unseen direction.
        var knn = KNNDetector(k: 5)
        try knn.fit(features: Tensor(shape: [300, 3], data: gaussianRows(300, mean: [5, 0, 0], std: 0.5, seed: 65)))
        let id = try knn.score(features: Tensor(shape: [50, 3], data: gaussianRows(50, mean: [5, 0, 0], std: 0.5, seed: 66)))
        let ood = try knn.score(features: Tensor(shape: [50, 3], data: gaussianRows(50, mean: [0, 5, 0], std: 0.5, seed: 67)))
        #expect(try DetectionMetrics(inDistribution: id, outOfDistribution: ood).auroc == 1)
    }

    @Test func vimFindsTheResidualSpace() throws {
        // Features z = o + A·u + small noise with u ∈ ℝ² (a 2-D principal subspace of ℝ⁶); logits = W z + b.
        let d = 6, c = 3, n = 500
        let w = randomMatrix(c, d, seed: 71)
        let bias: [Float] = [0.5, -0.2, 0.1]
        var g = SeededGenerator(seed: 72)
        let u = Tensor.normal([n, 2], std: 3, using: &g).data
        let noise = Tensor.normal([n, d], std: 0.01, using: &g).data
        let basis: [[Float]] = [[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]]
        var det = ViMDetector(principalDimension: 2)
        // o = −pinv(W) b: compute it as the detector will and build training features around it.
        try det.fit(features: Tensor(shape: [n, d], data: randomMatrix(n, d, seed: 73)), weight: Tensor(shape: [c, d], data: w),
                    bias: Tensor(shape: [c], data: bias))
        let o = det.origin
        // W·o + b = 0 (o lies on the zero-logit set since C < D, minimum norm).
        for i in 0..<c {
            let r = (0..<d).reduce(Double(bias[i])) { $0 + Double(w[i * d + $1]) * o[$1] }
            #expect(abs(r) < 1e-6)
        }
        var feats: [Float] = []
        for i in 0..<n { for k in 0..<d {
            feats.append(Float(o[k]) + u[2 * i] * basis[0][k] + u[2 * i + 1] * basis[1][k] + noise[i * d + k])
        } }
        try det.fit(features: Tensor(shape: [n, d], data: feats), weight: Tensor(shape: [c, d], data: w), bias: Tensor(shape: [c], data: bias))
        // The principal subspace is span(e1, e2).
        for p in det.principal { #expect(abs(p[0] * p[0] + p[1] * p[1] - 1) < 1e-3) }
        // α = mean max logit / mean residual norm over the training set.
        let logitsOf = { (row: ArraySlice<Float>) -> [Double] in
            (0..<c).map { i in zip(w[(i * d)..<((i + 1) * d)], row).reduce(Double(bias[i])) { $0 + Double($1.0) * Double($1.1) } }
        }
        var sumMax = 0.0
        for i in 0..<n { sumMax += logitsOf(feats[(i * d)..<((i + 1) * d)]).max()! }
        let v = try det.virtualLogits(features: Tensor(shape: [n, d], data: feats))
        #expect(abs(v.reduce(0, +) / Double(n) - sumMax / Double(n)) < 1e-6 * max(1, abs(sumMax / Double(n))))
        // A point off the subspace gets a higher OOD score than one on it with the same logits' scale.
        let onPlane = (0..<d).map { Float(o[$0]) + ($0 == 0 ? 2 : 0) }
        let offPlane = (0..<d).map { Float(o[$0]) + ($0 == 0 ? 2 : 0) + ($0 == 4 ? 2 : 0) }
        let s = try det.score(features: Tensor(shape: [2, d], data: onPlane + offPlane))
        let vs = try det.virtualLogits(features: Tensor(shape: [2, d], data: onPlane + offPlane))
        #expect(vs[0] < 0.1 * vs[1])
        #expect(abs(vs[1] - det.alpha * 2) < 1e-3 * det.alpha * 2)
        // score = v − logsumexp(logits).
        let l1 = logitsOf(offPlane[0...])
        #expect(abs(Double(s[1]) - (vs[1] - logSumExpRow(l1))) < 1e-4)
    }
}

@Suite struct LinearAlgebraTests {
    @Test func choleskyAndSolves() throws {
        let a: [Double] = [4, 2, 2, 3]
        let l = LinearAlgebra.cholesky(a, n: 2)!
        #expect(l == [2, 0, 1, 2.0.squareRoot()])
        let y = LinearAlgebra.solveLower(l, n: 2, [2, 1])
        let x = LinearAlgebra.solveUpperTransposed(l, n: 2, y)  // A x = (2, 1) → x = (0.5, 0)
        #expect(abs(x[0] - 0.5) < 1e-15 && abs(x[1]) < 1e-15)
        #expect(LinearAlgebra.cholesky([1, 2, 2, 1], n: 2) == nil)
    }

    @Test func jacobiEigenvalues() {
        // [[2, 1, 0], [1, 2, 0], [0, 0, 5]] has eigenvalues 5, 3, 1.
        let (values, vectors) = LinearAlgebra.symmetricEigen([2, 1, 0, 1, 2, 0, 0, 0, 5], n: 3)
        #expect(abs(values[0] - 5) < 1e-12 && abs(values[1] - 3) < 1e-12 && abs(values[2] - 1) < 1e-12)
        // Second eigenvector ∝ (1, 1, 0)/√2.
        #expect(abs(abs(vectors[0 * 3 + 1]) - 0.5.squareRoot()) < 1e-12 && abs(vectors[2 * 3 + 1]) < 1e-12)
    }
}

@Suite struct JacobianSpectrumTests {
    /// W = diag(s) · Q with Q a 4 × 12 matrix of orthonormal rows (Gram–Schmidt of random rows).
    func knownSpectrumEncoder(_ s: [Double]) -> LinearEncoder {
        let n = 12
        let raw = randomMatrix(s.count, n, seed: 81).map(Double.init)
        var q: [[Double]] = []
        for i in 0..<s.count {
            var v = Array(raw[(i * n)..<((i + 1) * n)])
            for p in q { let d = zip(p, v).reduce(0) { $0 + $1.0 * $1.1 }; v = zip(v, p).map { $0 - d * $1 } }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            q.append(v.map { $0 / norm })
        }
        let w = (0..<s.count).flatMap { i in q[i].map { Float(s[i] * $0) } }
        return LinearEncoder(w: w, m: s.count, n: n)
    }

    @Test(arguments: [1, 3, 8])
    func linearEncoderHasItsSingularValues(copies: Int) throws {
        let enc = knownSpectrumEncoder([5, 3, 1, 0])
        let x = randomUniform([1, 12], seed: 82)
        let spec = try jacobianSpectrum(encoder: enc, x: x, k: 3, copies: copies)
        #expect(spec.singularValues.count == 3)
        for (got, want) in zip(spec.singularValues, [5.0, 3, 1]) { #expect(abs(got - want) < 1e-5) }
        #expect(spec.allSingularValues.count == 4 && spec.allSingularValues[3] < 1e-5)
        #expect(spec.rank == 3 && spec.inputDimension == 12 && spec.outputDimension == 4 && spec.localDimension == 9)
        // m pullbacks, `copies` rows at a time.
        #expect(enc.pullbackCount == (4 + copies - 1) / copies)
    }

    @Test func tanhEncoderMatchesTheAnalyticJacobian() throws {
        let w = randomMatrix(3, 5, seed: 83)
        let enc = TanhEncoder(w: w, m: 3, n: 5)
        let x = randomUniform([1, 5], seed: 84)
        let z = try enc.forward(x)[0].data
        // J = diag(1 − z²) W; check σ² against the Gram matrix's eigenvalues computed independently.
        var gram = [Double](repeating: 0, count: 9)
        for a in 0..<3 { for b in 0..<3 { for j in 0..<5 {
            gram[a * 3 + b] += Double((1 - z[a] * z[a]) * w[a * 5 + j]) * Double((1 - z[b] * z[b]) * w[b * 5 + j])
        } } }
        let expected = LinearAlgebra.symmetricEigen(gram, n: 3).values.map { $0.squareRoot() }
        let spec = try jacobianSpectrum(encoder: enc, x: x, k: 3)
        for (a, b) in zip(spec.singularValues, expected) { #expect(abs(a - b) < 1e-5 * max(1, b)) }
        #expect(spec.localDimension == 2)
        #expect(throws: AttackError.self) { try jacobianSpectrum(encoder: enc, x: Tensor.zeros([2, 5]), k: 1) }
    }
}
