import Foundation
import Tensor

/// PGD and FGSM on logits, on the same machinery as the OOD attack (normalised gradient, ε-ball projection,
/// clamp to the input range), with the plain normalised-gradient step δ ← δ − α·ĝ of the minimised objective.
/// Untargeted attacks minimise −CE(f(x), y) (ascend the true label's cross-entropy); targeted ones minimise
/// CE(f(x), t). Madry et al. 2018 (PGD), Goodfellow et al. 2015 (FGSM).
public enum ClassicAttack {
    /// PGD: `iterations` steps of size `stepSize`; random start uniform in the ε-ball (`seed`) or zero (`seed` nil).
    public static func pgd(encoder: any DifferentiableEncoder, x: Tensor, labels: [Int], logits: String,
                           targeted: Bool = false, norm: Norm, epsilon: Double, stepSize: Double,
                           iterations: Int, seed: UInt64? = 0) throws -> OODAttack {
        let config = AttackConfiguration(norm: norm, epsilon: epsilon, iterations: iterations, learningRate: stepSize,
                                         optimizer: OptimizerSettings(kind: .sgd),
                                         initialization: seed.map { .uniform(seed: $0) } ?? .zero)
        return try OODAttack(encoder: encoder, objective: .crossEntropy(output: logits, labels: labels, targeted: targeted),
                             targets: [], xOut: x, configuration: config)
    }

    /// FGSM (one step of size ε from δ = 0; L∞ is the classic sign step, L2 gives the fast gradient method).
    public static func fgsm(encoder: any DifferentiableEncoder, x: Tensor, labels: [Int], logits: String,
                            targeted: Bool = false, norm: Norm = .linf, epsilon: Double) throws -> Tensor {
        let attack = try pgd(encoder: encoder, x: x, labels: labels, logits: logits, targeted: targeted, norm: norm,
                             epsilon: epsilon, stepSize: epsilon, iterations: 1, seed: nil)
        return try attack.run()
    }
}
