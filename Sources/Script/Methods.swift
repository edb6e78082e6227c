// Methods of strings, lists and dicts: `"abc".upper()`, `xs.append(4)`, `d.items()`.

/// Methods are built-ins bound to their receiver. Those that change a list or dict (`append`, `update`, …)
/// work on a variable: the interpreter hands them the variable's value in a box and stores it back.
enum Methods {
    /// The value a changing method works on (used by one call on one thread).
    final class Box: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    /// Whether `name` is a method that changes its list or dict (a switch: cheaper per call than hashing the name).
    static func isMutating(_ name: String) -> Bool {
        switch name {
        case "append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear", "update", "setdefault": return true
        default: return false
        }
    }

    static let stringMethods = ["upper", "lower", "strip", "lstrip", "rstrip", "split", "join", "replace", "startswith",
                                "endswith", "format", "find", "count", "splitlines", "title"]
    static let listMethods = ["append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear", "index", "count", "copy"]
    static let dictMethods = ["keys", "values", "items", "get", "copy", "update", "pop", "setdefault", "clear"]

    static func names(of value: Value) -> [String] {
        switch value {
        case .string: return stringMethods
        case .list: return listMethods
        case .dict: return dictMethods
        default: return []
        }
    }

    static func canMutate(_ value: Value) -> Bool {
        switch value {
        case .list, .dict: return true
        default: return false
        }
    }

    private static func method(_ name: String, _ parameters: [BuiltinParameter], _ description: String,
                               body: @escaping Builtin.Body) -> Builtin {
        Builtin(name, .values, parameters, description: description, example: "", body: body)
    }

    /// A method that leaves its receiver as it is, bound to it; nil when there is none by that name.
    static func bound(_ name: String, to receiver: Value) -> Builtin? {
        switch receiver {
        case .string(let s): return stringMethod(name, s)
        case .list(let items):
            switch name {
            case "index":
                return method(name, [.required("x")], "The position of the first item equal to x.") { args, _ in
                    guard let i = items.firstIndex(where: { valuesEqual($0, args["x"]) }) else {
                        throw ScriptError.value("\(repr(args["x"])) is not in the list")
                    }
                    return .number(Double(i))
                }
            case "count":
                return method(name, [.required("x")], "How many items equal x.") { args, _ in
                    .number(Double(items.filter { valuesEqual($0, args["x"]) }.count))
                }
            case "copy": return method(name, [], "A copy of the list.") { _, _ in .list(items) }
            default: return nil
            }
        case .dict(let d):
            switch name {
            case "keys": return method(name, [], "The keys, in insertion order, as a list.") { _, _ in .list(d.keys) }
            case "values": return method(name, [], "The values, in insertion order, as a list.") { _, _ in .list(d.values) }
            case "items":
                return method(name, [], "The (key, value) pairs, in insertion order, as a list of tuples.") { _, _ in
                    .list(d.entries.map { .tuple([$0.key, $0.value]) })
                }
            case "get":
                return method(name, [.required("key"), .optional("default", .none)], "The value for key, or default when it is missing.") { args, _ in
                    try d.value(for: args["key"]) ?? args["default"]
                }
            case "copy": return method(name, [], "A copy of the dict.") { _, _ in .dict(d) }
            default: return nil
            }
        default:
            return nil
        }
    }

