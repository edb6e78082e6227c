import Foundation

/// Which class is "positive" when FPR at 95% TPR is computed.
public enum FPRConvention: String, Sendable, Codable, Equatable, CaseIterable {
    /// Hendrycks & Gimpel 2017 / ODIN (Liang et al. 2018): in-distribution is positive. The threshold keeps 95% of
    /// in-distribution samples (TPR = recall of in-distribution); FPR = fraction of OOD samples accepted.
    case inDistributionPositive
    /// OpenOOD (Yang et al. 2022): OOD is positive. The threshold detects 95% of OOD samples; FPR = fraction of
    /// in-distribution samples flagged as OOD.
    case oodPositive

    /// A label for tables.
    public var label: String {
        switch self {
        case .inDistributionPositive: return "FPR@95%TPR (ID positive: OOD accepted at 95% ID recall)"
        case .oodPositive: return "FPR@95%TPR (OOD positive, OpenOOD: ID rejected at 95% OOD recall)"
        }
    }
}

/// A point of a ROC curve.
public struct ROCPoint: Sendable, Equatable {
    /// Fraction of in-distribution samples scored at or above the threshold.
    public var falsePositiveRate: Double
    /// Fraction of OOD samples scored at or above the threshold.
    public var truePositiveRate: Double
    /// Samples with score ≥ threshold are predicted positive (+∞ for the first point (0, 0)).
    public var threshold: Double
}

/// Exact, tie-aware ROC and precision–recall computations (scikit-learn's conventions: one point per distinct score,
/// average precision = Σ (R_k − R_{k−1})·P_k without interpolation).
public enum BinaryCurves {
    /// Cumulative (FP, TP) at each distinct score, descending. Scores must not be NaN.
    static func cumulative(positive: [Double], negative: [Double]) -> [(fp: Int, tp: Int, threshold: Double)] {
        var all = positive.map { ($0, true) } + negative.map { ($0, false) }
        all.sort { $0.0 > $1.0 }
        var out: [(Int, Int, Double)] = []
        var tp = 0, fp = 0
        var i = 0
        while i < all.count {
            let s = all[i].0
            while i < all.count && all[i].0 == s {
                if all[i].1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            out.append((fp, tp, s))
        }
        return out
    }

    /// ROC curve with every distinct threshold (scikit-learn's roc_curve with drop_intermediate=False), from (0, 0).
    public static func roc(positive: [Double], negative: [Double]) -> [ROCPoint] {
        let p = Double(positive.count), n = Double(negative.count)
        var pts = [ROCPoint(falsePositiveRate: 0, truePositiveRate: 0, threshold: .infinity)]
        for c in cumulative(positive: positive, negative: negative) {
            pts.append(ROCPoint(falsePositiveRate: Double(c.fp) / n, truePositiveRate: Double(c.tp) / p, threshold: c.threshold))
        }
        return pts
    }

    /// Area under the ROC curve by the trapezoid rule (ties count ½, as in the Mann–Whitney statistic).
    public static func auroc(positive: [Double], negative: [Double]) -> Double {
        let pts = roc(positive: positive, negative: negative)
        var area = 0.0
        for k in 1..<pts.count {
            area += (pts[k].falsePositiveRate - pts[k - 1].falsePositiveRate) * (pts[k].truePositiveRate + pts[k - 1].truePositiveRate) / 2
        }
        return area
    }

    /// Average precision (scikit-learn's average_precision_score).
    public static func averagePrecision(positive: [Double], negative: [Double]) -> Double {
        let p = Double(positive.count)
        var ap = 0.0, lastRecall = 0.0
        for c in cumulative(positive: positive, negative: negative) {
            let recall = Double(c.tp) / p
            let precision = Double(c.tp) / Double(c.tp + c.fp)
            ap += (recall - lastRecall) * precision
            lastRecall = recall
        }
        return ap
    }

    /// FPR at the first ROC point with TPR ≥ `tpr` (OpenOOD's `fpr[argmax(tpr >= 0.95)]`), and its threshold.
    public static func fpr(atTPR tpr: Double, positive: [Double], negative: [Double]) -> (fpr: Double, threshold: Double) {
        let pts = roc(positive: positive, negative: negative)
        let hit = pts.first { $0.truePositiveRate >= tpr } ?? pts[pts.count - 1]
        return (hit.falsePositiveRate, hit.threshold)
    }
}

/// Detection metrics for OOD scores (higher = more OOD) of in-distribution and OOD samples.
public struct DetectionMetrics: Sendable, Equatable {
    /// AUROC with OOD as positive (equal to AUROC with in-distribution positive and negated scores).
    public var auroc: Double
    /// Average precision with in-distribution positive (score −s).
    public var auprIn: Double
    /// Average precision with OOD positive (score s).
    public var auprOut: Double
    /// FPR at 95% TPR under `fprConvention`.
    public var fpr95: Double
    /// Which class counts as positive for `fpr95`.
    public var fprConvention: FPRConvention
    /// The threshold of the FPR95 point, in the OOD-score scale s (ID positive: samples with s ≤ threshold are accepted
    /// as in-distribution; OOD positive: samples with s ≥ threshold are flagged OOD).
    public var fpr95Threshold: Double
    /// ROC curve with OOD positive on the score s (every distinct threshold).
    public var roc: [ROCPoint]

    /// Computes all metrics; throws on empty sets or NaN scores.
    public init(inDistribution: [Float], outOfDistribution: [Float], convention: FPRConvention = .inDistributionPositive) throws {
        try self.init(inDistribution: inDistribution.map(Double.init), outOfDistribution: outOfDistribution.map(Double.init), convention: convention)
    }

    /// Computes all metrics from Double scores (higher = more OOD); throws on empty sets or NaN scores.
    public init(inDistribution: [Double], outOfDistribution: [Double], convention: FPRConvention = .inDistributionPositive) throws {
        guard !inDistribution.isEmpty, !outOfDistribution.isEmpty else {
            throw AttackError.invalidArgument("detection metrics need at least one in-distribution and one OOD score (got \(inDistribution.count) and \(outOfDistribution.count))")
        }
        guard !(inDistribution + outOfDistribution).contains(where: \.isNaN) else {
            throw AttackError.invalidArgument("detection scores contain NaN")
        }
        let ood = outOfDistribution, id = inDistribution
        auroc = BinaryCurves.auroc(positive: ood, negative: id)
        auprOut = BinaryCurves.averagePrecision(positive: ood, negative: id)
        auprIn = BinaryCurves.averagePrecision(positive: id.map { -$0 }, negative: ood.map { -$0 })
        roc = BinaryCurves.roc(positive: ood, negative: id)
        fprConvention = convention
        switch convention {
        case .oodPositive:
            (fpr95, fpr95Threshold) = BinaryCurves.fpr(atTPR: 0.95, positive: ood, negative: id)
        case .inDistributionPositive:
            let r = BinaryCurves.fpr(atTPR: 0.95, positive: id.map { -$0 }, negative: ood.map { -$0 })
            fpr95 = r.fpr
            fpr95Threshold = -r.threshold
        }
    }
}
