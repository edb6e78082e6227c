import Foundation
import Tensor

/// How δ starts.
public enum DeltaInitialization: Sendable, Codable, Equatable {
    /// Uniform in [−ε, ε] per pixel from `SeededGenerator(seed:)` (batch drawn in row-major order), then projected
    /// onto the ε-ball — the reference implementation's default.
    case uniform(seed: UInt64)
    /// δ = 0.
    case zero
}

/// A learning-rate change: from the update that follows `afterSteps` completed steps on, lr = `learningRate`.
public struct ScheduleEntry: Sendable, Codable, Equatable {
    /// Completed steps after which the new rate applies.
    public var afterSteps: Int
    /// The learning rate from then on.
    public var learningRate: Double
    /// A change to `learningRate` once `afterSteps` steps are done.
    public init(afterSteps: Int, learningRate: Double) {
        self.afterSteps = afterSteps
        self.learningRate = learningRate
    }
}

/// Settings of an attack run. Scalars are Double (like Python floats) so they survive JSON exactly.
public struct AttackConfiguration: Sendable, Codable, Equatable {
    /// The norm of the ε-ball δ is projected onto (and of the gradient normalisation).
    public var norm: Norm
    /// Budget ε of ‖δ‖ (in input units, inputs live in [0, 1]).
    public var epsilon: Double
    /// Iterations the preset recommends; `OODAttack.run()` does this many, `step(n)` any number.
    public var iterations: Int
    /// Learning rate of the first steps; `schedule` changes it later.
    public var learningRate: Double
    /// {step: lr} changes, see `ScheduleEntry`.
    public var schedule: [ScheduleEntry]
    /// The optimiser δ is updated with (Adamax by default).
    public var optimizer: OptimizerSettings
    /// How δ starts (uniform in the ball, or zero).
    public var initialization: DeltaInitialization
    /// L2 gradient normalisation divides by max(‖g‖₂, gradientNormFloor).
    public var gradientNormFloor: Double
    /// Extension (not in the reference): keep per sample the iterate with the lowest loss seen.
    public var trackBest: Bool
    /// Valid input range; x = clamp(x_out + δ, inputMin, inputMax).
    public var inputMin: Float
    /// Upper end of the valid input range (see `inputMin`).
    public var inputMax: Float

    /// A configuration; every argument but ε and the learning rate has the paper's default.
    public init(norm: Norm = .l2, epsilon: Double, iterations: Int = 100, learningRate: Double,
                schedule: [ScheduleEntry] = [], optimizer: OptimizerSettings = OptimizerSettings(),
                initialization: DeltaInitialization = .uniform(seed: 0), gradientNormFloor: Double = 1e-12,
                trackBest: Bool = false, inputMin: Float = 0, inputMax: Float = 1) {
        self.norm = norm
        self.epsilon = epsilon
        self.iterations = iterations
        self.learningRate = learningRate
        self.schedule = schedule
        self.optimizer = optimizer
        self.initialization = initialization
        self.gradientNormFloor = gradientNormFloor
        self.trackBest = trackBest
        self.inputMin = inputMin
        self.inputMax = inputMax
    }

    /// CIFAR-10 setting of the paper's demo (WRN-28-4 logits): L2, ε = 10, 100 iterations, lr = 0.1, Adamax.
    public static func cifar10(seed: UInt64 = 0) -> AttackConfiguration {
        AttackConfiguration(norm: .l2, epsilon: 10, iterations: 100, learningRate: 0.1, initialization: .uniform(seed: seed))
    }

    /// Medical-image setting of the paper (lumbar MR 128×128): L2, ε = 20–40, 2,000–4,000 iterations, lr = 0.01, Adamax.
    public static func medical(epsilon: Double = 20, iterations: Int = 2000, seed: UInt64 = 0) -> AttackConfiguration {
        AttackConfiguration(norm: .l2, epsilon: epsilon, iterations: iterations, learningRate: 0.01, initialization: .uniform(seed: seed))
    }

    /// The learning rate of the update that follows `completedSteps` steps.
    public func learningRate(afterSteps completedSteps: Int) -> Double {
        var lr = learningRate
        var best = Int.min
        for e in schedule where e.afterSteps <= completedSteps && e.afterSteps >= best {
            best = e.afterSteps
            lr = e.learningRate
        }
        return lr
    }

    /// Throws a clear error for a bad setting.
    public func validate() throws(AttackError) {
        guard epsilon.isFinite, epsilon > 0 else { throw .invalidEpsilon(epsilon) }
        guard learningRate.isFinite, learningRate > 0 else { throw .invalidLearningRate(learningRate) }
        guard iterations >= 1 else { throw .invalidIterations(iterations) }
        guard gradientNormFloor.isFinite, gradientNormFloor > 0 else {
            throw .invalidArgument("the gradient-norm floor must be a finite number > 0, got \(gradientNormFloor)")
        }
        for e in schedule {
            guard e.learningRate.isFinite, e.learningRate > 0 else { throw .invalidLearningRate(e.learningRate) }
            guard e.afterSteps >= 0 else { throw .invalidArgument("schedule steps must be ≥ 0, got \(e.afterSteps)") }
        }
        guard optimizer.beta1 >= 0, optimizer.beta1 < 1, optimizer.beta2 >= 0, optimizer.beta2 < 1 else {
            throw .invalidArgument("optimizer betas must lie in [0, 1), got (\(optimizer.beta1), \(optimizer.beta2))")
        }
        guard optimizer.epsilon > 0 else { throw .invalidArgument("optimizer eps must be > 0, got \(optimizer.epsilon)") }
        guard inputMin < inputMax else { throw .invalidArgument("input range [\(inputMin), \(inputMax)] is empty") }
    }
}

/// One output (layer) the attack matches, with its weight in the loss.
public struct OutputWeight: Sendable, Codable, Equatable {
    /// The output's name in the encoder's `outputNames`.
    public var name: String
    /// The output's weight w_k in the loss Σ_k w_k ‖f_k(x) − z_k‖² (finite, ≥ 0).
    public var weight: Double
    /// The output `name` with weight `weight`.
    public init(_ name: String, weight: Double = 1) {
        self.name = name
        self.weight = weight
    }
}

/// What the attack minimises.
public enum AttackObjective: Sendable, Codable, Equatable {
    /// The OOD attack: per sample Σ_k w_k Σ_j (f_k(x)_j − z_in,k,j)² with targets held by the attack.
    case featureMatching(outputs: [OutputWeight])
    /// Classic attacks on logits. Untargeted: minimise −CE(f(x), label) (i.e. push the true class down);
    /// targeted: minimise CE(f(x), label) towards the target class.
    case crossEntropy(output: String, labels: [Int], targeted: Bool)

    var outputNames: [String] {
        switch self {
        case .featureMatching(let outputs): return outputs.map(\.name)
        case .crossEntropy(let output, _, _): return [output]
        }
    }
}

/// Passed to `progress` after each completed step.
public struct StepReport: Sendable, Equatable {
    /// 1-based index of the step just completed (= `stepCount` afterwards).
    public var step: Int
    /// Loss per sample at the iterate the step started from (the loss whose gradient drove the step).
    public var loss: [Float]
    /// Mean of `loss` over the batch.
    public var meanLoss: Float
    /// The learning rate the step used.
    public var learningRate: Double
    /// Wall-clock seconds the step took.
    public var seconds: Double
}
