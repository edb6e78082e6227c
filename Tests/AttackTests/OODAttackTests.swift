import Foundation
import Testing
import Tensor
import Graph
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
        #expect(throws: AttackError.invalidStepCount(-2)) { try alone.step(-2) }
    }

    /// The message of the error a bad argument raises (nil if none is raised).
    func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return "\(error)" }
    }

    @Test func everyBadArgumentIsNamedInItsMessage() throws {
        let (enc, xIn, xOut) = linearSetup()
        func attack(_ c: AttackConfiguration, xIn i: Tensor? = nil, xOut o: Tensor? = nil) throws {
            _ = try OODAttack(encoder: enc, xIn: i ?? xIn, xOut: o ?? xOut, configuration: c)
        }
        // ε: negative, zero, NaN, infinite.
        for e in [-1.0, 0, .nan, .infinity, -.infinity] {
            let m = message { try attack(AttackConfiguration(epsilon: e, learningRate: 0.1)) }
            #expect(m?.contains("epsilon must be a finite number > 0, got \(e)") == true, "ε = \(e): \(m ?? "no error")")
        }
        // Learning rate: zero, negative, NaN, and in a schedule.
        for lr in [0.0, -0.1, .nan] {
            let m = message { try attack(AttackConfiguration(epsilon: 1, learningRate: lr)) }
            #expect(m?.contains("learning rate must be a finite number > 0, got \(lr)") == true, "lr = \(lr): \(m ?? "no error")")
        }
        let scheduled = message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1, schedule: [ScheduleEntry(afterSteps: 5, learningRate: -1)])) }
        #expect(scheduled?.contains("learning rate must be a finite number > 0, got -1.0") == true)
        // Zero (or negative) iterations: the attack would return its start unchanged.
        for n in [0, -3] {
            let m = message { try attack(AttackConfiguration(epsilon: 1, iterations: n, learningRate: 0.1)) }
            #expect(m?.contains("number of iterations must be ≥ 1") == true && m?.contains("got \(n)") == true, "\(m ?? "no error")")
        }
        #expect(message { _ = try ClassicAttack.pgd(encoder: enc, x: xOut, labels: [0, 1, 2], logits: "features", targeted: false, norm: .linf,
                                                epsilon: 0.1, stepSize: 0.01, iterations: 0) }?.contains("iterations must be ≥ 1") == true)
        // step(0) is a valid no-op on a steppable attack; a negative count is not.
        let a = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1))
        #expect(try a.step(0) == 0 && a.stepCount == 0)
        #expect(message { try a.step(-1) }?.contains("number of steps must be ≥ 0, got -1") == true)
        // Unknown norm names, and the accepted spellings.
        for bad in ["L1", "l3", "", "euclid"] {
            let m = message { _ = try Norm(parsing: bad) }
            #expect(m?.contains("unknown norm '\(bad)'") == true && m?.contains("L2") == true, "\(m ?? "no error")")
        }
        #expect(try Norm(parsing: "L∞") == .linf && Norm(parsing: " l2 ") == .l2)
        // Mismatched shapes between the sources and the in-distribution images or the targets.
        let perSample = message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1), xIn: Tensor.zeros([1, 16])) }
        #expect(perSample?.contains("x_in has shape [1, 16], expected [1 or 3] + [32] like x_out") == true, "\(perSample ?? "no error")")
        let batch = message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1), xIn: Tensor.zeros([2, 32])) }
        #expect(batch?.contains("x_in has shape [2, 32]") == true)
        let rank = message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1), xIn: Tensor.zeros([3, 4, 8])) }
        #expect(rank?.contains("x_in has shape [3, 4, 8]") == true)
        let targetBatch = message {
            _ = try OODAttack(encoder: enc, targets: [Tensor.zeros([2, 8])], xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1))
        }
        #expect(targetBatch?.contains("target for output 'features' has shape [2, 8], expected [3, …] or [1, …]") == true, "\(targetBatch ?? "no error")")
        // A target whose per-sample shape differs from the output's is found on the first forward, before any update.
        let wrongWidth = try OODAttack(encoder: enc, targets: [Tensor.zeros([1, 5])], xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1))
        let width = message { try wrongWidth.step(1) }
        #expect(width?.contains("output 'features' has shape [3, 8], expected [3, 5] like its target") == true, "\(width ?? "no error")")
        #expect(wrongWidth.stepCount == 0)
        let delta = message {
            _ = try OODAttack(encoder: enc, xIn: xIn, xOut: xOut, configuration: AttackConfiguration(epsilon: 1, learningRate: 0.1), initialDelta: Tensor.zeros([3, 31]))
        }
        #expect(delta?.contains("initial δ has shape [3, 31], expected [3, 32] like x_out") == true)
        let empty = message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1), xIn: Tensor.zeros([0, 32]), xOut: Tensor.zeros([0, 32])) }
        #expect(empty?.contains("x_out has shape [0, 32], expected a non-empty batch") == true)
        // Non-finite pixels would make every loss NaN without a word.
        var nanOut = xOut
        nanOut.data[5] = .nan
        nanOut.data[7] = .infinity
        #expect(message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1), xOut: nanOut) }?.contains("x_out has 2 NaN or infinite values") == true)
        #expect(message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1), xIn: nanOut) }?.contains("x_in has 2 NaN or infinite values") == true)
        // Other settings.
        #expect(message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1, gradientNormFloor: 0)) }?.contains("gradient-norm floor must be a finite number > 0") == true)
        #expect(message { try attack(AttackConfiguration(epsilon: 1, learningRate: 0.1, inputMin: 1, inputMax: 0)) }?.contains("input range [1.0, 0.0] is empty") == true)
    }

    /// Outputs of a real graph that do not depend on the input: a constant tensor is refused when the encoder is
    /// built, and an output whose gradient is zero everywhere (x·0, or a ReLU that is dead on all of [0, 1]) is named on
    /// the first step, before the state changes.
    @Test func graphOutputsThatDoNotDependOnTheInputAreNamed() throws {
        let floats = { (shape: [Int], v: [Float]) in TensorValue(type: .float, shape: shape, storage: .floats(v)) }
        let graph = Graph(
            nodes: [Node(name: "times_zero", opType: "Mul", inputs: ["x", "zero"], outputs: ["flat"]),
                    Node(name: "shift", opType: "Add", inputs: ["x", "minus_ten"], outputs: ["shifted"]),
                    Node(name: "dead", opType: "Relu", inputs: ["shifted"], outputs: ["dead"]),
                    Node(name: "live", opType: "Relu", inputs: ["x"], outputs: ["live"]),
                    Node(name: "const", opType: "Add", inputs: ["zero", "minus_ten"], outputs: ["constant"])],
            inputs: [ValueInfo(name: "x", type: .float, shape: [.symbolic("batch"), .fixed(4)])],
            outputs: ["flat", "dead", "live", "constant"].map { ValueInfo(name: $0, type: .float, shape: nil) },
            initializers: ["zero": floats([1], [0]), "minus_ten": floats([1], [-10])])
        let model = try Model(graph: graph)
        #expect(message { _ = try model.encoder(outputs: ["constant"]) }?.contains("tensor 'constant' is a constant: it does not depend on the input") == true)
        let enc = try model.encoder(outputs: ["live", "flat", "dead"])
        let xOut = randomUniform([2, 4], seed: 3)
        let config = AttackConfiguration(epsilon: 1, learningRate: 0.1)
        let halves = Tensor(shape: [1, 4], data: [0.5, 0.5, 0.5, 0.5])
        for name in ["flat", "dead"] {
            let a = try OODAttack(encoder: enc, targets: [halves], xOut: xOut, configuration: config, outputs: [OutputWeight(name)])
            let start = a.x
            let m = message { try a.step(1) }
            #expect(m?.contains("output '\(name)' does not depend on the input") == true, "\(m ?? "no error")")
            #expect(a.stepCount == 0 && a.x == start)
        }
        // With a live output selected as well, the dead one is still named.
        let both = try OODAttack(encoder: enc, targets: [halves, halves], xOut: xOut,
                                 configuration: config, outputs: [OutputWeight("live"), OutputWeight("dead")])
        #expect(message { try both.step(1) }?.contains("output 'dead' does not depend on the input") == true)
        let live = try OODAttack(encoder: enc, targets: [halves], xOut: xOut, configuration: config, outputs: [OutputWeight("live")])
        #expect(try live.step(3) == 3)
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
