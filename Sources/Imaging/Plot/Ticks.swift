import Foundation

/// Axis scales.
public enum AxisScale: String, Sendable, Equatable {
    case linear, log
}

/// Tick placement and number formatting.
public enum Ticks {
    /// One tick mark: where it goes and what it reads.
    public struct Tick: Sendable, Equatable {
        /// Position in data coordinates.
        public var value: Double
        /// The text drawn beside the tick.
        public var label: String
    }

    /// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` intervals over `span`.
    public static func niceStep(span: Double, target: Int) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / Double(Swift.max(1, target))
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        let mantissa: Double = residual <= 1.5 ? 1 : residual <= 3 ? 2 : residual <= 7 ? 5 : 10
        return mantissa * magnitude
    }

    /// Ticks at multiples of a 1-2-5 step inside [low, high], labelled with just enough decimals.
    public static func linear(_ low: Double, _ high: Double, target: Int = 6) -> [Tick] {
        guard low.isFinite, high.isFinite else { return [] }
        if low == high { return [Tick(value: low, label: format(low, step: Swift.max(abs(low), 1) / 10))] }
        let (a, b) = (Swift.min(low, high), Swift.max(low, high))
        let step = niceStep(span: b - a, target: target)
        let first = (a / step - 1e-9).rounded(.up), last = (b / step + 1e-9).rounded(.down)
        guard last - first < 1000 else { return [] }
        return stride(from: first, through: last, by: 1).map { k in
            let v = k * step
            return Tick(value: v, label: format(v, step: step))
        }
    }

    /// Ticks for a logarithmic axis over [low, high] (both > 0): whole decades (every k-th when there are many),
    /// or 1-2-5 multiples when the range spans less than about one decade.
    public static func log(_ low: Double, _ high: Double, target: Int = 6) -> (major: [Tick], minor: [Double]) {
        guard low > 0, high > low, low.isFinite, high.isFinite else { return ([], []) }
        let lo = log10(low), hi = log10(high)
        let firstDecade = Int((lo - 1e-9).rounded(.up)), lastDecade = Int((hi + 1e-9).rounded(.down))
        let decades = lastDecade - firstDecade + 1
        if decades >= 2 {
            let every = Swift.max(1, Int((Double(decades) / Double(target)).rounded(.up)))
            let majors = stride(from: firstDecade, through: lastDecade, by: 1).filter { $0 % every == 0 }
                .map { Tick(value: pow(10, Double($0)), label: decadeLabel($0)) }
            var minors: [Double] = []
            if every == 1 && hi - lo <= 12 {
                for e in (firstDecade - 1)...lastDecade {
                    for m in 2...9 {
                        let v = Double(m) * pow(10, Double(e))
                        if v >= low && v <= high { minors.append(v) }
                    }
                }
            } else if every > 1 {
                minors = stride(from: firstDecade, through: lastDecade, by: 1).filter { $0 % every != 0 }.map { pow(10, Double($0)) }
            }
            return (majors, minors)
        }
        // Less than two decades: label 1, 2, 5 (and 10) multiples; fall back to linear ticks if too few.
        var values: [Double] = []
        for e in (firstDecade - 2)...(lastDecade + 1) {
            for m in [1.0, 2, 5] {
                let v = m * pow(10, Double(e))
                if v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9) { values.append(v) }
            }
        }
        if values.count < 3 { return (linear(low, high, target: Swift.max(3, target - 2)).filter { $0.value > 0 }, []) }
        return (values.map { Tick(value: $0, label: shortNumber($0)) }, [])
    }

    /// "10⁻³", "10⁰", "10⁴".
    public static func decadeLabel(_ exponent: Int) -> String {
        if exponent == 0 { return "1" }
        if exponent == 1 { return "10" }
        return "10" + superscript(exponent)
    }

    static func superscript(_ n: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (n < 0 ? "⁻" : "") + String(String(abs(n)).map { digits[Int(String($0))!] })
    }

    /// A tick label for `value` on an axis whose ticks are `step` apart: fixed-point with the decimals the step
    /// needs (so 0.1 + 0.2 prints as 0.3), or "m×10ⁿ" for very large or small magnitudes.
    public static func format(_ value: Double, step: Double) -> String {
        let step = abs(step)
        if value == 0 || abs(value) < step * 1e-6 { return "0" }
        let magnitude = Swift.max(abs(value), step)
        if magnitude >= 1e6 || magnitude < 1e-4 {
            let exponent = Int(floor(log10(magnitude)))
            let mantissa = value / pow(10, Double(exponent))
            let mantissaStep = step / pow(10, Double(exponent))
            let decimals = Swift.max(0, Swift.min(6, -Int(floor(log10(mantissaStep) + 1e-9))))
            let m = trimmed(String(format: "%.\(decimals)f", mantissa))
            return (m == "1" ? "" : m == "-1" ? "−" : m.replacingOccurrences(of: "-", with: "−") + "×") + "10" + superscript(exponent)
        }
        let decimals = Swift.max(0, Swift.min(10, -Int(floor(log10(step) + 1e-9)) + (isHalfStep(step) ? 1 : 0)))
        let text = String(format: "%.\(decimals)f", value)
        return text.replacingOccurrences(of: "-", with: "−")  // a real minus sign, as typeset
    }

    private static func isHalfStep(_ step: Double) -> Bool {
        let m = step / pow(10, floor(log10(step)))
        return abs(m - 2.5) < 1e-9
    }

    private static func trimmed(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    /// A short, round-trip-free rendering with 4 significant digits for summaries and labels:
    /// 0.0012, 3.4, 1500, 2.5e+07.
    public static func shortNumber(_ v: Double, significant: Int = 4) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e6 || a < 1e-4 {
            var s = String(format: "%.\(significant - 1)e", v)
            if let e = s.firstIndex(of: "e") {
                let mantissa = trimmed(String(s[..<e]))
                s = mantissa + String(s[e...])
            }
            return s
        }
        let decimals = Swift.max(0, significant - 1 - Int(floor(log10(a))))
        return trimmed(String(format: "%.\(decimals)f", v))
    }
}
