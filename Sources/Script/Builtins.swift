import Tensor

/// How `help()` groups the built-ins.
enum BuiltinGroup: String, Sendable, CaseIterable {
    case output = "Output and interaction"
    case values = "Lists, ranges and conversions"
    case tensors = "Tensors and math"
    case random = "Randomness"
    case pictures = "Pictures and files"
    case models = "Models and attacks"
    case detectors = "Detectors and evaluation"
    case plots = "Plots"
}

struct BuiltinParameter: Sendable {
    enum Kind: Sendable { case required, optional(Value), variadic }
    var name: String
    var kind: Kind

    static func required(_ name: String) -> BuiltinParameter { .init(name: name, kind: .required) }
    static func optional(_ name: String, _ value: Value) -> BuiltinParameter { .init(name: name, kind: .optional(value)) }
    static func variadic(_ name: String) -> BuiltinParameter { .init(name: name, kind: .variadic) }
}

/// A built-in function: its signature, documentation, and implementation.
struct Builtin: Sendable {
    typealias Body = @Sendable (CallArguments, Interpreter) throws -> Value

    var name: String
    var group: BuiltinGroup
    var parameters: [BuiltinParameter]
    /// One paragraph; its first sentence is the summary `help()` lists.
    var description: String
    var example: String
    var body: Body

    init(_ name: String, _ group: BuiltinGroup, _ parameters: [BuiltinParameter], description: String, example: String,
         body: @escaping Body) {
        self.name = name
        self.group = group
        self.parameters = parameters
        self.description = description
        self.example = example
        self.body = body
    }

    var signature: String {
        let parts = parameters.map { p -> String in
            switch p.kind {
            case .required: return p.name
            case .optional(let value): return "\(p.name)=\(repr(value))"
            case .variadic: return "*\(p.name)"
            }
        }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }

    /// Exactly what `help(name)` shows.
    var documentation: String {
        let exampleLines = example.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }
        return ([signature, "", description, "", "Example:"] + exampleLines).joined(separator: "\n")
    }

    var summary: String {
        if let end = description.range(of: ". ") { return String(description[..<end.lowerBound]) + "." }
        return description
    }
}

/// Arguments bound to a built-in's parameters, with typed accessors that report uniform errors.
struct CallArguments {
    let builtin: Builtin
    var values: [String: Value]
    var rest: [Value]

    init(builtin: Builtin, positional: [Value], keywords: [(String, Value)]) throws {
        self.builtin = builtin
        let names = builtin.parameters.map(\.name)
        let bound = try bindArguments(function: builtin.name, signature: builtin.signature,
                                      parameters: builtin.parameters.map { ($0.name, $0.kind) },
                                      positional: positional, keywords: keywords, candidates: names)
        values = bound.values
        rest = bound.rest
    }

    func error(_ message: String) -> ScriptError {
        .type("\(builtin.name)() \(message)", hint: "signature: \(builtin.signature)")
    }

    subscript(_ name: String) -> Value { values[name] ?? .none }

    func isNone(_ name: String) -> Bool {
        if case .none = self[name] { return true }
        return false
    }

    func number(_ name: String) throws -> Double {
        guard let x = scalarNumber(self[name]) else { throw error("expects a number for `\(name)`, got \(self[name].typeName)") }
        return x
    }

    func integer(_ name: String, range: ClosedRange<Int> = Int(Int32.min)...Int(Int32.max)) throws -> Int {
        try integerValue(self[name], what: "`\(name)`", range: range, function: builtin)
    }

    func string(_ name: String) throws -> String {
        guard case .string(let s) = self[name] else { throw error("expects a string for `\(name)`, got \(self[name].typeName)") }
        return s
    }

    func bool(_ name: String) throws -> Bool {
        switch self[name] {
        case .bool(let b): return b
        case .number(let x) where x == 0 || x == 1: return x == 1
        case let other: throw error("expects true or false for `\(name)`, got \(other.typeName)")
        }
    }

    func tensor(_ name: String) throws -> Tensor {
        guard case .tensor(let t) = self[name] else { throw error("expects a tensor for `\(name)`, got \(self[name].typeName)") }
        return t
    }

    /// A seed from `seed=`, or nil when it was not given.
    func seed() throws -> UInt64? {
        if isNone("seed") { return nil }
        let n = try number("seed")
        guard n == n.rounded(), abs(n) < 9e15 else { throw error("expects a whole number for `seed`, got \(formatNumber(n))") }
        return UInt64(bitPattern: Int64(n))
    }

