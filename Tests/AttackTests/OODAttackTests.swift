import Foundation
import Testing
import Tensor
@testable import Attack

/// A linear encoder 8 × 32 (m < n), so the attack can match features exactly.
func linearSetup(batch: Int = 3) -> (LinearEncoder, Tensor, Tensor) {
    let enc = LinearEncoder(w: randomMatrix(8, 32, std: 0.3, seed: 11), m: 8, n: 32)
    let xIn = randomUniform([batch, 32], seed: 12)
    let xOut = randomUniform([batch, 32], low: 0.3, high: 0.7, seed: 13)
    return (enc, xIn, xOut)
}

func sameState(_ a: OODAttack, _ b: OODAttack) -> Bool {
    a.x == b.x && a.delta == b.delta && a.optimizerState == b.optimizerState && a.stepCount == b.stepCount
        && a.lossHistory == b.lossHistory && a.targets == b.targets && a.initialDelta == b.initialDelta
}

@Suite struct OODAttackTests {
    @Test func linearEncoderMAPEGoesToZero() throws {
        let (enc, xIn, xOut) = linearSetup()
        var config = AttackConfiguration(norm: .l2, epsilon: 10, iterations: 300, learningRate: 0.1)
        config.schedule = [ScheduleEntry(afterSteps: 100, learningRate: 0.01), ScheduleEntry(afterSteps: 200, learningRate: 0.001)]
        let attack = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        let before = try AttackMetrics.compute(zIn: attack.targets[0], zAdv: try enc.forward(attack.x)[0], xOut: xOut, xAdv: attack.x)
        let xAdv = try attack.run()
        #expect(attack.stepCount == 300)
        let after = try AttackMetrics.compute(zIn: try enc.forward(xIn)[0], zAdv: try enc.forward(xAdv)[0], xOut: xOut, xAdv: xAdv)
        #expect(before.meanMAPE > 0.1)
        #expect(after.maxMAPE < 2e-3, "MAPE \(after.samples.map(\.mape))")
        // Constraints hold: x in [0, 1], ‖δ‖₂ ≤ ε.
        #expect(xAdv.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(after.samples.allSatisfy { $0.deltaL2 <= 10 + 1e-4 })
        #expect(attack.meanLossHistory.last! < attack.meanLossHistory.first! * 1e-3)
    }

