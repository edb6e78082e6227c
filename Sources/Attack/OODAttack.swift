import Foundation
import Tensor

/// The OOD attack of Liang et al. (arXiv 2009.08016), steppable and batched (per-sample state).
///
/// One step at the current iterate x:
///   1. z_k = f_k(x) for the selected outputs; loss_i = Σ_k w_k ‖z_k,i − z_in,k,i‖²;
///   2. g = pullback(seeds: 2·w_k·(z_k − z_in,k)) = ∂loss/∂x;
///   3. per sample ĝ = g / max(‖g‖₂, 1e-12) (L2) or sign(g) (L∞);
///   4. an optimiser update of δ with ĝ (Adamax by default, PyTorch semantics);
///   5. δ ← Proj_ε(δ); x ← clamp(x_out + δ, 0, 1); δ ← x − x_out.
/// `step(n)` continues from where the previous call stopped; the last iterate is `x` (the reference's result).
public final class OODAttack {
    /// The model f the attack differentiates through.
    public let encoder: any DifferentiableEncoder
    /// ε, norm, schedule and optimiser settings, fixed for the attack's life.
    public let configuration: AttackConfiguration
    /// What is minimised: feature matching (the OOD attack) or cross-entropy.
    public let objective: AttackObjective
    /// The OOD starting images x′, [B, …].
    public let xOut: Tensor
    /// Targets per selected output, expanded to the output's batch shape [B, …] (empty for cross-entropy).
    public private(set) var targets: [Tensor]
    /// δ before the first projection (for reproducing a sample's start alone: pass a slice as `initialDelta`).
    public let initialDelta: Tensor
    /// The current perturbation δ = x − x_out (after projection and clamping).
    public private(set) var delta: Tensor
    /// The current iterate.
    public private(set) var x: Tensor
    /// The optimiser's moments, saved and restored with the attack.
    public private(set) var optimizerState: OptimizerState
    /// Steps completed so far (across `step` calls).
    public private(set) var stepCount: Int = 0
    /// lossHistory[t][i]: loss of sample i at the start of step t+1.
    public private(set) var lossHistory: [[Float]] = []
    /// Wall-clock seconds of each step.
    public private(set) var stepSeconds: [Double] = []
    /// Extension (`trackBest`): per sample, the iterate with the lowest loss seen so far and its loss and step
    /// (the iterate a step started from; step 0 is the initial iterate).
    public private(set) var bestX: Tensor?
    /// Per sample, the lowest loss seen (with `trackBest`).
    public private(set) var bestLoss: [Float]?
    /// Per sample, the step whose starting iterate had `bestLoss`.
    public private(set) var bestStep: [Int]?

    /// Indices of the selected outputs in `encoder.outputNames`.
    let outputIndices: [Int]

    /// Number of sources B.
    public var batchSize: Int { xOut.shape[0] }
    /// Mean loss over the batch for each step.
    public var meanLossHistory: [Float] { lossHistory.map { meanOf($0) } }

    // MARK: Initialisers

    /// OOD attack with targets z_in = f(x_in). `xIn` is [1, …] (one target for all sources) or [B, …];
    /// `outputs` nil means every encoder output with weight 1.
    public convenience init(encoder: any DifferentiableEncoder, xIn: Tensor, xOut: Tensor,
                            configuration: AttackConfiguration, outputs: [OutputWeight]? = nil,
                            initialDelta: Tensor? = nil) throws {
        let selected = outputs ?? encoder.outputNames.map { OutputWeight($0) }
        let indices = try Self.resolve(selected.map(\.name), in: encoder.outputNames)
        try Self.checkBatch(xOut, name: "x_out")
        try Self.checkFinite(xIn, name: "x_in")
        guard xIn.rank == xOut.rank, xIn.shape.dropFirst() == xOut.shape.dropFirst(),
              xIn.shape[0] == 1 || xIn.shape[0] == xOut.shape[0] else {
            throw AttackError.shapeMismatch(what: "x_in", expected: "[1 or \(xOut.shape[0])] + \(Array(xOut.shape.dropFirst())) like x_out", got: xIn.shape)
        }
        let outs = try encoder.forward(xIn)
        guard outs.count == encoder.outputNames.count else {
            throw AttackError.encoderContract("forward returned \(outs.count) outputs for \(encoder.outputNames.count) names")
        }
        try self.init(encoder: encoder, objective: .featureMatching(outputs: selected), targets: indices.map { outs[$0] },
                      xOut: xOut, configuration: configuration, initialDelta: initialDelta)
    }

