import Tensor

/// Errors of the Attack module. `description` is a sentence meant for the notebook user.
public enum AttackError: Error, Equatable, Sendable, CustomStringConvertible {
    /// ε must be finite and > 0.
    case invalidEpsilon(Double)
    /// A norm name that is neither L2 nor L∞.
    case unknownNorm(String)
    case invalidLearningRate(Double)
    /// The configured number of iterations must be ≥ 1.
    case invalidIterations(Int)
    /// `step(n)` needs n ≥ 0 (0 is a no-op).
    case invalidStepCount(Int)
    /// A start image or in-distribution image with NaN or infinite pixels.
    case nonFiniteInput(what: String, count: Int)
    /// A tensor whose shape does not fit: what it is, what was expected (in words) and what it has.
    case shapeMismatch(what: String, expected: String, got: [Int])
    case unknownOutput(String, available: [String])
    /// The gradient of this output with respect to the input was exactly zero on the first step.
    case outputDoesNotDependOnInput(String)
    /// The encoder broke the `DifferentiableEncoder` contract (wrong number or shape of outputs/gradients).
    case encoderContract(String)
    case invalidArgument(String)
    /// A saved attack file that cannot be read.
    case fileFormat(String)
    /// A matrix that is not positive definite even after adding the largest ridge tried.
    case notPositiveDefinite(String)

    /// The message a user sees: what is wrong and the value that was given.
    public var description: String {
        switch self {
        case .invalidEpsilon(let e):
            return "epsilon must be a finite number > 0, got \(e)"
        case .unknownNorm(let s):
            return "unknown norm '\(s)': use L2 (\"L2\", \"l2\", \"2\") or L-infinity (\"Linf\", \"inf\", \"L∞\")"
        case .invalidLearningRate(let lr):
            return "learning rate must be a finite number > 0, got \(lr)"
        case .invalidIterations(let n):
            return "the number of iterations must be ≥ 1 (an attack of 0 iterations returns its start unchanged), got \(n)"
        case .invalidStepCount(let n):
            return "the number of steps must be ≥ 0, got \(n)"
        case .nonFiniteInput(let what, let count):
            return "\(what) has \(count) NaN or infinite value\(count == 1 ? "" : "s"); inputs must be finite"
        case .shapeMismatch(let what, let expected, let got):
            return "\(what) has shape \(got), expected \(expected)"
        case .unknownOutput(let name, let available):
            return "the encoder has no output named '\(name)'; its outputs are \(available)"
        case .outputDoesNotDependOnInput(let name):
            return "output '\(name)' does not depend on the input: its gradient with respect to the input is exactly zero at the start of the attack (a constant output, a detached layer, or a saturated/dead region)"
        case .encoderContract(let s):
            return "the encoder broke its contract: \(s)"
        case .invalidArgument(let s):
            return s
        case .fileFormat(let s):
            return "cannot read the saved attack: \(s)"
        case .notPositiveDefinite(let s):
            return s
        }
    }
}