    @Test func oneTargetBroadcastsToAllSources() throws {
        let (enc, xIn, xOut) = linearSetup()
        let one = Tensor(shape: [1, 32], data: Array(xIn.data[0..<32]))
        let attack = try OODAttack(encoder: enc, xIn: one, xOut: xOut, configuration: AttackConfiguration(epsilon: 10, learningRate: 0.05))
        #expect(attack.targets[0].shape == [3, 8])
        let z = try enc.forward(one)[0]
        for i in 0..<3 { #expect(attack.targets[0].slice(i) == z.slice(0)) }
        try attack.step(150)
        let zAdv = try enc.forward(attack.x)[0]
        let m = try AttackMetrics.compute(zIn: z, zAdv: zAdv, xOut: xOut, xAdv: attack.x)
        #expect(m.maxMAPE < 0.02)
    }

    @Test func tanhEncoderLossDecreases() throws {
        let enc = TanhEncoder(w: randomMatrix(6, 24, std: 0.4, seed: 21), m: 6, n: 24)
        let xIn = randomUniform([2, 2, 12], seed: 22)
        let xOut = randomUniform([2, 2, 12], seed: 23)
        var config = AttackConfiguration(norm: .l2, epsilon: 10, learningRate: 0.05)
        config.schedule = [ScheduleEntry(afterSteps: 150, learningRate: 0.005)]
        let attack = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        try attack.step(300)
        let first = attack.lossHistory.first!, last = try attack.currentLoss()
        for i in 0..<2 { #expect(last[i] < first[i] * 1e-3, "sample \(i): \(first[i]) → \(last[i])") }
        let m = try AttackMetrics.compute(zIn: try enc.forward(xIn)[0], zAdv: try enc.forward(attack.x)[0], xOut: xOut, xAdv: attack.x)
        #expect(m.maxMAPE < 0.01)
        #expect(attack.x.shape == [2, 2, 12])
    }

    @Test func linfAttackStaysInTheBox() throws {
        let (enc, xIn, xOut) = linearSetup(batch: 2)
        let attack = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut,
                                   configuration: AttackConfiguration(norm: .linf, epsilon: 0.05, learningRate: 0.01))
        try attack.step(40)
        // δ = clamp(x_out + δ) − x_out is recomputed in Float32, so it may exceed ε by rounding only.
        #expect(PerSample.linfNorms(attack.delta).allSatisfy { $0 <= 0.05 + 1e-6 })
        #expect(attack.meanLossHistory.last! < attack.meanLossHistory.first!)
    }

    @Test func batchEqualsEachSampleAlone() throws {
        let (enc, xIn, xOut) = linearSetup()
        let config = AttackConfiguration(norm: .l2, epsilon: 3, learningRate: 0.1, initialization: .uniform(seed: 5))
        let batch = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        try batch.step(25)
        for i in 0..<3 {
            func one(_ t: Tensor) -> Tensor { Tensor(shape: [1] + Array(t.shape.dropFirst()), data: t.slice(i).data) }
            let alone = try OODAttack(encoder: enc, xIn: one(xIn), xOut: one(xOut), configuration: config,
                                      initialDelta: one(batch.initialDelta))
            try alone.step(25)
            #expect(alone.x.data == batch.x.slice(i).data, "sample \(i)")
            #expect(alone.lossHistory.map { $0[0] } == batch.lossHistory.map { $0[i] })
        }
    }

    @Test func stopAndContinueIsBitIdentical() throws {
        let (enc, xIn, xOut) = linearSetup()
        let config = AttackConfiguration(epsilon: 10, learningRate: 0.1, initialization: .uniform(seed: 9))
        let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        let b = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        try a.step(10)
        try a.step(10)
        try b.step(20)
        #expect(sameState(a, b))
        #expect(a.stepSeconds.count == 20 && a.stepSeconds.allSatisfy { $0 >= 0 })

        // shouldStop ends the run between steps and keeps the completed ones; progress sees each step.
        let c = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        var reports: [StepReport] = []
        let done = try c.step(20, shouldStop: { reports.count >= 7 }, progress: { reports.append($0) })
        #expect(done == 7 && c.stepCount == 7 && c.lossHistory.count == 7)
        #expect(reports.map(\.step) == Array(1...7))
        #expect(reports[3].loss == c.lossHistory[3] && reports[3].meanLoss == c.meanLossHistory[3])
        try c.step(13)
        #expect(sameState(c, b))
    }

    @Test func saveAndLoadRoundTripExactly() throws {
        let (enc, xIn, xOut) = linearSetup()
        var config = AttackConfiguration(epsilon: 10, learningRate: 0.1, initialization: .uniform(seed: 3), trackBest: true)
        config.schedule = [ScheduleEntry(afterSteps: 4, learningRate: 0.0123456789)]
        let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config, outputs: [OutputWeight("features", weight: 0.7)])
        try a.step(7)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mirage-attack-\(UUID().uuidString).atk")
        defer { try? FileManager.default.removeItem(at: url) }
        try a.save(to: url)
        let b = try OODAttack.load(from: url, encoder: enc)
        #expect(sameState(a, b))
        #expect(b.configuration == a.configuration && b.objective == a.objective)
        #expect(b.stepSeconds == a.stepSeconds)
        #expect(b.bestX == a.bestX && b.bestLoss == a.bestLoss && b.bestStep == a.bestStep)
        try a.step(5)
        try b.step(5)
        #expect(sameState(a, b))

        // A corrupted file is rejected with a clear error.
        try Data("not an attack".utf8).write(to: url)
        #expect(throws: AttackError.self) { try OODAttack.load(from: url, encoder: enc) }
    }

