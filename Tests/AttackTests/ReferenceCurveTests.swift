import Foundation
import Testing
import Tensor
import Graph
@testable import Attack

// Mirage's half of the comparison with the PyTorch reference (scripts/attack/compare_reference.py, a dev script,
// not CI): the script writes a case file, runs this test with MIRAGE_REFERENCE_CASE=case.json, and compares the
// per-step losses written here with scripts/model/reference_attack.py's. Without the variable the test is skipped.
//
// case.json: {"x_in": "a.npy", "x_start": "b.npy", "norm": "L2"|"Linf", "eps": 10, "lr": 0.1, "steps": 200,
//             "out": "mirage.json"}. Zero δ₀ (the reference's uniform draws come from torch's generator).
// Output: {"loss_per_sample": [steps][B] (loss at the iterate each step started from), "final_loss_per_sample": [B]}.

@Suite struct ReferenceCurveTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MIRAGE_REFERENCE_CASE"] != nil))
    func writeLossCurveForTheReferenceComparison() throws {
        let casePath = ProcessInfo.processInfo.environment["MIRAGE_REFERENCE_CASE"]!
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: casePath))) as! [String: Any]
        func tensor(_ key: String) throws -> Tensor {
            let a = try readNPY(URL(fileURLWithPath: spec[key] as! String))
            return Tensor(shape: a.shape, data: a.floats)
        }
        let number = { (key: String) in (spec[key] as! NSNumber).doubleValue }
        let configuration = AttackConfiguration(norm: try Norm(parsing: spec["norm"] as! String), epsilon: number("eps"),
                                                iterations: Int(number("steps")), learningRate: number("lr"), initialization: .zero)
        let model = try Model(path: MNISTVerification.modelPath)
        let attack = try OODAttack(encoder: try model.encoder(outputs: ["features"]), xIn: try tensor("x_in"),
                                   xOut: try tensor("x_start"), configuration: configuration)
        try attack.run()
        let out: [String: Any] = ["loss_per_sample": attack.lossHistory.map { $0.map(Double.init) },
                                  "final_loss_per_sample": try attack.currentLoss().map(Double.init),
                                  "steps": attack.stepCount]
        try JSONSerialization.data(withJSONObject: out).write(to: URL(fileURLWithPath: spec["out"] as! String))
        #expect(attack.stepCount == configuration.iterations)
    }
}