    /// OOD attack towards given feature tensors, one per selected output (in `outputs` order; nil = all outputs).
    /// Each target is [B, …] like the output, or [1, …] to broadcast to all B sources.
    public convenience init(encoder: any DifferentiableEncoder, targets: [Tensor], xOut: Tensor,
                            configuration: AttackConfiguration, outputs: [OutputWeight]? = nil,
                            initialDelta: Tensor? = nil) throws {
        let selected = outputs ?? encoder.outputNames.map { OutputWeight($0) }
        guard targets.count == selected.count else {
            throw AttackError.invalidArgument("\(targets.count) target tensors for \(selected.count) outputs \(selected.map(\.name))")
        }
        try self.init(encoder: encoder, objective: .featureMatching(outputs: selected), targets: targets,
                      xOut: xOut, configuration: configuration, initialDelta: initialDelta)
    }

    /// The general initialiser (feature matching or cross-entropy).
    public init(encoder: any DifferentiableEncoder, objective: AttackObjective, targets: [Tensor], xOut: Tensor,
                configuration: AttackConfiguration, initialDelta: Tensor? = nil) throws {
        try configuration.validate()
        try Self.checkBatch(xOut, name: "x_out")
        let names = objective.outputNames
        outputIndices = try Self.resolve(names, in: encoder.outputNames)
        let b = xOut.shape[0]
        switch objective {
        case .featureMatching(let outputs):
            guard !outputs.isEmpty else { throw AttackError.invalidArgument("no output selected for the attack") }
            for o in outputs where !(o.weight.isFinite && o.weight >= 0) {
                throw AttackError.invalidArgument("weight of output '\(o.name)' must be finite and ≥ 0, got \(o.weight)")
            }
            guard targets.count == outputs.count else {
                throw AttackError.invalidArgument("\(targets.count) targets for \(outputs.count) outputs")
            }
            for (name, t) in zip(names, targets) { try Self.checkFinite(t, name: "target for output '\(name)'") }
            self.targets = try zip(names, targets).map { try Self.expand($1, batch: b, name: $0) }
        case .crossEntropy(_, let labels, _):
            guard labels.count == b else {
                throw AttackError.invalidArgument("\(labels.count) labels for a batch of \(b)")
            }
            self.targets = []
        }
        self.encoder = encoder
        self.objective = objective
        self.configuration = configuration
        self.xOut = xOut
        let start: Tensor
        if let given = initialDelta {
            guard given.shape == xOut.shape else {
                throw AttackError.shapeMismatch(what: "initial δ", expected: "\(xOut.shape) like x_out", got: given.shape)
            }
            try Self.checkFinite(given, name: "initial δ")
            start = given
        } else {
            switch configuration.initialization {
            case .zero: start = .zeros(xOut.shape)
            case .uniform(let seed):
                var rng = SeededGenerator(seed: seed)
                let e = Float(configuration.epsilon)
                start = .uniform(xOut.shape, low: -e, high: e, using: &rng)
            }
        }
        self.initialDelta = start
        let projected = PerSample.project(start, norm: configuration.norm, epsilon: configuration.epsilon)
        let (x0, d0) = PerSample.applyClamped(base: xOut, delta: projected, low: configuration.inputMin, high: configuration.inputMax)
        x = x0
        delta = d0
        optimizerState = OptimizerState(settings: configuration.optimizer, count: xOut.count)
    }

