import Foundation
import Tensor

/// The norm of the perturbation budget and of the gradient normalisation.
public enum Norm: String, Sendable, Codable, Equatable, CaseIterable {
    case l2 = "L2"
    case linf = "Linf"

    /// Parses "L2", "l2", "2" and "Linf", "linf", "inf", "L∞", "∞" (case-insensitive).
    public init(parsing text: String) throws(AttackError) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "l2", "2": self = .l2
        case "linf", "inf", "l∞", "∞", "l_inf", "l-inf": self = .linf
        default: throw .unknownNorm(text)
        }
    }
}

/// Per-sample operations on batches ([B, …], sample = everything after the first axis).
/// All norms accumulate in Double; results are stored in Float32.
public enum PerSample {
    /// Batch size and per-sample element count of a batched tensor.
    static func layout(_ t: Tensor) -> (batch: Int, size: Int) {
        guard let b = t.shape.first, b > 0 else { return (0, 0) }
        return (b, t.count / b)
    }

    /// ‖sample‖₂ for each sample.
    public static func l2Norms(_ t: Tensor) -> [Float] {
        let (b, n) = layout(t)
        var out = [Float](repeating: 0, count: b)
        t.data.withUnsafeBufferPointer { p in
            for i in 0..<b {
                var s = 0.0
                for j in 0..<n { let v = Double(p[i * n + j]); s += v * v }
                out[i] = Float(s.squareRoot())
            }
        }
        return out
    }

    /// ‖sample‖∞ for each sample.
    public static func linfNorms(_ t: Tensor) -> [Float] {
        let (b, n) = layout(t)
        var out = [Float](repeating: 0, count: b)
        for i in 0..<b {
            var m: Float = 0
            for j in 0..<n { m = Swift.max(m, abs(t.data[i * n + j])) }
            out[i] = m
        }
        return out
    }

    /// Projection onto the ε-ball around 0, per sample. L2: samples with ‖δ‖₂ > ε are rescaled by ε/‖δ‖₂
    /// (the others are left untouched); L∞: every element is clamped to [−ε, ε].
    public static func project(_ delta: Tensor, norm: Norm, epsilon: Double) -> Tensor {
        var d = delta
        let (b, n) = layout(d)
        switch norm {
        case .linf:
            let e = Float(epsilon)
            for i in 0..<d.count { d.data[i] = Swift.min(Swift.max(d.data[i], -e), e) }
        case .l2:
            let norms = l2Norms(d)
            for i in 0..<b where Double(norms[i]) > epsilon {
                let scale = Float(epsilon / Double(norms[i]))
                for j in 0..<n { d.data[i * n + j] *= scale }
            }
        }
        return d
    }

    /// Gradient normalisation, per sample. L2: g · (1 / max(‖g‖₂, floor)) (the reference's `g *= 1/l2_norm`, floor 1e-12
    /// as in cleverhans); L∞: sign(g) (sign(0) = 0).
    public static func normalize(_ g: Tensor, norm: Norm, floor: Double = 1e-12) -> Tensor {
        var out = g
        let (b, n) = layout(g)
        switch norm {
        case .linf:
            for i in 0..<out.count {
                let v = out.data[i]
                out.data[i] = v > 0 ? 1 : (v < 0 ? -1 : 0)
            }
        case .l2:
            let norms = l2Norms(g)
            for i in 0..<b {
                let scale = 1 / Swift.max(norms[i], Float(floor))
                for j in 0..<n { out.data[i * n + j] *= scale }
            }
        }
        return out
    }

    /// x = clamp(base + δ, low, high); returns x and the effective δ = x − base.
    public static func applyClamped(base: Tensor, delta: Tensor, low: Float = 0, high: Float = 1) -> (x: Tensor, delta: Tensor) {
        var x = base
        var d = delta
        for i in 0..<x.count {
            let v = Swift.min(Swift.max(base.data[i] + delta.data[i], low), high)
            x.data[i] = v
            d.data[i] = v - base.data[i]
        }
        return (x, d)
    }
}
