// The gradient self-check: the engine's input gradient against central differences, and its fast forward path against its plain one.
import Foundation
import Tensor

/// What `GradientCheck.run` found for one output of a model at one input.
public struct GradientCheckReport: Sendable, CustomStringConvertible {
    /// How far the engine's gradient can be trusted.
    public enum Verdict: String, Sendable {
        /// Within float32 central differences' own noise (relative error ≤ 1e-2).
        case ok
        /// Between 1e-2 and 1e-1: usually a difference quotient straddling ReLU or max-pool kinks; rerun with another seed.
        case doubtful
        /// Above 1e-1, or a forward value that differs between the engine's paths or is not finite.
        case wrong
    }

    /// One random direction v: ⟨∇ₓL, v⟩ from the engine against the best central difference of L along v.
    public struct Direction: Sendable {
        /// ⟨∇ₓL, v⟩ from the engine's reverse mode.
        public var analytic: Double
        /// The central difference (L(x + hv) − L(x − hv)) / 2h, in float64 sums.
        public var numeric: Double
        /// |analytic − numeric| / max(|analytic|, |numeric|, ‖∇ₓL‖·rms(v)).
        public var error: Double
        /// The step (relative to the input's RMS) whose difference quotient agreed best.
        public var step: Double
    }

    /// The tensor checked: L = Σ y² over it.
    public var output: String
    /// The random directions the gradient was checked along, in the order drawn.
    public var directions: [Direction]
    /// The median of the directions' errors: a wrong gradient is wrong along every random direction, while a
    /// difference quotient that straddles many ReLU kinks spoils only the odd one.
    public var relativeError: Double
    /// The verdict read from `relativeError` and the forward checks.
    public var verdict: Verdict
    /// The first tensor (in the order the graph computes them) whose value differs between the engine's
    /// fast path (oneDNN layouts, fused Conv+Relu, pooled buffers, values released once backward no longer needs them) and its plain one, with the relative
    /// difference; nil when every tensor agrees to 1e-4.
    public var forwardMismatch: (tensor: String, error: Double)?
    /// The first tensor holding a NaN or an infinity, if any.
    public var firstNonFinite: String?
    /// When the gradient is wrong: the first intermediate tensor whose own gradient check fails
    /// (a bisection over the computed tensors), where to look for the faulty operator.
    public var firstWrongGradient: String?

    /// The report as the command line and `check_gradient` print it: the error, each direction, and where values go wrong.
    public var description: String {
        var lines = ["gradient check of Σ \(output)²: relative error \(format(relativeError)) (median of \(directions.count) random directions) → \(verdict.rawValue)"]
        for (k, d) in directions.enumerated() {
            lines.append("  direction \(k + 1): engine \(format(d.analytic)), central difference \(format(d.numeric)) (step \(format(d.step)) × rms x), error \(format(d.error))")
        }
        if let m = forwardMismatch { lines.append("  forward values first differ between the engine's fast and plain paths at '\(m.tensor)' (relative \(format(m.error)))") }
        if let t = firstNonFinite { lines.append("  first tensor with NaN or infinity: '\(t)'") }
        if let t = firstWrongGradient { lines.append("  first tensor whose gradient is wrong: '\(t)'") }
        switch verdict {
        case .ok: lines.append("  the engine's gradient agrees with central differences to float32 accuracy")
        case .doubtful: lines.append("  inconclusive: difference quotients may straddle ReLU or max-pool kinks; rerun with another seed or input")
        case .wrong: lines.append("  the engine's gradient is WRONG for this model: please report it with the model")
        }
        return lines.joined(separator: "\n")
    }
}

private func format(_ v: Double) -> String {
    abs(v) >= 1e-3 && abs(v) < 1e5 || v == 0 ? String(format: "%.4g", v) : String(format: "%.2e", v)
}