    /// Restores a saved state (used by `load`).
    init(restoring encoder: any DifferentiableEncoder, configuration: AttackConfiguration, objective: AttackObjective,
         xOut: Tensor, targets: [Tensor], initialDelta: Tensor, delta: Tensor, x: Tensor, optimizerState: OptimizerState,
         stepCount: Int, lossHistory: [[Float]], stepSeconds: [Double], bestX: Tensor?, bestLoss: [Float]?, bestStep: [Int]?) throws {
        // A file is untrusted: everything `init` would have made consistent is checked here instead.
        try configuration.validate()
        try Self.checkBatch(xOut, name: "x_out")
        let b = xOut.shape[0]
        for (name, t) in [("x", x), ("δ", delta), ("initial δ", initialDelta)] where t.shape != xOut.shape {
            throw AttackError.shapeMismatch(what: name, expected: "\(xOut.shape) like x_out", got: t.shape)
        }
        switch objective {
        case .featureMatching(let outputs):
            guard !outputs.isEmpty, targets.count == outputs.count, targets.allSatisfy({ $0.rank >= 1 && $0.shape[0] == b }) else {
                throw AttackError.fileFormat("\(targets.count) targets do not match the objective's \(outputs.count) outputs for a batch of \(b)")
            }
        case .crossEntropy(_, let labels, _):
            guard labels.count == b else { throw AttackError.fileFormat("\(labels.count) labels for a batch of \(b)") }
        }
        if bestX != nil || bestLoss != nil || bestStep != nil {
            guard let bestX, let bestLoss, let bestStep, bestX.shape == xOut.shape, bestLoss.count == b, bestStep.count == b else {
                throw AttackError.fileFormat("the best iterate, its losses and steps do not match x_out \(xOut.shape)")
            }
        }
        guard stepCount >= 0, lossHistory.count == stepCount, lossHistory.allSatisfy({ $0.count == b }) else {
            throw AttackError.fileFormat("the loss history does not have \(stepCount) steps of \(b) losses")
        }
        self.encoder = encoder
        self.configuration = configuration
        self.objective = objective
        self.outputIndices = try Self.resolve(objective.outputNames, in: encoder.outputNames)
        self.xOut = xOut
        self.targets = targets
        self.initialDelta = initialDelta
        self.delta = delta
        self.x = x
        self.optimizerState = optimizerState
        self.stepCount = stepCount
        self.lossHistory = lossHistory
        self.stepSeconds = stepSeconds
        self.bestX = bestX
        self.bestLoss = bestLoss
        self.bestStep = bestStep
    }

    // MARK: Stepping

    /// Runs up to `n` steps. Before each step `shouldStop()` is asked; a stop keeps the last completed step.
    /// A step that throws leaves the state as it was before that step. Returns the number of steps done.
    @discardableResult
    public func step(_ n: Int, shouldStop: () -> Bool = { false }, progress: (StepReport) -> Void = { _ in }) throws -> Int {
        guard n >= 0 else { throw AttackError.invalidStepCount(n) }
        var done = 0
        while done < n {
            if shouldStop() { break }
            let report = try stepOnce()
            done += 1
            progress(report)
        }
        return done
    }

    /// Runs the remaining steps up to `configuration.iterations` and returns the last iterate.
    @discardableResult
    public func run(shouldStop: () -> Bool = { false }, progress: (StepReport) -> Void = { _ in }) throws -> Tensor {
        try step(Swift.max(0, configuration.iterations - stepCount), shouldStop: shouldStop, progress: progress)
        return x
    }

    /// Per-sample loss at the current iterate (one forward, no state change).
    public func currentLoss() throws -> [Float] {
        let outs = try forwardChecked(x)
        return try lossAndSeeds(outs).loss
    }

    /// The selected outputs at the current iterate.
    public func currentOutputs() throws -> [Tensor] {
        let outs = try forwardChecked(x)
        return outputIndices.map { outs[$0] }
    }

