import Tensor

extension Builtins {
    static let values: [Builtin] = [
        Builtin("range", .values, [.required("start_or_stop"), .optional("stop", .none), .optional("step", .number(1))],
                description: "Returns the whole numbers from `start` up to, but not including, `stop`. `range(n)` counts 0, 1, …, n-1, `range(a, b)` counts a, …, b-1, and `range(a, b, step)` counts in steps of `step`. Ranges are lazy, so even `range(1e9)` costs nothing until a loop walks through it.",
                example: "for i in range(3):\n    print(i)\nrange(2, 10, 2)") { args, _ in
            let bound = Int(Int64.max / 4)
            var start = try args.integer("start_or_stop", range: -bound...bound)
            var stop = 0
            if args.isNone("stop") { (start, stop) = (0, start) } else { stop = try args.integer("stop", range: -bound...bound) }
            let step = try args.integer("step", range: -bound...bound)
            guard step != 0 else { throw ScriptError.value("range() step must not be zero") }
            return .range(RangeValue(start: start, stop: stop, step: step))
        },
        Builtin("len", .values, [.required("x")],
                description: "Returns how many items a list, tuple, dict, string, range or tensor (along its first axis) has.",
                example: "len([1, 2, 3])") { args, _ in
            switch args["x"] {
            case .list(let items), .tuple(let items): return .number(Double(items.count))
            case .dict(let d): return .number(Double(d.count))
            case .string(let s): return .number(Double(s.count))
            case .range(let r): return .number(Double(r.count))
            case .tensor(let t) where t.rank >= 1: return .number(Double(t.shape[0]))
            case let other: throw args.error("expects a list, tuple, dict, string, range or tensor (rank ≥ 1), got \(other.typeName)")
            }
        },
        Builtin("str", .values, [.required("x")],
                description: "Returns the text form of a value, as `print` would show it. Use it to join numbers into strings.",
                example: "\"step \" + str(3)") { args, _ in
            .string(str(args["x"]))
        },
        Builtin("tensor", .values, [.required("x")],
                description: "Makes a tensor from a number or a list of numbers. Lists of equally long lists (nested to any depth) give more axes, as torch.tensor does.",
                example: "tensor(mape(atk)) <= 0.01\ntensor([[1, 2], [3, 4]])") { args, _ in
            func flatten(_ value: Value) throws -> (shape: [Int], data: [Float]) {
                switch value {
                case .number(let x): return ([], [Float(x)])
                case .bool(let b): return ([], [b ? 1 : 0])
                case .tensor(let t): return (t.shape, t.data)
                case .range(let r): return ([r.count], (0..<r.count).map { Float(r.element($0)) })
                case .list(let items), .tuple(let items):
                    let parts = try items.map(flatten)
                    guard parts.allSatisfy({ $0.shape == parts.first?.shape }) else {
                        throw ScriptError.shape("tensor() needs a rectangular list: its items have shapes \(Set(parts.map { "\($0.shape)" }).sorted().joined(separator: ", "))")
                    }
                    guard parts.count * (parts.first?.data.count ?? 0) <= Interpreter.maximumTensorElements else {
                        throw ScriptError.memory("tensor(): too many elements (the limit is \(Interpreter.maximumTensorElements))")
                    }
                    return ([parts.count] + (parts.first?.shape ?? []), Array(parts.map(\.data).joined()))
                default: throw args.error("expects numbers, lists of numbers or tensors, found a \(value.typeName)")
                }
            }
            let (shape, data) = try flatten(args["x"])
            return .tensor(Tensor(shape: shape, data: data))
        },
        Builtin("list", .values, [.required("x")],
                description: "Returns the items of a range, string, tuple, dict (its keys) or tensor (along its first axis) as a list.",
                example: "list(range(4))") { args, _ in
            switch args["x"] {
            case .list(let items), .tuple(let items): return .list(items)
            case .dict(let d): return .list(d.keys)
            case .string(let s): return .list(s.map { .string(String($0)) })
            case .range(let r):
                guard r.count <= Interpreter.maximumListLength else {
                    throw ScriptError.value("list(): the range has \(r.count) numbers (the limit is \(Interpreter.maximumListLength))")
                }
                return .list((0..<r.count).map { .number(Double(r.element($0))) })
            case .tensor(let t) where t.rank >= 1:
                return .list((0..<t.shape[0]).map { t.rank == 1 ? .number(widen(t.data[$0])) : .tensor(t.slice($0)) })
            case let other: throw args.error("expects a list, string, range or tensor, got \(other.typeName)")
            }
        },
    ]
}
