import Foundation
import Tensor

extension Builtins {
    static let tensors: [Builtin] = [
        Builtin("zeros", .tensors, [.variadic("shape")],
                description: "Returns a tensor of the given shape filled with 0. The shape can be given as separate numbers or as one list, such as another tensor's `shape`.",
                example: "x = zeros(1, 28, 28)\ny = zeros(x.shape)") { args, _ in
            .tensor(Tensor.zeros(try args.shape()))
        },
        Builtin("ones", .tensors, [.variadic("shape")],
                description: "Returns a tensor of the given shape filled with 1. The shape can be given as separate numbers or as one list.",
                example: "mask = ones(28, 28)") { args, _ in
            .tensor(Tensor.ones(try args.shape()))
        },
        Builtin("shape", .tensors, [.required("x")],
                description: "Returns the shape of a tensor as a list of numbers, the same as `x.shape`. For a list it gives its length in a list.",
                example: "shape(zeros(3, 4))") { args, _ in
            switch args["x"] {
            case .tensor(let t): return .list(t.shape.map { .number(Double($0)) })
            case .list(let items): return .list([.number(Double(items.count))])
            case .number, .bool: return .list([])
            case let other: throw args.error("expects a tensor or a list, got \(other.typeName)")
            }
        },
        Builtin("stack", .tensors, [.required("tensors")],
                description: "Stacks tensors of one shape along a new first axis, as torch.stack does. A list of N images [C, H, W] becomes a batch [N, C, H, W].",
                example: "batch = stack([x_in, x_out])\nspirals = []\nfor s in range(8):\n    spirals = spirals + [spiral(28, 28, channels=1, seed=s)]\nspirals = stack(spirals)") { args, _ in
            let parts = try tensorList(args, "tensors")
            guard parts.allSatisfy({ $0.shape == parts[0].shape }) else {
                throw ScriptError.shape("stack() needs tensors of one shape, got \(Set(parts.map { "\($0.shape)" }).sorted().joined(separator: ", "))")
            }
            return .tensor(Tensor(shape: [parts.count] + parts[0].shape, data: Array(parts.map(\.data).joined())))
        },
        Builtin("concat", .tensors, [.required("tensors")],
                description: "Joins tensors along their first axis, as torch.cat does: batches [N₁, …] and [N₂, …] become [N₁ + N₂, …].",
                example: "ood = concat([noise_batch, spiral_batch])") { args, _ in
            let parts = try tensorList(args, "tensors")
            let tail = Array(parts[0].shape.dropFirst())
            guard parts.allSatisfy({ $0.rank >= 1 && Array($0.shape.dropFirst()) == tail }) else {
                throw ScriptError.shape("concat() needs tensors that differ only in their first axis, got \(parts.map { "\($0.shape)" }.joined(separator: ", "))")
            }
            return .tensor(Tensor(shape: [parts.reduce(0) { $0 + $1.shape[0] }] + tail, data: Array(parts.map(\.data).joined())))
        },
        Builtin("sum", .tensors, [.required("x")],
                description: "Returns the sum of all elements of a tensor, or of a list or range of numbers.",
                example: "sum(ones(2, 3))") { args, _ in
            if case .tensor(let t) = args["x"] { return .number(widen(t.sum())) }
            return .number(try numbers(args["x"], "\(args.builtin.name)() x").reduce(0, +))
        },
        Builtin("argmax", .tensors, [.required("x")],
                description: "Returns the index of the largest element of a list or 1-D tensor. Ties give the first; a tensor [N, …] gives one index per row, as a list.",
                example: "argmax(encode(logits, x_in))\nargmax(encode(logits, batch))") { args, _ in
            func index(_ xs: ArraySlice<Float>) -> Value {
                var best = xs.startIndex
                for i in xs.indices where xs[i] > xs[best] || (xs[best].isNaN && !xs[i].isNaN) { best = i }
                return .number(Double(best - xs.startIndex))
            }
            switch args["x"] {
            case .tensor(let t) where t.rank == 1 && t.count > 0: return index(t.data[...])
            case .tensor(let t) where t.rank >= 2 && t.count > 0:
                let width = t.count / t.shape[0]
                return .list((0..<t.shape[0]).map { index(t.data[($0 * width)..<(($0 + 1) * width)]) })
            case .tensor: throw ScriptError.value("argmax() of an empty tensor")
            default:
                let xs = try numbers(args["x"], "\(args.builtin.name)() x")
                guard !xs.isEmpty else { throw ScriptError.value("argmax() of an empty list") }
                return index(xs.map { Float($0) }[...])
            }
        },
        Builtin("quantile", .tensors, [.required("x"), .required("q")],
                description: "Returns the q-quantile of the elements of a tensor, list or range. q lies in [0, 1]; values between neighbours interpolate linearly as in NumPy, so `quantile(x, 0.5)` is the median.",
                example: "quantile(mape(atk), 0.95)") { args, _ in
            let q = try args.number("q")
            guard q >= 0, q <= 1 else { throw ScriptError.value("quantile(): q must lie in [0, 1], got \(formatNumber(q))") }
            let xs: [Double]
            if case .tensor(let t) = args["x"] { xs = t.data.map(Double.init).sorted() } else { xs = try numbers(args["x"], "\(args.builtin.name)() x").sorted() }
            guard !xs.isEmpty else { throw ScriptError.value("quantile() of nothing") }
            let position = q * Double(xs.count - 1)
            let low = Int(position.rounded(.down)), high = min(low + 1, xs.count - 1)
            return .number(xs[low] + (xs[high] - xs[low]) * (position - Double(low)))
        },
        Builtin("mean", .tensors, [.required("x")],
                description: "Returns the mean of all elements of a tensor, or of a list or range of numbers.",
                example: "mean(noise(100, seed=1))") { args, _ in
            if case .tensor(let t) = args["x"] {
                guard t.count > 0 else { throw ScriptError.value("mean() of an empty tensor") }
                return .number(widen(t.mean()))
            }
            let xs = try numbers(args["x"], "\(args.builtin.name)() x")
            guard !xs.isEmpty else { throw ScriptError.value("mean() of an empty list") }
            return .number(xs.reduce(0, +) / Double(xs.count))
        },
        extremum("min", .minimum, description: "Returns the smallest value. With one argument, that is the smallest element of a tensor, list or range; with several arguments, the smallest of them, and if any is a tensor, the result is their element-wise minimum (with broadcasting).",
                 example: "min(3, 1, 2)\nmin(x, 0.5)"),
        extremum("max", .maximum, description: "Returns the largest value. With one argument, that is the largest element of a tensor, list or range; with several arguments, the largest of them, and if any is a tensor, the result is their element-wise maximum (with broadcasting).",
                 example: "max([3, 1, 2])\nmax(x, 0)"),
        elementwise("abs", "absolute value", Swift.abs, example: "abs(-2)"),
        elementwise("sqrt", "square root (nan for negative numbers)", { $0.squareRoot() }, example: "sqrt(sum(x * x))"),
        elementwise("exp", "exponential e^x", Foundation.exp, example: "exp(1)"),
        elementwise("log", "natural logarithm (-inf at 0, nan for negative numbers)", Foundation.log, example: "log(mean(x) + 1)"),
        Builtin("clip", .tensors, [.required("x"), .required("lo"), .required("hi")],
                description: "Limits a number or every element of a tensor to the interval [`lo`, `hi`].",
                example: "clip(x + 0.1 * noise(x.shape), 0, 1)") { args, _ in
            let lo = try args.number("lo"), hi = try args.number("hi")
            guard lo <= hi else { throw ScriptError.value("clip() needs lo ≤ hi, got lo=\(formatNumber(lo)) and hi=\(formatNumber(hi))") }
            switch args["x"] {
            case .tensor(let t): return .tensor(t.map { Swift.min(Float(hi), Swift.max(Float(lo), $0)) })
            default: return .number(Swift.min(hi, Swift.max(lo, try args.number("x"))))
            }
        },
    ]