/// Checks a model's input gradient the way a user should once per new model: ⟨∇ₓΣy², v⟩ from the engine
/// against central differences of Σy² along random directions v. The engine computes in float32; the
/// differences are taken as Σ (y₊ − y₋)(y₊ + y₋) / 2h with every sum in float64 (no cancellation of the
/// large Σy²), at several step sizes, keeping the step that agrees best (small steps drown in float32
/// rounding, large ones cross ReLU kinks). It also compares every forward value of the engine's fast path
/// against its plain path and names the first tensor that differs or is not finite. The check runs at x plus
/// a little seeded noise (see `run`).
public enum GradientCheck {
    /// Steps tried, relative to the input's root-mean-square.
    static let steps: [Double] = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4]

    /// Checks `output` of `model` at input `x` along `directions` seeded random directions.
    /// `jitter` (relative to the input's RMS) moves x off the kinks first: images with flat regions put max-pooling
    /// windows on exact ties and ReLUs at exactly 0, where no gradient exists and central differences average the
    /// one-sided slopes.
    public static func run(_ model: Model, output: String, input: Tensor, directions: Int = 5, seed: UInt64 = 0, jitter: Double = 1e-2) throws -> GradientCheckReport {
        let encoder = try model.encoder(outputs: [output])
        var noise = SeededGenerator(seed: seed &+ 0x717)
        let rms = max((input.data.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(input.count, 1))).squareRoot(), 1e-3)
        let x = Tensor(shape: input.shape, data: zip(input.data, Tensor.normal(input.shape, using: &noise).data).map { $0 + Float(jitter * rms) * $1 })
        let result = try gradientErrors(encoder, x: x, directions: directions, seed: seed)
        encoder.keepsEveryValue = true   // the gradients above ran as attacks run them; the comparison needs every value
        _ = try encoder.forward(x)
        let fast = encoder.lastFloatValues()
        let firstNonFinite = fast.first { !$0.value.data.allSatisfy(\.isFinite) }?.name
        let forwardMismatch = try firstForwardMismatch(model, output: output, x: x, fast: fast)
        var verdict: GradientCheckReport.Verdict = result.error <= 1e-2 ? .ok : result.error <= 1e-1 ? .doubtful : .wrong
        if forwardMismatch != nil || firstNonFinite != nil || !result.error.isFinite { verdict = .wrong }
        var report = GradientCheckReport(output: output, directions: result.directions, relativeError: result.error, verdict: verdict,
                                         forwardMismatch: forwardMismatch, firstNonFinite: firstNonFinite)
        if result.error > 1e-1, firstNonFinite == nil {
            report.firstWrongGradient = try firstWrongGradient(model, x: x, candidates: fast.dropFirst().map(\.name), seed: seed)
        }
        return report
    }

    /// The median error over `count` random directions, and each direction's figures.
    static func gradientErrors(_ encoder: Encoder, x: Tensor, directions count: Int, seed: UInt64) throws -> (error: Double, directions: [GradientCheckReport.Direction]) {
        let y = try encoder.forward(x)[0]
        let g = try encoder.pullback([y.map { 2 * $0 }])
        let gNorm = (g.data.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        let scale = max((x.data.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot(), 1e-3)
        var generator = SeededGenerator(seed: seed &+ 0x5eed)
        var found: [GradientCheckReport.Direction] = []
        for _ in 0..<max(1, count) {
            let v = Tensor.normal(x.shape, using: &generator)
            let analytic = zip(g.data, v.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            var best: GradientCheckReport.Direction?
            for step in steps {
                let h = step * scale
                let plus = try encoder.forward(Tensor(shape: x.shape, data: zip(x.data, v.data).map { $0 + Float(h) * $1 }))[0]
                let minus = try encoder.forward(Tensor(shape: x.shape, data: zip(x.data, v.data).map { $0 - Float(h) * $1 }))[0]
                let numeric = zip(plus.data, minus.data).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) + Double($1.1)) } / (2 * h)
                let denominator = max(abs(analytic), abs(numeric), gNorm, 1e-300)
                let error = abs(analytic - numeric) / denominator
                if best == nil || error < best!.error { best = .init(analytic: analytic, numeric: numeric, error: error, step: step) }
            }
            found.append(best!)
        }
        let sorted = found.map(\.error).sorted()
        let median = sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        return (found.contains { !$0.error.isFinite } ? .infinity : median, found)
    }

    /// The first tensor whose value differs (relative L2 > 1e-4) between `fast` and the plain path: no
    /// fusion, every operator handed row-major values.
    static func firstForwardMismatch(_ model: Model, output: String, x: Tensor, fast: [(name: String, value: Tensor)]) throws -> (tensor: String, error: Double)? {
        let plain = try model.encoder(outputs: [output], fusing: false)
        plain.plainValuesOnly = true
        plain.keepsEveryValue = true
        _ = try plain.forward(x)
        let reference = Dictionary(plain.lastFloatValues().map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        for (name, value) in fast {
            guard let other = reference[name], other.shape == value.shape else { continue }
            var difference = 0.0, norm = 0.0
            for (a, b) in zip(value.data, other.data) { difference += (Double(a) - Double(b)) * (Double(a) - Double(b)); norm += Double(b) * Double(b) }
            let error = difference == 0 ? 0 : (difference / max(norm, 1e-300)).squareRoot()
            if !(error <= 1e-4) { return (name, error) }
        }
        return nil
    }

    /// Bisects the computed tensors (in order) for the first whose own gradient check (Σt² → x) fails.
    static func firstWrongGradient(_ model: Model, x: Tensor, candidates: [String], seed: UInt64) throws -> String? {
        func wrong(_ name: String) throws -> Bool {
            try gradientErrors(model.encoder(outputs: [name]), x: x, directions: 2, seed: seed).error > 1e-1
        }
        guard let last = candidates.last, try wrong(last) else { return nil }
        var low = -1, high = candidates.count - 1      // candidates[high] is wrong; everything ≤ low checked fine
        while high - low > 1 {
            let mid = (low + high) / 2
            if try wrong(candidates[mid]) { high = mid } else { low = mid }
        }
        return candidates[high]
    }
}