    @Test func bestSoFarTracksTheLowestLoss() throws {
        let (enc, xIn, xOut) = linearSetup()
        let config = AttackConfiguration(epsilon: 10, learningRate: 0.5, trackBest: true)  // large lr: loss oscillates
        let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        try a.step(30)
        for i in 0..<3 {
            let losses = a.lossHistory.map { $0[i] }
            #expect(a.bestLoss![i] == losses.min()!)
            #expect(a.bestStep![i] == losses.firstIndex(of: losses.min()!)!)
        }
        // bestX reproduces bestLoss.
        let z = try enc.forward(a.bestX!)[0]
        for i in 0..<3 {
            var s = 0.0
            for j in 0..<8 { let d = Double(z.data[i * 8 + j] - a.targets[0].data[i * 8 + j]); s += d * d }
            #expect(abs(s - Double(a.bestLoss![i])) <= 1e-4 * max(1, s))
        }
    }

    @Test func randomRestartsKeepTheBestPerSample() throws {
        let (enc, xIn, xOut) = linearSetup()
        var losses: [[Float]] = []
        let result = try OODAttack.runWithRestarts(restarts: 3) { seed in
            let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut,
                                  configuration: AttackConfiguration(epsilon: 10, iterations: 5, learningRate: 0.1, initialization: .uniform(seed: seed)))
            try a.run()
            losses.append(try a.currentLoss())
            return a
        }
        for i in 0..<3 { #expect(result.loss[i] == losses.map { $0[i] }.min()!) }
    }