    static let random: [Builtin] = [
        Builtin("seed", .random, [.required("n")],
                description: "Seeds the session's random generator. Every random built-in also takes its own `seed=`; without it, it draws from this generator, so re-running a notebook from the top gives identical results. A new session starts as if `seed(0)` had been called.",
                example: "seed(42)\nx = noise(28, 28)") { args, interpreter in
            let n = try args.number("n")
            guard n == n.rounded(), abs(n) < 9e15 else { throw ScriptError.value("seed() needs a whole number, got \(formatNumber(n))") }
            interpreter.random = SeededGenerator(seed: UInt64(bitPattern: Int64(n)))
            return .none
        },
        Builtin("noise", .random, [.variadic("shape"), .optional("kind", .string("uniform")), .optional("seed", .none)],
                description: "Returns a tensor of random numbers. `kind=\"uniform\"` draws from [0, 1), `kind=\"normal\"` from the standard normal distribution. With `seed=` the result depends only on the seed; otherwise it comes from the session's generator (see `seed`).",
                example: "x = noise(1, 28, 28, seed=3)\nz = noise(10, kind=\"normal\")") { args, interpreter in
            let shape = try args.shape()
            let kind = try args.string("kind")
            guard kind == "uniform" || kind == "normal" else {
                throw ScriptError.value("noise(): unknown kind \(quote(kind))",
                                        hint: (closestName(to: kind, among: ["uniform", "normal"]).map { "did you mean \(quote($0))? " } ?? "") + "kind is \"uniform\" or \"normal\"")
            }
            return .tensor(try withGenerator(args, interpreter) { generator in
                kind == "uniform" ? Tensor.uniform(shape, using: &generator) : Tensor.normal(shape, using: &generator)
            })
        },
    ]

