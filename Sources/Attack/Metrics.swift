import Foundation
import Tensor

/// Attack-quality metrics of one sample.
public struct SampleAttackMetrics: Sendable, Equatable {
    /// mean_j |z_adv,j − z_in,j| / max_j |z_in,j| (the reference code's definition; the paper's text writes max in
    /// the numerator). Infinite or NaN when z_in is all zeros.
    public var mape: Double
    /// ‖z_adv − z_in‖₂.
    public var featureL2: Double
    /// 1 − cos(z_adv, z_in) (1 when either vector is zero).
    public var cosineDistance: Double
    /// ‖x_adv − x_out‖₂, the perturbation's length.
    public var deltaL2: Double
    /// ‖x_adv − x_out‖∞, the largest pixel change.
    public var deltaLinf: Double
}

/// Per-sample metrics and their batch means.
public struct AttackMetrics: Sendable, Equatable {
    /// One entry per sample of the batch, in order.
    public var samples: [SampleAttackMetrics]
    /// Mean of the samples' `mape`.
    public var meanMAPE: Double { mean(\.mape) }
    /// Mean of the samples' `featureL2`.
    public var meanFeatureL2: Double { mean(\.featureL2) }
    /// Mean of the samples' `cosineDistance`.
    public var meanCosineDistance: Double { mean(\.cosineDistance) }
    /// Mean of the samples' `deltaL2`.
    public var meanDeltaL2: Double { mean(\.deltaL2) }
    /// Mean of the samples' `deltaLinf`.
    public var meanDeltaLinf: Double { mean(\.deltaLinf) }
    /// Largest `mape` of the batch (NaN for an empty batch).
    public var maxMAPE: Double { samples.map(\.mape).max() ?? .nan }

    private func mean(_ key: KeyPath<SampleAttackMetrics, Double>) -> Double {
        samples.isEmpty ? .nan : samples.reduce(0) { $0 + $1[keyPath: key] } / Double(samples.count)
    }

    /// Metrics for features z_in ([1, …] broadcast or [B, …]) and z_adv ([B, …]), images x_out and x_adv ([B, …]).
    public static func compute(zIn: Tensor, zAdv: Tensor, xOut: Tensor, xAdv: Tensor) throws -> AttackMetrics {
        guard zAdv.rank >= 1, zAdv.shape[0] >= 1 else {
            throw AttackError.shapeMismatch(what: "z_adv", expected: "[B, …]", got: zAdv.shape)
        }
        let b = zAdv.shape[0]
        guard zIn.rank == zAdv.rank, zIn.shape.dropFirst() == zAdv.shape.dropFirst(), zIn.shape[0] == 1 || zIn.shape[0] == b else {
            throw AttackError.shapeMismatch(what: "z_in", expected: "[1 or \(b)] + \(Array(zAdv.shape.dropFirst()))", got: zIn.shape)
        }
        guard xAdv.shape == xOut.shape, xOut.rank >= 1, xOut.shape[0] == b else {
            throw AttackError.shapeMismatch(what: "x_adv", expected: "\(xOut.shape) like x_out with batch \(b)", got: xAdv.shape)
        }
        let m = zAdv.count / b
        let n = xOut.count / b
        var out: [SampleAttackMetrics] = []
        for i in 0..<b {
            let zi = zIn.shape[0] == 1 ? 0 : i * m
            var absSum = 0.0, maxAbs = 0.0, sq = 0.0, dot = 0.0, nIn = 0.0, nAdv = 0.0
            for j in 0..<m {
                let a = Double(zAdv.data[i * m + j]), t = Double(zIn.data[zi + j])
                absSum += abs(a - t)
                maxAbs = max(maxAbs, abs(t))
                sq += (a - t) * (a - t)
                dot += a * t
                nIn += t * t
                nAdv += a * a
            }
            var d2 = 0.0, dInf = 0.0
            for j in 0..<n {
                let d = Double(xAdv.data[i * n + j]) - Double(xOut.data[i * n + j])
                d2 += d * d
                dInf = max(dInf, abs(d))
            }
            let denom = (nIn * nAdv).squareRoot()
            out.append(SampleAttackMetrics(mape: (absSum / Double(m)) / maxAbs, featureL2: sq.squareRoot(),
                                           cosineDistance: denom > 0 ? 1 - dot / denom : 1,
                                           deltaL2: d2.squareRoot(), deltaLinf: dInf))
        }
        return AttackMetrics(samples: out)
    }
}

/// Arg-max class per row of logits [B, C] (first index on ties).
public func predictedClasses(_ logits: Tensor) throws -> [Int] {
    guard logits.rank == 2, logits.shape[1] >= 1 else {
        throw AttackError.shapeMismatch(what: "logits", expected: "[B, classes]", got: logits.shape)
    }
    let c = logits.shape[1]
    return (0..<logits.shape[0]).map { i in
        var best = 0
        for j in 1..<max(1, c) where logits.data[i * c + j] > logits.data[i * c + best] { best = j }
        return best
    }
}

extension OODAttack {
    /// Attack metrics at the current iterate for one selected output of a feature-matching attack (default: the first),
    /// with z_in = that output's target and x_adv = `x`.
    public func metrics(output: String? = nil) throws -> AttackMetrics {
        guard case .featureMatching(let outputs) = objective else {
            throw AttackError.invalidArgument("metrics need a feature-matching attack (this one attacks logits with cross-entropy)")
        }
        let name = output ?? outputs[0].name
        guard let k = outputs.firstIndex(where: { $0.name == name }) else {
            throw AttackError.unknownOutput(name, available: outputs.map(\.name))
        }
        let z = try currentOutputs()[k]
        return try AttackMetrics.compute(zIn: targets[k], zAdv: z, xOut: xOut, xAdv: x)
    }
}
