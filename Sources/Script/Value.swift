import Foundation
import Tensor

/// Everything a variable can hold. Lists and tensors are values: assigning them copies (lazily, copy-on-write),
/// so changing `b[0]` after `b = a` leaves `a` as it was.
enum Value: Sendable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case none
    case list([Value])
    /// `(1, "a")`: a fixed sequence, from tuple syntax, unpacking and functions such as `enumerate`.
    case tuple([Value])
    /// `{"msp": 0.5}`: keys in insertion order.
    case dict(DictValue)
    // The larger payloads are boxed, so a value stays three words wide and copies cheaply.
    indirect case range(RangeValue)
    case tensor(Tensor)
    indirect case builtin(Builtin)
    indirect case function(UserFunction)
    /// Library objects: models, layers, attacks, plots. Shared by reference: `step(atk, 10)` advances
    /// the attack every name for it sees.
    case object(any ScriptObject)

    /// The items of a list or a tuple (which built-ins accept alike: `size=[28, 28]` or `size=(28, 28)`).
    var sequenceItems: [Value]? {
        switch self {
        case .list(let items), .tuple(let items): return items
        default: return nil
        }
    }

    var typeName: String {
        switch self {
        case .number: return "number"
        case .string: return "string"
        case .bool: return "bool"
        case .none: return "none"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .range: return "range"
        case .tensor: return "tensor"
        case .builtin, .function: return "function"
        case .object(let o): return o.typeName
        }
    }
}

/// What a dict key can be: numbers (booleans count as 0 and 1, as in Python), strings, none and tuples of these.
enum DictKey: Hashable, Sendable {
    case number(Double)
    case string(String)
    case none
    case tuple([DictKey])

    init(_ value: Value) throws {
        switch value {
        case .number(let x): self = .number(x == 0 ? 0 : x)
        case .bool(let b): self = .number(b ? 1 : 0)
        case .string(let s): self = .string(s)
        case .none: self = .none
        case .tuple(let items): self = .tuple(try items.map(DictKey.init))
        default:
            throw ScriptError.type("a \(value.typeName) cannot be a dict key", hint: "keys are numbers, strings, none or tuples of these")
        }
    }
}

/// A dict's entries in insertion order, with a hash index from key to position.
struct DictValue: Sendable {
    private(set) var keys: [Value] = []
    private(set) var values: [Value] = []
    private var positions: [DictKey: Int] = [:]

    init() {}

    /// Later duplicates replace earlier values, keeping the first key's place, as Python's dict literal does.
    init(_ entries: [(Value, Value)]) throws {
        for (key, value) in entries { try set(value, for: key) }
    }

    var count: Int { keys.count }
    var entries: [(key: Value, value: Value)] { Array(zip(keys, values)).map { (key: $0.0, value: $0.1) } }

    func value(for key: Value) throws -> Value? {
        try positions[DictKey(key)].map { values[$0] }
    }

    mutating func set(_ value: Value, for key: Value) throws {
        let k = try DictKey(key)
        if let i = positions[k] {
            values[i] = value
        } else {
            positions[k] = keys.count
            keys.append(key)
            values.append(value)
        }
    }
}

/// `range(start, stop, step)`: lazy, so `range(1e9)` costs nothing until iterated.
struct RangeValue: Sendable, Equatable {
    var start: Int
    var stop: Int
    var step: Int

    var count: Int {
        if step > 0 { return stop > start ? (stop - start + step - 1) / step : 0 }
        return start > stop ? (start - stop - step - 1) / -step : 0
    }

    func element(_ i: Int) -> Int { start + i * step }
}

/// A function defined with `def` or `lambda`. It remembers the source of its cell so errors inside it can quote the
/// right line, and the local variables around it when it was made inside another function (a closure, by value).
struct UserFunction: Sendable {
    var declaration: FunctionDeclaration
    var defaults: [Value?]
    var source: String
    /// The frame around it when it was made (the start of its own frame's layout); empty at top level.
    var captured: [Value?] = []

    var signature: String {
        let parameters = zip(declaration.parameters, defaults).map { parameter, value in
            value.map { "\(parameter.name)=\(repr($0))" } ?? parameter.name
        }
        return "\(declaration.name)(\(parameters.joined(separator: ", ")))"
    }
}

// MARK: Text forms

/// Numbers print like Python's, except that whole numbers drop the ".0": `1 + 2` shows `3`.
func formatNumber(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    if x == x.rounded() && abs(x) < 1e16 { return String(Int64(x)) }
    return "\(x)"
}

/// Float32 values from tensors, shown with Float precision (0.3, not 0.30000001192092896).
func formatFloat(_ x: Float) -> String {
    formatNumber(widen(x))
}