    /// Runs `body` with a generator seeded from `seed=` when given, else with the session's generator.
    static func withGenerator<T>(_ args: CallArguments, _ interpreter: Interpreter, _ body: (inout SeededGenerator) throws -> T) throws -> T {
        if let seed = try args.seed() {
            var generator = SeededGenerator(seed: seed)
            return try body(&generator)
        }
        return try body(&interpreter.random)
    }

    private static func extremum(_ name: String, _ op: BinaryOperation, description: String, example: String) -> Builtin {
        Builtin(name, .tensors, [.variadic("values")], description: description, example: example) { args, _ in
            let pick: (Double, Double) -> Double = op == .minimum ? { Swift.min($0, $1) } : { Swift.max($0, $1) }
            if args.rest.count == 1 {
                if case .tensor(let t) = args.rest[0] {
                    guard let m = op == .minimum ? t.min() : t.max() else { throw ScriptError.value("\(name)() of an empty tensor") }
                    return .number(widen(m))
                }
                let xs = try numbers(args.rest[0], "\(name)() values")
                guard let first = xs.first else { throw ScriptError.value("\(name)() of an empty list") }
                return .number(xs.dropFirst().reduce(first, pick))
            }
            guard !args.rest.isEmpty else { throw args.error("needs at least one value") }
            if args.rest.contains(where: { if case .tensor = $0 { return true } else { return false } }) {
                var result: Tensor? = nil
                for value in args.rest {
                    let t: Tensor
                    switch value {
                    case .tensor(let x): t = x
                    case .number(let x): t = Tensor(scalar: Float(x))
                    default: throw args.error("expects numbers or tensors, got \(value.typeName)")
                    }
                    if let current = result {
                        do { result = try current.applying(op, t) } catch {
                            throw ScriptError.shape("\(name)(): cannot broadcast shapes \(current.shape) and \(t.shape)")
                        }
                    } else {
                        result = t
                    }
                }
                return .tensor(result!)
            }
            let xs = try args.rest.map { value -> Double in
                guard case .number(let x) = value else { throw args.error("expects numbers, got \(value.typeName)") }
                return x
            }
            return .number(xs.dropFirst().reduce(xs[0], pick))
        }
    }

    private static func elementwise(_ name: String, _ what: String, _ f: @escaping @Sendable (Double) -> Double, example: String) -> Builtin {
        Builtin(name, .tensors, [.required("x")],
                description: "Returns the \(what) of a number, or of every element of a tensor.",
                example: example) { args, _ in
            switch args["x"] {
            case .tensor(let t): return .tensor(t.map { Float(f(Double($0))) })
            default: return .number(f(try args.number("x")))
            }
        }
    }
}

/// A non-empty list of tensors, within the size limit.
private func tensorList(_ args: CallArguments, _ name: String) throws -> [Tensor] {
    guard case .list(let items) = args[name], !items.isEmpty else { throw args.error("expects a non-empty list of tensors for `\(name)`") }
    let parts = try items.map { item -> Tensor in
        guard case .tensor(let t) = item else { throw args.error("expects tensors in `\(name)`, found a \(item.typeName)") }
        return t
    }
    guard parts.reduce(0, { $0 + $1.count }) <= Interpreter.maximumTensorElements else {
        throw ScriptError.value("\(args.builtin.name)(): the result would have more than \(Interpreter.maximumTensorElements) elements")
    }
    return parts
}