    private func stepOnce() throws -> StepReport {
        let clock = ContinuousClock()
        let started = clock.now
        let outs = try forwardChecked(x)
        let (loss, seeds) = try lossAndSeeds(outs)
        let g = try encoder.pullback(seeds)
        guard g.shape == x.shape else {
            throw AttackError.encoderContract("pullback returned a gradient of shape \(g.shape) for an input of shape \(x.shape)")
        }
        if stepCount == 0 { try checkDependence(gradient: g, seeds: seeds) }
        let gn = PerSample.normalize(g, norm: configuration.norm, floor: configuration.gradientNormFloor)
        let lr = configuration.learningRate(afterSteps: stepCount)
        var opt = optimizerState
        var d = delta.data
        opt.update(&d, grad: gn.data, lr: lr)
        let projected = PerSample.project(Tensor(shape: delta.shape, data: d), norm: configuration.norm, epsilon: configuration.epsilon)
        let (newX, newDelta) = PerSample.applyClamped(base: xOut, delta: projected, low: configuration.inputMin, high: configuration.inputMax)
        // Commit.
        if configuration.trackBest { updateBest(loss: loss, iterate: x, step: stepCount) }
        optimizerState = opt
        x = newX
        delta = newDelta
        stepCount += 1
        lossHistory.append(loss)
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        stepSeconds.append(seconds)
        return StepReport(step: stepCount, loss: loss, meanLoss: meanOf(loss), learningRate: lr, seconds: seconds)
    }

    private func updateBest(loss: [Float], iterate: Tensor, step: Int) {
        let b = batchSize
        let n = iterate.count / b
        if bestX == nil {
            bestX = iterate
            bestLoss = loss
            bestStep = [Int](repeating: step, count: b)
            return
        }
        for i in 0..<b where loss[i] < bestLoss![i] {
            bestLoss![i] = loss[i]
            bestStep![i] = step
            bestX!.data.replaceSubrange((i * n)..<((i + 1) * n), with: iterate.data[(i * n)..<((i + 1) * n)])
        }
    }

    // MARK: Loss

    private func forwardChecked(_ input: Tensor) throws -> [Tensor] {
        let outs = try encoder.forward(input)
        guard outs.count == encoder.outputNames.count else {
            throw AttackError.encoderContract("forward returned \(outs.count) outputs for \(encoder.outputNames.count) names")
        }
        for idx in outputIndices {
            guard outs[idx].rank >= 1, outs[idx].shape[0] == batchSize else {
                throw AttackError.encoderContract("output '\(encoder.outputNames[idx])' has shape \(outs[idx].shape) for a batch of \(batchSize)")
            }
        }
        return outs
    }

    /// Per-sample loss and the pullback seeds (zeros for unselected outputs).
    func lossAndSeeds(_ outs: [Tensor]) throws -> (loss: [Float], seeds: [Tensor]) {
        var seeds = outs.map { Tensor.zeros($0.shape) }
        let b = batchSize
        var loss = [Double](repeating: 0, count: b)
        switch objective {
        case .featureMatching(let outputs):
            for (k, idx) in outputIndices.enumerated() {
                let z = outs[idx]
                let target = targets[k]
                guard z.shape == target.shape else {
                    throw AttackError.shapeMismatch(what: "output '\(outputs[k].name)'", expected: "\(target.shape) like its target", got: z.shape)
                }
                let w = outputs[k].weight
                let n = z.count / b
                var seed = seeds[idx]
                let scale = Float(2 * w)
                for i in 0..<b {
                    var s = 0.0
                    for j in 0..<n {
                        let diff = z.data[i * n + j] - target.data[i * n + j]
                        s += Double(diff) * Double(diff)
                        seed.data[i * n + j] = scale * diff
                    }
                    loss[i] += w * s
                }
                // A duplicate selection of the same output adds up.
                seeds[idx] = k > 0 && outputIndices[..<k].contains(idx) ? (try seeds[idx] + seed) : seed
            }
        case .crossEntropy(let output, let labels, let targeted):
            let idx = outputIndices[0]
            let z = outs[idx]
            let c = z.count / b
            guard z.rank == 2 else {
                throw AttackError.shapeMismatch(what: "logits '\(output)'", expected: "[B, classes]", got: z.shape)
            }
            var seed = seeds[idx]
            let sign: Double = targeted ? 1 : -1
            for i in 0..<b {
                guard labels[i] >= 0, labels[i] < c else {
                    throw AttackError.invalidArgument("label \(labels[i]) of sample \(i) is not a class of \(c) logits")
                }
                let row = Array(z.data[(i * c)..<((i + 1) * c)])
                let lse = logSumExpRow(row.map(Double.init))
                loss[i] = sign * (lse - Double(row[labels[i]]))
                for j in 0..<c {
                    let p = Foundation.exp(Double(row[j]) - lse)
                    seed.data[i * c + j] = Float(sign * (p - (j == labels[i] ? 1 : 0)))
                }
            }
            seeds[idx] = seed
        }
        return (loss.map { Float($0) }, seeds)
    }