    private static func stringMethod(_ name: String, _ s: String) -> Builtin? {
        @Sendable func strip(_ args: CallArguments, leading: Bool, trailing: Bool) throws -> Value {
            let characters: Set<Character> = args.isNone("chars") ? [] : Set(try args.string("chars"))
            let strippable: (Character) -> Bool = { characters.isEmpty ? $0.isWhitespace : characters.contains($0) }
            var result = Substring(s)
            if leading { result = result.drop(while: strippable) }
            if trailing { while let last = result.last, strippable(last) { result = result.dropLast() } }
            return .string(String(result))
        }
        @Sendable func affix(_ args: CallArguments, _ test: (String) -> Bool) throws -> Value {
            switch args["prefix"] {
            case .string(let p): return .bool(test(p))
            case .tuple(let options), .list(let options):
                return .bool(try options.contains { option in
                    guard case .string(let p) = option else { throw args.error("expects strings, got a \(option.typeName)") }
                    return test(p)
                })
            case let other: throw args.error("expects a string or a tuple of strings, got a \(other.typeName)")
            }
        }
        switch name {
        case "upper": return method(name, [], "The string in upper case.") { _, _ in .string(s.uppercased()) }
        case "lower": return method(name, [], "The string in lower case.") { _, _ in .string(s.lowercased()) }
        case "title": return method(name, [], "The string with each word capitalised.") { _, _ in .string(s.capitalized) }
        case "strip": return method(name, [.optional("chars", .none)], "The string without leading and trailing whitespace (or chars).") { args, _ in
            try strip(args, leading: true, trailing: true) }
        case "lstrip": return method(name, [.optional("chars", .none)], "The string without leading whitespace (or chars).") { args, _ in
            try strip(args, leading: true, trailing: false) }
        case "rstrip": return method(name, [.optional("chars", .none)], "The string without trailing whitespace (or chars).") { args, _ in
            try strip(args, leading: false, trailing: true) }
        case "split":
            return method(name, [.optional("sep", .none), .optional("maxsplit", .number(-1))],
                          "The words of the string (split at runs of whitespace), or the parts between each sep.") { args, _ in
                let limit = try args.integer("maxsplit")
                let maxSplits = limit < 0 ? Int.max : limit
                if args.isNone("sep") {
                    return .list(s.split(maxSplits: maxSplits, omittingEmptySubsequences: true, whereSeparator: \.isWhitespace)
                        .map { .string(String($0)) })
                }
                let separator = try args.string("sep")
                guard !separator.isEmpty else { throw ScriptError.value("split(): empty separator") }
                var parts: [Value] = []
                var rest = Substring(s)
                while parts.count < maxSplits, let range = rest.range(of: separator) {
                    parts.append(.string(String(rest[..<range.lowerBound])))
                    rest = rest[range.upperBound...]
                }
                return .list(parts + [.string(String(rest))])
            }
        case "splitlines":
            return method(name, [], "The lines of the string.") { _, _ in
                .list(s.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { .string(String($0)) }
                    .dropLast(s.last?.isNewline == true ? 1 : 0))
            }
        case "join":
            return method(name, [.required("items")], "The items (strings) joined with this string between them.") { args, interpreter in
                let parts = try interpreter.elements(of: args["items"]).map { item -> String in
                    guard case .string(let part) = item else {
                        throw args.error("expects strings, found a \(item.typeName)", hint: "convert first: `\", \".join([str(x) for x in xs])`")
                    }
                    return part
                }
                return .string(parts.joined(separator: s))
            }
        case "replace":
            return method(name, [.required("old"), .required("new")], "The string with every `old` replaced by `new`.") { args, _ in
                let old = try args.string("old")
                guard !old.isEmpty else { throw ScriptError.value("replace(): the text to replace is empty") }
                return .string(s.replacing(old, with: try args.string("new")))
            }
        case "startswith":
            return method(name, [.required("prefix")], "Whether the string starts with prefix (or one of a tuple of them).") { args, _ in
                try affix(args) { s.hasPrefix($0) }
            }
        case "endswith":
            return method(name, [.required("prefix")], "Whether the string ends with the suffix (or one of a tuple of them).") { args, _ in
                try affix(args) { s.hasSuffix($0) }
            }
        case "find":
            return method(name, [.required("sub")], "The position of the first sub in the string, or -1.") { args, _ in
                guard let range = s.range(of: try args.string("sub")) else { return .number(-1) }
                return .number(Double(s.distance(from: s.startIndex, to: range.lowerBound)))
            }
        case "count":
            return method(name, [.required("sub")], "How many times sub occurs, not overlapping.") { args, _ in
                let sub = try args.string("sub")
                guard !sub.isEmpty else { return .number(Double(s.count + 1)) }
                return .number(Double(s.ranges(of: sub).count))
            }
        case "format":
            return method(name, [.variadic("values"), .keywords("names")],
                          "The string with its `{}` fields filled in, as Python's str.format.") { args, _ in
                guard case .dict(let named) = args["names"] else { return .string(s) }
                return .string(try formatTemplate(s, args.rest, named))
            }
        default:
            return nil
        }
    }