    @Test func multipleWeightedOutputsAndAScalarOutput() throws {
        let enc = MultiEncoder(n: 20, seed: 31)
        let xIn = randomUniform([2, 20], seed: 32)
        let xOut = randomUniform([2, 20], low: 0.2, high: 0.8, seed: 33)
        let outputs = [OutputWeight("features", weight: 1), OutputWeight("energy", weight: 0.5)]
        let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: 10, learningRate: 0.02), outputs: outputs)
        // The loss is the weighted sum of per-output losses.
        let outsIn = try enc.forward(xIn), outs = try enc.forward(a.x)
        var expected = [Double](repeating: 0, count: 2)
        for i in 0..<2 {
            for j in 0..<6 { let d = Double(outs[0].data[i * 6 + j] - outsIn[0].data[i * 6 + j]); expected[i] += d * d }
            let e = Double(outs[3].data[i] - outsIn[3].data[i]); expected[i] += 0.5 * e * e
        }
        let loss = try a.currentLoss()
        for i in 0..<2 { #expect(abs(Double(loss[i]) - expected[i]) < 1e-4 * expected[i]) }
        try a.step(200)
        let outsAdv = try enc.forward(a.x)
        for i in 0..<2 { #expect(abs(outsAdv[3].data[i] - outsIn[3].data[i]) < 0.02 * outsIn[3].data[i]) }
        #expect(a.meanLossHistory.last! < a.meanLossHistory.first! * 1e-2)

        // A scalar output alone, with a given target (one value broadcast to both sources).
        let s = try OODAttack(encoder: enc, targets: [Tensor(shape: [1], data: [4])], xOut: xOut,
                              configuration: AttackConfiguration(epsilon: 10, learningRate: 0.01), outputs: [OutputWeight("energy")])
        try s.step(200)
        for v in try enc.forward(s.x)[3].data { #expect(abs(v - 4) < 0.05) }
    }

    @Test func badArgumentsGiveClearErrors() throws {
        let (enc, xIn, xOut) = linearSetup()
        #expect(throws: AttackError.invalidEpsilon(-1)) {
            try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: -1, learningRate: 0.1))
        }
        #expect(throws: AttackError.invalidLearningRate(0)) {
            try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0))
        }
        #expect(throws: AttackError.unknownOutput("logits", available: ["features"])) {
            try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1), outputs: [OutputWeight("logits")])
        }
        do {
            _ = try OODAttack(encoder: enc, xIn: Tensor.zeros([2, 32]), xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1))
            Issue.record("mismatched batch accepted")
        } catch let e as AttackError {
            #expect(e.description.contains("x_in has shape [2, 32]"))
        }
        #expect(throws: AttackError.self) {
            try OODAttack(encoder: enc, targets: [Tensor.zeros([1, 5])], xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1)).step(1)
        }
        #expect(throws: AttackError.self) {
            try OODAttack(encoder: enc, targets: [Tensor.zeros([2, 8])], xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1))
        }
        // An output that does not depend on the input is named on the first step, and the state is unchanged.
        let multi = MultiEncoder(n: 20, seed: 1)
        let a = try OODAttack(encoder: multi, targets: [Tensor.zeros([1, 6]), Tensor.zeros([1, 2])], xOut: randomUniform([2, 20], seed: 2),
                              configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1),
                              outputs: [OutputWeight("features"), OutputWeight("constant")])
        #expect(throws: AttackError.outputDoesNotDependOnInput("constant")) { try a.step(1) }
        #expect(a.stepCount == 0 && a.lossHistory.isEmpty)
        #expect(AttackError.outputDoesNotDependOnInput("constant").description.contains("output 'constant' does not depend on the input"))
        let alone = try OODAttack(encoder: multi, targets: [Tensor.zeros([1, 2])], xOut: randomUniform([2, 20], seed: 2),
                                  configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1), outputs: [OutputWeight("constant")])
        #expect(throws: AttackError.outputDoesNotDependOnInput("constant")) { try alone.step(1) }
        #expect(throws: AttackError.invalidIterations(-2)) { try alone.step(-2) }
    }

    @Test func zeroInitialisationStartsAtXOut() throws {
        let (enc, xIn, xOut) = linearSetup()
        let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1, initialization: .zero))
        #expect(a.x == xOut && a.delta.data.allSatisfy { $0 == 0 })
        let u = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1))
        // Uniform noise of norm ≫ ε is rescaled to norm ε, then x = clamp(x_out + δ, 0, 1) and δ = x − x_out.
        let projected = PerSample.project(u.initialDelta, norm: .l2, epsilon: 1)
        #expect(PerSample.l2Norms(projected).allSatisfy { abs($0 - 1) < 1e-5 })
        #expect(u.x == PerSample.applyClamped(base: xOut, delta: projected).x)
        #expect(PerSample.l2Norms(u.delta).allSatisfy { $0 <= 1 + 1e-5 })
        #expect(u.initialDelta.data.allSatisfy { abs($0) <= 1 })
    }
}

@Suite struct ClassicAttackTests {
    func logitsEncoder() -> LinearEncoder { LinearEncoder(w: randomMatrix(4, 16, std: 1, seed: 41), m: 4, n: 16) }