    /// On the first step: an output whose seed is non-zero but whose own gradient is zero for every such sample
    /// does not depend on the input.
    private func checkDependence(gradient: Tensor, seeds: [Tensor]) throws {
        let b = batchSize
        let distinct = Array(Set(outputIndices)).sorted()
        func seededSamples(_ s: Tensor) -> [Int] {
            let n = s.count / b
            return (0..<b).filter { i in s.data[(i * n)..<((i + 1) * n)].contains { $0 != 0 } }
        }
        func isZero(_ g: Tensor, samples: [Int]) -> Bool {
            let n = g.count / b
            return samples.allSatisfy { i in g.data[(i * n)..<((i + 1) * n)].allSatisfy { $0 == 0 } }
        }
        if distinct.count == 1 {
            let samples = seededSamples(seeds[distinct[0]])
            if !samples.isEmpty && isZero(gradient, samples: samples) {
                throw AttackError.outputDoesNotDependOnInput(encoder.outputNames[distinct[0]])
            }
            return
        }
        for idx in distinct {
            let samples = seededSamples(seeds[idx])
            if samples.isEmpty { continue }
            var single = seeds.map { Tensor.zeros($0.shape) }
            single[idx] = seeds[idx]
            let g = try encoder.pullback(single)
            if isZero(g, samples: samples) { throw AttackError.outputDoesNotDependOnInput(encoder.outputNames[idx]) }
        }
    }

    // MARK: Helpers

    static func resolve(_ names: [String], in available: [String]) throws -> [Int] {
        try names.map { name in
            guard let i = available.firstIndex(of: name) else { throw AttackError.unknownOutput(name, available: available) }
            return i
        }
    }

    static func checkBatch(_ t: Tensor, name: String) throws {
        guard t.rank >= 1, t.shape[0] >= 1, t.count > 0 else {
            throw AttackError.shapeMismatch(what: name, expected: "a non-empty batch [B, …]", got: t.shape)
        }
        try checkFinite(t, name: name)
    }

    /// NaN or infinite pixels would silently turn every loss and gradient into NaN.
    static func checkFinite(_ t: Tensor, name: String) throws {
        let bad = t.data.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        if bad > 0 { throw AttackError.nonFiniteInput(what: name, count: bad) }
    }

    /// A target as [B, …]: given [B, …] or [1, …]. The output's per-sample shape is
    /// checked on the first forward.
    static func expand(_ t: Tensor, batch b: Int, name: String) throws -> Tensor {
        guard t.rank >= 1 else {
            throw AttackError.shapeMismatch(what: "target for output '\(name)'", expected: "[\(b), …] or [1, …]", got: t.shape)
        }
        if t.shape[0] == b { return t }
        if t.shape[0] == 1 {
            var data: [Float] = []
            data.reserveCapacity(t.count * b)
            for _ in 0..<b { data.append(contentsOf: t.data) }
            return Tensor(shape: [b] + Array(t.shape.dropFirst()), data: data)
        }
        throw AttackError.shapeMismatch(what: "target for output '\(name)'", expected: "[\(b), …] or [1, …]", got: t.shape)
    }
}

func meanOf(_ v: [Float]) -> Float {
    v.isEmpty ? .nan : Float(v.reduce(0.0) { $0 + Double($1) } / Double(v.count))
}

