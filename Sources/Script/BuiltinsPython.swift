// Python's everyday built-ins: enumerate, zip, sorted, reversed, any, all, round, int, float, bool, dict, tuple, format.
import Foundation

extension Builtins {
    static let python: [Builtin] = [
        Builtin("enumerate", .values, [.required("items"), .optional("start", .number(0))],
                description: "Returns (index, item) pairs for the items of a list, tuple, string, range, dict or tensor, counting from `start`.",
                example: "for i, name in enumerate([\"msp\", \"energy\"]):\n    print(i, name)") { args, interpreter in
            let start = try args.number("start")
            let items = try interpreter.elements(of: args["items"])
            return .list(items.enumerated().map { .tuple([.number(start + Double($0.offset)), $0.element]) })
        },
        Builtin("zip", .values, [.variadic("sequences")],
                description: "Returns tuples of the i-th items of each sequence, as long as the shortest.",
                example: "names = [\"msp\", \"energy\"]\nscores = [0.91, 0.88]\n{n: s for n, s in zip(names, scores)}") { args, interpreter in
            let sequences = try args.rest.map(interpreter.elements)
            let count = sequences.map(\.count).min() ?? 0
            return .list((0..<count).map { i in .tuple(sequences.map { $0[i] }) })
        },
        Builtin("sorted", .values, [.required("items"), .optional("key", .none), .optional("reverse", .bool(false))],
                description: "Returns the items as a new list, smallest first (stable). `key` is a function whose result is compared instead of the item; `reverse=true` puts the largest first. Numbers, strings, and lists or tuples (item by item) can be compared.",
                example: "sorted([3, 1, 2])\nsorted({\"a\": 0.9, \"b\": 0.7}.items(), key=lambda kv: kv[1])") { args, interpreter in
            .list(try sortedValues(try interpreter.elements(of: args["items"]), key: args["key"], reverse: try args.bool("reverse"), interpreter))
        },
        Builtin("reversed", .values, [.required("items")],
                description: "Returns the items in reverse order, as a list.",
                example: "reversed(range(3))") { args, interpreter in
            .list(try interpreter.elements(of: args["items"]).reversed())
        },
        Builtin("any", .values, [.required("items")],
                description: "Returns true when at least one item is true.",
                example: "any(x > 2 for x in [1, 2, 3])") { args, interpreter in
            .bool(try interpreter.elements(of: args["items"]).contains { try truthiness($0) })
        },
        Builtin("all", .values, [.required("items")],
                description: "Returns true when every item is true (and for no items).",
                example: "all(x > 0 for x in [1, 2, 3])") { args, interpreter in
            .bool(try interpreter.elements(of: args["items"]).allSatisfy { try truthiness($0) })
        },
        Builtin("round", .values, [.required("x"), .optional("ndigits", .none)],
                description: "Returns x rounded to `ndigits` decimals (to a whole number without it), halves to even as in Python.",
                example: "round(2.675, 2)\nround(2.5)") { args, _ in
            let x = try args.number("x")
            if args.isNone("ndigits") { return .number(x.rounded(.toNearestOrEven)) }
            let digits = try args.integer("ndigits", range: -300...300)
            guard x.isFinite else { return .number(x) }
            // Like Python, round the exact binary value (2.675 is 2.67499…, so it gives 2.67): printf does that.
            if digits >= 0 { return .number(Double(String(format: "%.\(digits)f", x)) ?? x) }
            let scale = Foundation.pow(10, Double(digits))
            let scaled = x * scale
            guard scaled.isFinite else { return .number(x) }
            return .number(scaled.rounded(.toNearestOrEven) / scale)
        },
        Builtin("int", .values, [.required("x")],
                description: "Returns a number or a string (such as \"42\") as a whole number, dropping any fraction towards zero.",
                example: "int(\"42\") + 1\nint(-2.7)") { args, _ in
            let x = try convertible(args, "an integer") { text in Double(text).flatMap { $0 == $0.rounded() ? $0 : nil } }
            guard x.isFinite else { throw ScriptError.value("int(): cannot convert \(formatNumber(x)) to a whole number") }
            return .number(x.rounded(.towardZero))
        },
        Builtin("float", .values, [.required("x")],
                description: "Returns a number, or a string such as \"0.5\", \"1e-3\", \"inf\" or \"nan\", as a number.",
                example: "float(\"1e-3\") * 2") { args, _ in
            .number(try convertible(args, "a number") { text in
                switch text.lowercased() {
                case "inf", "+inf", "infinity": return .infinity
                case "-inf", "-infinity": return -.infinity
                case "nan": return .nan
                default: return Double(text)
                }
            })
        },
        Builtin("bool", .values, [.optional("x", .bool(false))],
                description: "Returns whether x is true: false for 0, \"\", none and empty lists, tuples and dicts.",
                example: "bool([])") { args, _ in
            .bool(try truthiness(args["x"]))
        },
        Builtin("dict", .values, [.optional("pairs", .none), .keywords("names")],
                description: "Returns a dict from a list of (key, value) pairs, another dict, and/or name=value arguments.",
                example: "dict(eps=5, norm=\"L2\")\ndict(zip([\"a\", \"b\"], [1, 2]))") { args, interpreter in
            var d = DictValue()
            switch args["pairs"] {
            case .none: break
            case .dict(let other): d = other
            case let pairs:
                for pair in try interpreter.elements(of: pairs) {
                    let items = try interpreter.elements(of: pair)
                    guard items.count == 2 else { throw args.error("expects (key, value) pairs, found one with \(items.count) items") }
                    try d.set(items[1], for: items[0])
                }
            }
            if case .dict(let named) = args["names"] { for (key, value) in named.entries { try d.set(value, for: key) } }
            return .dict(d)
        },
        Builtin("tuple", .values, [.optional("items", .list([]))],
                description: "Returns the items of a list, string, range, dict (its keys) or tensor as a tuple.",
                example: "tuple([1, 2])") { args, interpreter in
            .tuple(try interpreter.elements(of: args["items"]))
        },
        Builtin("format", .values, [.required("x"), .optional("spec", .string(""))],
                description: "Returns x formatted by a Python format spec, as in f-strings. `.3f` gives three decimals, `.1%` a percentage, `>8` right-aligned in 8 characters, `,` thousands separators, `e` exponent notation.",
                example: "format(0.91234, \".1%\")\nf\"{0.91234:.3f}\"") { args, _ in
            .string(try format(args["x"], spec: try args.string("spec")))
        },
        Builtin("type", .values, [.required("x")],
                description: "Returns the kind of a value as a string: \"number\", \"string\", \"list\", \"dict\", \"tensor\", \"model\", ….",
                example: "type(3)") { args, _ in
            .string(args["x"].typeName)
        },
    ]

    /// A number from a number, a boolean, a one-element tensor or a string `parse` accepts.
    private static func convertible(_ args: CallArguments, _ what: String, parse: (String) -> Double?) throws -> Double {
        if case .string(let text) = args["x"] {
            let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
            guard let x = parse(trimmed) else { throw ScriptError.value("\(args.builtin.name)(): \(quote(text)) is not \(what)") }
            return x
        }
        return try args.number("x")
    }
}
