import Foundation
import Testing
import Tensor
@testable import Attack

func fixtureURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/attack/fixtures/\(name)")
}

func loadJSON(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: fixtureURL(name))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

func floats(_ any: Any?) -> [Float] { (any as! [Any]).map { Float(($0 as! NSNumber).doubleValue) } }
func doubles(_ any: Any?) -> [Double] { (any as! [Any]).map { ($0 as! NSNumber).doubleValue } }

@Suite struct ProjectionAndNormalisation {
    @Test func l2ProjectionRescalesOnlySamplesOutsideTheBall() {
        let d = Tensor(shape: [2, 2], data: [3, 4, 0.3, 0.4])
        let p = PerSample.project(d, norm: .l2, epsilon: 2.5)
        #expect(p.data[0] == 1.5 && p.data[1] == 2)
        #expect(p.data[2] == 0.3 && p.data[3] == 0.4)  // ‖·‖ = 0.5 ≤ 2.5: untouched
        #expect(abs(PerSample.l2Norms(p)[0] - 2.5) < 1e-6)
    }

    @Test func linfProjectionClamps() {
        let d = Tensor(shape: [1, 4], data: [-3, 0.05, 0.2, -0.1])
        #expect(PerSample.project(d, norm: .linf, epsilon: 0.1).data == [-0.1, 0.05, 0.1, -0.1])
    }

    @Test func normalisationIsPerSample() {
        let g = Tensor(shape: [3, 2], data: [3, 4, 0, 0, -6, 8])
        let n = PerSample.normalize(g, norm: .l2)
        let expected: [Float] = [0.6, 0.8, 0, 0, -0.6, 0.8]
        for (a, b) in zip(n.data, expected) { #expect(abs(a - b) < 1e-7) }
        #expect(PerSample.normalize(g, norm: .linf).data == [1, 1, 0, 0, -1, 1])
        // The floor: a tiny gradient is divided by 1e-12, not by its own norm.
        let tiny = PerSample.normalize(Tensor(shape: [1, 1], data: [1e-14]), norm: .l2, floor: 1e-12)
        #expect(abs(tiny.data[0] - 0.01) < 1e-6)
    }

    @Test func clampKeepsInputsInRangeAndReturnsEffectiveDelta() {
        let (x, d) = PerSample.applyClamped(base: Tensor(shape: [1, 3], data: [0.9, 0.1, 0.5]),
                                            delta: Tensor(shape: [1, 3], data: [0.5, -0.5, 0.25]))
        #expect(x.data == [1, 0, 0.75])
        #expect(abs(d.data[0] - 0.1) < 1e-7 && abs(d.data[1] + 0.1) < 1e-7 && d.data[2] == 0.25)
    }

    @Test func normParsing() throws {
        #expect(try Norm(parsing: "L2") == .l2)
        #expect(try Norm(parsing: "inf") == .linf)
        #expect(try Norm(parsing: "L∞") == .linf)
        #expect(throws: AttackError.unknownNorm("L3")) { try Norm(parsing: "L3") }
        #expect(AttackError.unknownNorm("L3").description.contains("unknown norm 'L3'"))
    }
}

@Suite struct OptimizerTests {
    @Test func adamaxFirstStepByHand() {
        // t = 1: exp_avg = 0.1·g, exp_inf = |g| + 1e-8, clr = lr/(1 − 0.9) = 10·lr, so δ −= lr·g/(|g| + 1e-8).
        var s = OptimizerState(settings: OptimizerSettings(kind: .adamax), count: 3)
        var p: [Float] = [0.1, 0.2, 0.3]
        s.update(&p, grad: [0.5, -2, 0], lr: 0.1)
        #expect(p == [0.0, 0.3, 0.3])
        #expect(s.firstMoment == [0.05, -0.2, 0])
        #expect(s.secondMoment == [0.5, 2, 1e-8])
        // t = 2 with g = (0.25, 1, −3): exp_avg = 0.9·m + 0.1·g = (0.07, −0.08, −0.3);
        // exp_inf = max(0.999·u, |g| + 1e-8) = (0.4995, 1.998, 3); clr = 0.1/0.19.
        s.update(&p, grad: [0.25, 1, -3], lr: 0.1)
        let clr = 0.1 / 0.19
        #expect(abs(Double(p[0]) - (0.0 - clr * 0.07 / 0.4995)) < 1e-7)
        #expect(abs(Double(p[1]) - (0.3 + clr * 0.08 / 1.998)) < 1e-7)
        #expect(abs(Double(p[2]) - (0.3 + clr * 0.3 / 3)) < 1e-7)
        #expect(s.step == 2)
    }

    @Test(arguments: ["adamax", "adam"])
    func matchesPyTorchReplayFixture(kind: String) throws {
        let fx = try loadJSON("adamax.json")[kind] as! [String: Any]
        var s = OptimizerState(settings: OptimizerSettings(kind: OptimizerKind(rawValue: kind)!), count: 4)
        var p = floats(fx["start"])
        let lr = (fx["lr"] as! NSNumber).doubleValue
        let grads = (fx["grads"] as! [Any]).map { floats($0) }
        let steps = fx["steps"] as! [[String: Any]]
        for (g, expected) in zip(grads, steps) {
            s.update(&p, grad: g, lr: lr)
            #expect(p == floats(expected["param"]), "step \(s.step)")
            if kind == "adamax" {
                #expect(s.firstMoment == floats(expected["exp_avg"]))
                #expect(s.secondMoment == floats(expected["exp_inf"]))
            }
        }
    }

    @Test func sgdIsAPlainStep() {
        var s = OptimizerState(settings: OptimizerSettings(kind: .sgd), count: 2)
        var p: [Float] = [1, 1]
        s.update(&p, grad: [1, -1], lr: 0.25)
        #expect(p == [0.75, 1.25])
    }

    @Test func scheduleChangesTheLearningRate() {
        var c = AttackConfiguration(epsilon: 1, learningRate: 0.1)
        c.schedule = [ScheduleEntry(afterSteps: 5, learningRate: 0.01), ScheduleEntry(afterSteps: 2, learningRate: 0.05)]
        #expect(c.learningRate(afterSteps: 0) == 0.1)
        #expect(c.learningRate(afterSteps: 2) == 0.05)
        #expect(c.learningRate(afterSteps: 4) == 0.05)
        #expect(c.learningRate(afterSteps: 5) == 0.01)
        #expect(c.learningRate(afterSteps: 99) == 0.01)
    }

    @Test func presetsFollowThePaper() {
        let c = AttackConfiguration.cifar10()
        #expect(c.norm == .l2 && c.epsilon == 10 && c.iterations == 100 && c.learningRate == 0.1 && c.optimizer.kind == .adamax)
        let m = AttackConfiguration.medical(epsilon: 40, iterations: 4000)
        #expect(m.norm == .l2 && m.epsilon == 40 && m.iterations == 4000 && m.learningRate == 0.01)
    }
}
