import Foundation
import Tensor

/// The update rule applied to δ with the normalised gradient.
public enum OptimizerKind: String, Sendable, Codable, Equatable, CaseIterable {
    /// torch.optim.Adamax (the reference implementation's choice).
    case adamax
    /// torch.optim.Adam.
    case adam
    /// Plain normalised-gradient step δ ← δ − lr·ĝ (PGD's update).
    case sgd
}

/// Hyper-parameters of the optimiser (PyTorch's defaults).
public struct OptimizerSettings: Sendable, Codable, Equatable {
    /// Adamax, Adam or plain SGD.
    public var kind: OptimizerKind
    /// Decay of the first moment.
    public var beta1: Double
    /// Decay of the second moment (Adam) or of the running maximum (Adamax).
    public var beta2: Double
    /// Added to the denominator (> 0).
    public var epsilon: Double

    /// Settings with PyTorch's defaults.
    public init(kind: OptimizerKind = .adamax, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.kind = kind
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// Element-wise optimiser state for the whole batch (so each sample has its own state).
/// `firstMoment` is PyTorch's exp_avg; `secondMoment` is exp_inf (Adamax) or exp_avg_sq (Adam); unused by sgd.
public struct OptimizerState: Sendable, Equatable {
    /// The settings this state was made for.
    public var settings: OptimizerSettings
    /// PyTorch's exp_avg, one value per element of δ.
    public var firstMoment: [Float]
    /// exp_inf (Adamax) or exp_avg_sq (Adam), one value per element of δ.
    public var secondMoment: [Float]
    /// Number of updates done (PyTorch's `step`).
    public var step: Int

    /// A fresh state (zero moments, step 0) for `count` elements.
    public init(settings: OptimizerSettings, count: Int) {
        self.settings = settings
        firstMoment = [Float](repeating: 0, count: count)
        secondMoment = [Float](repeating: 0, count: count)
        step = 0
    }

    /// One update of `parameter` (minimising) with gradient `grad` and learning rate `lr`,
    /// reproducing PyTorch's single-tensor CPU code paths in Float32:
    ///
    /// Adamax (torch/optim/adamax.py `_single_tensor_adamax`):
    ///     exp_avg.lerp_(grad, 1 − β1)                         # m + (1−β1)·(g − m) = β1·m + (1−β1)·g
    ///     exp_inf = maximum(exp_inf·β2, |grad| + eps)
    ///     clr = lr / (1 − β1^t)                               # in double, like Python floats
    ///     param.addcdiv_(exp_avg, exp_inf, value = −clr)      # p + (−clr·m) / u
    ///
    /// Adam (`_single_tensor_adam`):
    ///     exp_avg.lerp_(grad, 1 − β1); exp_avg_sq = exp_avg_sq·β2 + (1−β2)·g·g
    ///     denom = sqrt(exp_avg_sq) / sqrt(1 − β2^t) + eps;  param.addcdiv_(exp_avg, denom, value = −lr/(1 − β1^t))
    ///
    /// sgd: param −= lr·grad.
    public mutating func update(_ parameter: inout [Float], grad: [Float], lr: Double) {
        precondition(parameter.count == grad.count && grad.count == firstMoment.count, "optimizer state size")
        step += 1
        let t = Double(step)
        let n = grad.count
        switch settings.kind {
        case .sgd:
            let a = Float(lr)
            for i in 0..<n { parameter[i] -= a * grad[i] }
        case .adamax:
            let w = Float(1 - settings.beta1)
            let b2 = Float(settings.beta2)
            let eps = Float(settings.epsilon)
            let clr = lr / (1 - Foundation.pow(settings.beta1, t))
            let value = Float(-clr)
            for i in 0..<n {
                let g = grad[i]
                let m = firstMoment[i] + w * (g - firstMoment[i])
                let u = Swift.max(secondMoment[i] * b2, abs(g) + eps)
                firstMoment[i] = m
                secondMoment[i] = u
                parameter[i] = parameter[i] + value * m / u
            }
        case .adam:
            let w = Float(1 - settings.beta1)
            let b2 = Float(settings.beta2)
            let oneMinusB2 = Float(1 - settings.beta2)
            let eps = Float(settings.epsilon)
            let bc1 = 1 - Foundation.pow(settings.beta1, t)
            let bc2Sqrt = Float((1 - Foundation.pow(settings.beta2, t)).squareRoot())
            let value = Float(-(lr / bc1))
            for i in 0..<n {
                let g = grad[i]
                let m = firstMoment[i] + w * (g - firstMoment[i])
                let v = secondMoment[i] * b2 + oneMinusB2 * g * g
                firstMoment[i] = m
                secondMoment[i] = v
                let denom = v.squareRoot() / bc2Sqrt + eps
                parameter[i] = parameter[i] + value * m / denom
            }
        }
    }
}
