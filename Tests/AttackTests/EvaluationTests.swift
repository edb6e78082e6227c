import Foundation
import Testing
import Tensor
@testable import Attack

@Suite struct AttackMetricsTests {
    @Test func handComputedValues() throws {
        let zIn = Tensor(shape: [1, 3], data: [1, -2, 4])
        let zAdv = Tensor(shape: [2, 3], data: [1.5, -2, 3, 1, -2, 4])
        let xOut = Tensor(shape: [2, 2], data: [0, 0, 0.5, 0.5])
        let xAdv = Tensor(shape: [2, 2], data: [0.3, 0.4, 0.5, 0.25])
        let m = try AttackMetrics.compute(zIn: zIn, zAdv: zAdv, xOut: xOut, xAdv: xAdv)
        // MAPE = mean|Δz| / max|z_in| = ((0.5 + 0 + 1)/3) / 4.
        #expect(abs(m.samples[0].mape - 0.125) < 1e-12)
        #expect(m.samples[1].mape == 0)
        #expect(abs(m.samples[0].featureL2 - 1.25.squareRoot()) < 1e-12)
        let cos = (1.5 + 4 + 12) / ((2.25 + 4 + 9).squareRoot() * 21.0.squareRoot())
        #expect(abs(m.samples[0].cosineDistance - (1 - cos)) < 1e-7)
        #expect(abs(m.samples[1].cosineDistance) < 1e-12)
        #expect(abs(m.samples[0].deltaL2 - 0.5) < 1e-7 && abs(m.samples[0].deltaLinf - 0.4) < 1e-7)
        #expect(abs(m.samples[1].deltaL2 - 0.25) < 1e-12 && m.samples[1].deltaLinf == 0.25)
        #expect(abs(m.meanMAPE - 0.0625) < 1e-12 && m.maxMAPE == m.samples[0].mape)
        #expect(throws: AttackError.self) { try AttackMetrics.compute(zIn: Tensor.zeros([1, 4]), zAdv: zAdv, xOut: xOut, xAdv: xAdv) }
    }

    @Test func predictedClassesAreTheArgmax() throws {
        #expect(try predictedClasses(Tensor(shape: [2, 3], data: [0, 5, 1, 9, 0, 0])) == [1, 0])
        #expect(try predictedClasses(Tensor(shape: [2, 3], data: [1, 1, 2, 0, 0, 0])) == [2, 0])
        #expect(throws: AttackError.self) { try predictedClasses(Tensor.zeros([3])) }
    }
}

@Suite struct DetectionMetricsTests {
    struct Case { let name: String; let dict: [String: Any] }

    static func cases() throws -> [[String: Any]] {
        try loadJSON("detection_metrics.json")["cases"] as! [[String: Any]]
    }

    @Test func matchesScikitLearnFixture() throws {
        let cases = try Self.cases()
        #expect(cases.count == 6)
        for c in cases {
            let name = c["name"] as! String
            let sIn = doubles(c["in"]), sOut = doubles(c["out"])
            let m = try DetectionMetrics(inDistribution: sIn, outOfDistribution: sOut)
            let d = { (k: String) in (c[k] as! NSNumber).doubleValue }
            #expect(abs(m.auroc - d("auroc")) < 1e-12, "\(name) AUROC")
            #expect(abs(m.auprOut - d("aupr_out")) < 1e-12, "\(name) AUPR-Out")
            #expect(abs(m.auprIn - d("aupr_in")) < 1e-12, "\(name) AUPR-In")
            #expect(m.fprConvention == .inDistributionPositive)
            #expect(abs(m.fpr95 - d("fpr95_id_positive")) < 1e-12, "\(name) FPR95 ID")
            #expect(m.fpr95Threshold == d("fpr95_id_positive_threshold"), "\(name) threshold ID")
            let o = try DetectionMetrics(inDistribution: sIn, outOfDistribution: sOut, convention: .oodPositive)
            #expect(abs(o.fpr95 - d("fpr95_ood_positive")) < 1e-12, "\(name) FPR95 OOD")
            #expect(o.fpr95Threshold == d("fpr95_ood_positive_threshold"), "\(name) threshold OOD")
            let fpr = doubles(c["roc_fpr"]), tpr = doubles(c["roc_tpr"])
            let thr = (c["roc_thresholds"] as! [Any]).map { ($0 as? String) == "inf" ? Double.infinity : ($0 as! NSNumber).doubleValue }
            #expect(m.roc.count == fpr.count, "\(name) ROC points")
            for (k, p) in m.roc.enumerated() where k < fpr.count {
                #expect(abs(p.falsePositiveRate - fpr[k]) < 1e-12 && abs(p.truePositiveRate - tpr[k]) < 1e-12)
                // scikit-learn ≥ 1.3 puts +inf first; older versions put max + 1.
                if k > 0 { #expect(p.threshold == thr[k]) }
            }
        }
    }

    @Test func conventionsDifferAndAreLabelled() throws {
        // ID scores 0…19, OOD scores 10…49: the conventions give different numbers.
        let sIn = (0..<20).map(Double.init), sOut = (10..<50).map(Double.init)
        let a = try DetectionMetrics(inDistribution: sIn, outOfDistribution: sOut)
        let b = try DetectionMetrics(inDistribution: sIn, outOfDistribution: sOut, convention: .oodPositive)
        // ID positive: accept s ≤ 18 (19/20 ID kept); OOD accepted: 10…18 → 9/40.
        #expect(a.fpr95 == 0.225 && a.fpr95Threshold == 18)
        // OOD positive: flag s ≥ 12 (38/40 OOD detected); ID flagged: 12…19 → 8/20.
        #expect(b.fpr95 == 0.4 && b.fpr95Threshold == 12)
        #expect(a.fprConvention.label.contains("ID positive") && b.fprConvention.label.contains("OpenOOD"))
        // AUROC = P(s_out > s_in) + ½·P(tie) = (745 + 5)/800.
        #expect(abs(a.auroc - 0.9375) < 1e-12 && a.auroc == b.auroc)
        #expect(throws: AttackError.self) { try DetectionMetrics(inDistribution: [Double](), outOfDistribution: [1.0]) }
        #expect(throws: AttackError.self) { try DetectionMetrics(inDistribution: [Double.nan], outOfDistribution: [1.0]) }
    }
}