    /// Calls a method that changes the list or dict in `box`.
    static func callMutating(_ name: String, on box: Box, _ positional: [Value], _ keywords: [(String, Value)],
                             _ interpreter: Interpreter) throws -> Value {
        let builtin: Builtin
        switch (box.value, name) {
        case (.list, "append"):
            builtin = method(name, [.required("x")], "Adds x at the end.") { args, _ in
                try box.mutateList { $0.append(args["x"]) }
            }
        case (.list, "extend"):
            builtin = method(name, [.required("items")], "Adds the items at the end.") { args, interpreter in
                let items = try interpreter.elements(of: args["items"])
                return try box.mutateList { $0 += items }
            }
        case (.list, "insert"):
            builtin = method(name, [.required("index"), .required("x")], "Inserts x before position index.") { args, _ in
                let i = try args.integer("index")
                return try box.mutateList { items in
                    let position = i < 0 ? max(0, items.count + i) : min(i, items.count)
                    items.insert(args["x"], at: position)
                }
            }
        case (.list, "pop"):
            builtin = method(name, [.optional("index", .number(-1))], "Removes and returns the item at index (the last one by default).") { args, _ in
                var popped = Value.none
                let i = try args.integer("index")
                _ = try box.mutateList { items in
                    guard !items.isEmpty else { throw ScriptError.index("pop from an empty list") }
                    let position = i < 0 ? items.count + i : i
                    guard position >= 0 && position < items.count else {
                        throw ScriptError.index("pop index \(i) is out of range for a list of length \(items.count)")
                    }
                    popped = items.remove(at: position)
                }
                return popped
            }
        case (.list, "remove"):
            builtin = method(name, [.required("x")], "Removes the first item equal to x.") { args, _ in
                try box.mutateList { items in
                    guard let i = items.firstIndex(where: { valuesEqual($0, args["x"]) }) else {
                        throw ScriptError.value("\(repr(args["x"])) is not in the list")
                    }
                    items.remove(at: i)
                }
            }
        case (.list, "sort"):
            builtin = method(name, [.optional("key", .none), .optional("reverse", .bool(false))], "Sorts the list in place.") { args, interpreter in
                let sorted = try sortedValues(try interpreter.elements(of: box.value), key: args["key"],
                                              reverse: try args.bool("reverse"), interpreter)
                return try box.mutateList { $0 = sorted }
            }
        case (.list, "reverse"):
            builtin = method(name, [], "Reverses the list in place.") { _, _ in try box.mutateList { $0.reverse() } }
        case (.list, "clear"), (.dict, "clear"):
            builtin = method(name, [], "Removes every item.") { _, _ in
                if case .list = box.value { box.value = .list([]) } else { box.value = .dict(DictValue()) }
                return .none
            }
        case (.dict, "update"):
            builtin = method(name, [.optional("other", .dict(DictValue())), .keywords("names")], "Adds the other dict's entries (and name=value ones).") { args, _ in
                guard case .dict(var d) = box.value else { return .none }
                for source in [args["other"], args["names"]] {
                    guard case .dict(let other) = source else { throw args.error("expects a dict, got a \(source.typeName)") }
                    for (key, value) in other.entries { try d.set(value, for: key) }
                }
                box.value = .dict(d)
                return .none
            }
        case (.dict, "pop"):
            let hasDefault = positional.count > 1 || keywords.contains(where: { $0.0 == "default" })
            builtin = method(name, [.required("key"), .optional("default", .none)], "Removes key and returns its value (or default).") { args, _ in
                guard case .dict(var d) = box.value else { return .none }
                guard let value = try d.value(for: args["key"]) else {
                    if hasDefault { return args["default"] }
                    throw ScriptError.key("\(repr(args["key"])) is not a key of this dict")
                }
                d = try DictValue(d.entries.filter { !valuesEqual($0.key, args["key"]) }.map { ($0.key, $0.value) })
                box.value = .dict(d)
                return value
            }
        case (.dict, "setdefault"):
            builtin = method(name, [.required("key"), .optional("default", .none)], "The value for key, first setting it to default when missing.") { args, _ in
                guard case .dict(var d) = box.value else { return .none }
                if let value = try d.value(for: args["key"]) { return value }
                try d.set(args["default"], for: args["key"])
                box.value = .dict(d)
                return args["default"]
            }
        default:
            throw ScriptError(kind: .attributeError, message: "a \(box.value.typeName) has no method `\(name)`",
                              hint: "a \(box.value.typeName) has " + names(of: box.value).map { "`\($0)`" }.joined(separator: ", "))
        }
        return try interpreter.call(.builtin(builtin), positional, keywords)
    }
}

extension Methods.Box {
    /// Changes the boxed list in place (its storage is not shared while the variable is out of the way).
    func mutateList(_ change: (inout [Value]) throws -> Void) throws -> Value {
        guard case .list(var items) = value else { return .none }
        value = .none
        defer { value = .list(items) }
        try change(&items)
        guard items.count <= Interpreter.maximumListLength else {
            throw ScriptError.value("the list would be too long (the limit is \(Interpreter.maximumListLength) items)")
        }
        return .none
    }
}

extension CallArguments {
    func error(_ message: String, hint: String) -> ScriptError {
        .type("\(builtin.name)() \(message)", hint: hint)
    }
}

/// Sorted as Python's `sorted` does: stable, by `key(item)` when a key function is given, largest first with `reverse`.
func sortedValues(_ items: [Value], key: Value, reverse: Bool, _ interpreter: Interpreter) throws -> [Value] {
    let keys: [Value]
    if case .none = key { keys = items } else { keys = try items.map { try interpreter.call(key, [$0], []) } }
    let order = try Array(items.indices).sorted { a, b in
        let c = try interpreter.order(keys[a], keys[b])
        return reverse ? c > 0 : c < 0
    }
    return order.map { items[$0] }
}