    /// A shape from variadic dimensions: `zeros(2, 3)`, `zeros([2, 3])` or `zeros(t.shape)`.
    func shape() throws -> [Int] {
        var items = rest
        if items.count == 1, case .list(let inner) = items[0] { items = inner }
        let dims = try items.enumerated().map { i, v in
            try integerValue(v, what: "dimension \(i + 1)", range: 0...Int(Int32.max), function: builtin)
        }
        let (total, overflow) = dims.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, total <= Interpreter.maximumTensorElements else {
            throw ScriptError.value("\(builtin.name)(): shape \(dims) has too many elements (the limit is \(Interpreter.maximumTensorElements))")
        }
        return dims
    }
}

/// A number from a number, a Boolean (1 or 0) or a one-element tensor; nil for anything else.
func scalarNumber(_ value: Value) -> Double? {
    switch value {
    case .number(let x): return x
    case .bool(let b): return b ? 1 : 0
    case .tensor(let t) where t.count == 1: return widen(t.data[0])
    default: return nil
    }
}

/// Numbers from a tensor (flattened), a range, a list of numbers (or Booleans, or one-element tensors) or one
/// number. `what` names the argument in errors, e.g. "plot() values".
func numbers(_ value: Value, _ what: String) throws -> [Double] {
    switch value {
    case .tensor(let t): return t.data.map(widen)
    case .range(let r):
        guard r.count <= Interpreter.maximumListLength else {
            throw ScriptError.value("\(what): the range has \(r.count) numbers (the limit is \(Interpreter.maximumListLength))")
        }
        return (0..<r.count).map { Double(r.element($0)) }
    case .list(let items):
        return try items.map { item in
            guard let x = scalarNumber(item) else { throw ScriptError.type("\(what) must hold numbers, found a \(item.typeName)") }
            return x
        }
    case .number(let x): return [x]
    default: throw ScriptError.type("\(what) must be a list, range or tensor of numbers, got a \(value.typeName)")
    }
}

func integerValue(_ value: Value, what: String, range: ClosedRange<Int>, function: Builtin) throws -> Int {
    let x: Double
    switch value {
    case .number(let n): x = n
    case .tensor(let t) where t.count == 1: x = Double(t.data[0])
    default: throw ScriptError.type("\(function.name)() expects a whole number for \(what), got \(value.typeName)",
                                    hint: "signature: \(function.signature)")
    }
    guard x == x.rounded(), x >= Double(range.lowerBound), x <= Double(range.upperBound) else {
        throw ScriptError.value("\(function.name)() expects a whole number in \(range.lowerBound)...\(range.upperBound) for \(what), got \(formatNumber(x))",
                                hint: "signature: \(function.signature)")
    }
    return Int(x)
}

/// Matches positional and keyword arguments to parameters (shared by built-ins and `def` functions).
/// Parameters after a variadic one can only be given by name.
func bindArguments(function: String, signature: String, parameters: [(String, BuiltinParameter.Kind)],
                   positional: [Value], keywords: [(String, Value)], candidates: [String]) throws -> (values: [String: Value], rest: [Value]) {
    var values: [String: Value] = [:]
    var rest: [Value] = []
    let hint = "signature: \(signature)"
    let variadicIndex = parameters.firstIndex { if case .variadic = $0.1 { return true } else { return false } }
    let positionalSlots = variadicIndex ?? parameters.count
    for (i, value) in positional.enumerated() {
        if i < positionalSlots {
            values[parameters[i].0] = value
        } else if variadicIndex != nil {
            rest.append(value)
        } else {
            let takes = positionalSlots == 1 ? "1 positional argument" : "\(positionalSlots) positional arguments"
            throw ScriptError.type("\(function)() takes \(takes) but \(positional.count) were given", hint: hint)
        }
    }
    for (label, value) in keywords {
        guard let parameter = parameters.first(where: { $0.0 == label }), !isVariadic(parameter.1) else {
            let named = candidates.filter { name in parameters.contains { $0.0 == name && !isVariadic($0.1) } }
            let suggestion = closestName(to: label, among: named).map { "did you mean `\($0)`? " } ?? ""
            throw ScriptError.type("\(function)() got an unexpected keyword argument `\(label)`", hint: suggestion + hint)
        }
        guard values[label] == nil else {
            throw ScriptError.type("\(function)() got multiple values for argument `\(label)`", hint: hint)
        }
        values[label] = value
    }
    for (name, kind) in parameters where values[name] == nil {
        switch kind {
        case .required: throw ScriptError.type("\(function)() missing required argument `\(name)`", hint: hint)
        case .optional(let value): values[name] = value
        case .variadic: break
        }
    }
    return (values, rest)
}

private func isVariadic(_ kind: BuiltinParameter.Kind) -> Bool {
    if case .variadic = kind { return true }
    return false
}

/// Every built-in, in the order `help()` lists them.
enum Builtins {
    static let all: [Builtin] = output + values + tensors + random + pictures + models + attackTools + detectors + datasets + plots + patterns
    static let byName: [String: Builtin] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
}