    @Test func untargetedPGDChangesThePrediction() throws {
        let enc = logitsEncoder()
        let x = randomUniform([3, 16], seed: 42)
        let labels = try predictedClasses(try enc.forward(x)[0])
        let attack = try ClassicAttack.pgd(encoder: enc, x: x, labels: labels, logits: "features", norm: .l2,
                                           epsilon: 3, stepSize: 0.3, iterations: 30)
        let xAdv = try attack.run()
        let after = try predictedClasses(try enc.forward(xAdv)[0])
        for i in 0..<3 { #expect(after[i] != labels[i]) }
        #expect(PerSample.l2Norms(attack.delta).allSatisfy { $0 <= 3 + 1e-5 })
    }

    @Test func targetedPGDReachesTheTarget() throws {
        let enc = logitsEncoder()
        let x = randomUniform([2, 16], seed: 43)
        let before = try predictedClasses(try enc.forward(x)[0])
        let targets = before.map { ($0 + 1) % 4 }
        let attack = try ClassicAttack.pgd(encoder: enc, x: x, labels: targets, logits: "features", targeted: true,
                                           norm: .linf, epsilon: 0.5, stepSize: 0.05, iterations: 40)
        let xAdv = try attack.run()
        #expect(try predictedClasses(try enc.forward(xAdv)[0]) == targets)
        #expect(PerSample.linfNorms(attack.delta).allSatisfy { $0 <= 0.5 })
    }

    @Test func fgsmTakesOneSignStepOfSizeEpsilon() throws {
        let enc = logitsEncoder()
        let x = Tensor.filled([1, 16], with: 0.5)
        let label = try predictedClasses(try enc.forward(x)[0])
        let xAdv = try ClassicAttack.fgsm(encoder: enc, x: x, labels: label, logits: "features", epsilon: 0.125)
        // The sign of ∂CE/∂x = Wᵀ(softmax − onehot).
        let z = try enc.forward(x)[0].data.map(Double.init)
        let p = softmaxRow(z)
        for j in 0..<16 {
            var g = 0.0
            for i in 0..<4 { g += (p[i] - (i == label[0] ? 1 : 0)) * Double(enc.w[i * 16 + j]) }
            #expect(xAdv.data[j] == 0.5 + (g > 0 ? 0.125 : -0.125))
        }
        #expect(try enc.forward(xAdv)[0].data[label[0]] < (try enc.forward(x)[0].data[label[0]]))
    }
}

@Suite struct OptimizerChoiceTests {
    @Test(arguments: [OptimizerKind.adamax, .adam, .sgd])
    func everyOptimizerReducesTheLoss(kind: OptimizerKind) throws {
        let (enc, xIn, xOut) = linearSetup()
        let config = AttackConfiguration(epsilon: 10, learningRate: kind == .sgd ? 0.2 : 0.05, optimizer: OptimizerSettings(kind: kind))
        let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: config)
        let before = try a.metrics()
        try a.step(60)
        let after = try a.metrics()
        #expect(after.meanMAPE < 0.2 * before.meanMAPE, "\(kind): \(before.meanMAPE) → \(after.meanMAPE)")
        #expect(a.optimizerState.step == 60)
    }
}

@Suite struct MoreRoundTrips {
    @Test func pgdStateSavesAndLoads() throws {
        let enc = LinearEncoder(w: randomMatrix(4, 16, seed: 91), m: 4, n: 16)
        let x = randomUniform([2, 16], seed: 92)
        let a = try ClassicAttack.pgd(encoder: enc, x: x, labels: [1, 3], logits: "features", targeted: true,
                                      norm: .linf, epsilon: 0.1, stepSize: 0.01, iterations: 10, seed: 4)
        try a.step(3)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mirage-pgd-\(UUID().uuidString).atk")
        defer { try? FileManager.default.removeItem(at: url) }
        try a.save(to: url)
        let b = try OODAttack.load(from: url, encoder: enc)
        #expect(b.objective == .crossEntropy(output: "features", labels: [1, 3], targeted: true))
        #expect(sameState(a, b))
        try a.run()
        try b.run()
        #expect(sameState(a, b) && a.stepCount == 10)
        // Loading with an encoder lacking the output is a clear error.
        let other = TanhEncoder(w: randomMatrix(4, 16, seed: 1), m: 4, n: 16)
        #expect(throws: AttackError.unknownOutput("features", available: ["h"])) { try OODAttack.load(from: url, encoder: other) }
    }

    @Test func crossEntropyLossAndSeedsAreExact() throws {
        let enc = LinearEncoder(w: randomMatrix(3, 4, seed: 93), m: 3, n: 4)
        let x = Tensor(shape: [1, 4], data: [0.1, 0.2, 0.3, 0.4])
        let a = try ClassicAttack.pgd(encoder: enc, x: x, labels: [2], logits: "features", norm: .l2, epsilon: 1,
                                      stepSize: 0.1, iterations: 1, seed: nil)
        let z = try enc.forward(x)[0].data.map(Double.init)
        let ce = logSumExpRow(z) - z[2]
        #expect(abs(Double(try a.currentLoss()[0]) + ce) < 1e-6)  // untargeted minimises −CE
    }
}
