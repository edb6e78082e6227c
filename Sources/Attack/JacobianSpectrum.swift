import Foundation
import Tensor

/// Singular values of the Jacobian J (m × n) of one encoder output with respect to the input at a point.
public struct JacobianSpectrum: Sendable, Equatable {
    /// The k largest singular values, descending.
    public var singularValues: [Double]
    /// All min(m, n) singular values, descending.
    public var allSingularValues: [Double]
    /// Number of singular values above σ_max · 1e-6 · m.
    public var rank: Int
    /// n = input size per sample, m = output size per sample.
    public var inputDimension: Int
    /// m, the output size per sample.
    public var outputDimension: Int
    /// n − rank: the dimension of the set of inputs near x with the same features (to first order).
    public var localDimension: Int
}

/// Top-k singular values of ∂f_output/∂x at x ([1, …] or the per-sample shape with a leading 1), without an n × n
/// matrix: J is built row by row with m pullbacks of one-hot seeds — `copies` rows at a time by running the encoder on
/// `copies` copies of x (use 1 for encoders that do not take batches) — then the eigenvalues of the m × m Gram matrix
/// J·Jᵀ (or n × n JᵀJ if n < m) by Jacobi iteration give σ² (Double precision).
public func jacobianSpectrum(encoder: any DifferentiableEncoder, x: Tensor, output: String? = nil, k: Int,
                             copies: Int = 1) throws -> JacobianSpectrum {
    guard x.rank >= 1, x.shape[0] == 1 else {
        throw AttackError.shapeMismatch(what: "x", expected: "[1, …] (one input)", got: x.shape)
    }
    guard k >= 1 else { throw AttackError.invalidArgument("k must be ≥ 1, got \(k)") }
    guard copies >= 1 else { throw AttackError.invalidArgument("copies must be ≥ 1, got \(copies)") }
    let name = output ?? encoder.outputNames.first ?? ""
    let idx = try OODAttack.resolve([name], in: encoder.outputNames)[0]
    let n = x.count
    var batch = x
    batch.shape[0] = copies
    batch.data = Array([[Float]](repeating: x.data, count: copies).joined())
    let outs = try encoder.forward(batch)
    guard outs.count == encoder.outputNames.count, outs[idx].rank >= 1, outs[idx].shape[0] == copies else {
        throw AttackError.encoderContract("output '\(name)' has shape \(outs.count > idx ? outs[idx].shape : []) for a batch of \(copies)")
    }
    let m = outs[idx].count / copies
    // J is stored in Float32 (m·n·4 bytes: 308 MB for 512 × 150,528); products accumulate in Double.
    var jac = [Float](repeating: 0, count: m * n)
    var row = 0
    while row < m {
        var seeds = outs.map { Tensor.zeros($0.shape) }
        let used = Swift.min(copies, m - row)
        for c in 0..<used { seeds[idx].data[c * m + row + c] = 1 }
        let g = try encoder.pullback(seeds)
        guard g.shape == batch.shape else {
            throw AttackError.encoderContract("pullback returned shape \(g.shape) for input \(batch.shape)")
        }
        for c in 0..<used {
            jac.replaceSubrange(((row + c) * n)..<((row + c + 1) * n), with: g.data[(c * n)..<((c + 1) * n)])
        }
        row += used
    }
    // Gram matrix on the smaller side.
    let s = Swift.min(m, n)
    var gram = [Double](repeating: 0, count: s * s)
    if m <= n {
        jac.withUnsafeBufferPointer { J in
            for a in 0..<m { for b in a..<m {
                var acc = 0.0
                let ra = J.baseAddress! + a * n, rb = J.baseAddress! + b * n
                for j in 0..<n { acc += Double(ra[j]) * Double(rb[j]) }
                gram[a * m + b] = acc
                gram[b * m + a] = acc
            } }
        }
    } else {
        jac.withUnsafeBufferPointer { J in
            for a in 0..<n { for b in a..<n {
                var acc = 0.0
                for i in 0..<m { acc += Double(J[i * n + a]) * Double(J[i * n + b]) }
                gram[a * n + b] = acc
                gram[b * n + a] = acc
            } }
        }
    }
    let values = LinearAlgebra.symmetricEigen(gram, n: s).values
    let sigma = values.map { Swift.max($0, 0).squareRoot() }
    let top = sigma.first ?? 0
    let rank = sigma.filter { $0 > top * 1e-6 * Double(m) }.count
    return JacobianSpectrum(singularValues: Array(sigma.prefix(k)), allSingularValues: sigma, rank: rank,
                            inputDimension: n, outputDimension: m, localDimension: n - rank)
}