/// A Float as the shortest Double that prints the same, so scalars read out of tensors look clean.
func widen(_ x: Float) -> Double {
    if x.isNaN || x.isInfinite || (x == x.rounded() && abs(x) < 1e16) { return Double(x) }
    return Double("\(x)") ?? Double(x)
}

func quote(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default: out.unicodeScalars.append(c)
        }
    }
    return out + "\""
}

func tensorSummary(_ t: Tensor) -> String {
    let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
    guard t.count > 0 else { return "Tensor(shape=\(shape))" }
    return "Tensor(shape=\(shape), min=\(formatFloat(t.min()!)), max=\(formatFloat(t.max()!)), mean=\(formatFloat(t.mean())))"
}

/// The form a value takes inside a list or as a cell result: strings quoted.
func repr(_ value: Value) -> String {
    switch value {
    case .string(let s): return quote(s)
    case .list(let items):
        return "[" + reprItems(items) + "]"
    case .tuple(let items):
        return "(" + reprItems(items) + (items.count == 1 ? ",)" : ")")
    case .dict(let d):
        let shown = d.entries.prefix(100).map { repr($0.key) + ": " + repr($0.value) }
        return "{" + shown.joined(separator: ", ") + (d.count > 100 ? ", … (\(d.count) items)" : "") + "}"
    default: return str(value)
    }
}

private func reprItems(_ items: [Value]) -> String {
    items.prefix(100).map(repr).joined(separator: ", ") + (items.count > 100 ? ", … (\(items.count) items)" : "")
}

/// The form `print` uses: strings as they are.
func str(_ value: Value) -> String {
    switch value {
    case .number(let x): return formatNumber(x)
    case .string(let s): return s
    case .bool(let b): return b ? "true" : "false"
    case .none: return "none"
    case .list, .tuple, .dict: return repr(value)
    case .range(let r): return r.step == 1 ? "range(\(r.start), \(r.stop))" : "range(\(r.start), \(r.stop), \(r.step))"
    case .tensor(let t): return tensorSummary(t)
    case .builtin(let b): return b.signature
    case .function(let f): return f.signature
    case .object(let o as ErrorObject): return o.error.message
    case .object(let o): return o.summary
    }
}

// MARK: Equality and truth

func valuesEqual(_ a: Value, _ b: Value) -> Bool {
    switch (a, b) {
    case (.number(let x), .number(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.number(let x), .bool(let y)), (.bool(let y), .number(let x)): return x == (y ? 1 : 0)
    case (.string(let x), .string(let y)): return x == y
    case (.none, .none): return true
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)): return x.count == y.count && zip(x, y).allSatisfy(valuesEqual)
    case (.dict(let x), .dict(let y)):
        return x.count == y.count && x.entries.allSatisfy { entry in
            (try? y.value(for: entry.key)).flatMap { $0 }.map { valuesEqual($0, entry.value) } ?? false
        }
    case (.range(let x), .range(let y)): return x == y
    case (.tensor(let x), .tensor(let y)): return x == y
    case (.builtin(let x), .builtin(let y)): return x.name == y.name
    // Two functions are the same when they come from the same `def` in the same cell.
    case (.function(let x), .function(let y)):
        return x.declaration.name == y.declaration.name && x.declaration.position == y.declaration.position && x.source == y.source
    case (.object(let x), .object(let y)): return x === y
    default: return false
    }
}

func truthiness(_ value: Value) throws -> Bool {
    switch value {
    case .number(let x): return x != 0 && !x.isNaN
    case .string(let s): return !s.isEmpty
    case .bool(let b): return b
    case .none: return false
    case .list(let items), .tuple(let items): return !items.isEmpty
    case .dict(let d): return d.count > 0
    case .range(let r): return r.count > 0
    case .tensor(let t):
        guard t.count == 1 else {
            throw ScriptError.type("the truth value of a tensor with \(t.count) elements is ambiguous",
                                   hint: "reduce it first, e.g. `max(t) > 0` or `sum(t == 0) == 0`")
        }
        return t.data[0] != 0
    case .builtin, .function, .object: return true
    }
}

/// A library object the language can hold: it names its type, lists and answers its attributes,
/// and shows itself.
protocol ScriptObject: AnyObject, Sendable {
    var typeName: String { get }
    var attributeNames: [String] { get }
    func attribute(_ name: String) throws -> Value
    /// One line, as `repr` and `print` show it.
    var summary: String { get }
    /// What a cell shows when this is its value (pictures, tables) with `summary`-like text fallback.
    func richOutput() -> RichOutput
}

extension ScriptObject {
    func richOutput() -> RichOutput { RichOutput(plain: summary) }
}
