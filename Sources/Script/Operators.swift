import Foundation
import Tensor

// Operators: unary, arithmetic (numbers, strings, lists, tensors with broadcasting), comparisons and `in`.
extension Interpreter {

    func unary(_ op: UnaryOperator, _ operand: Value) throws -> Value {
        switch (op, operand) {
        case (.not, _): return .bool(!(try truthiness(operand)))
        case (.negate, .number(let x)): return .number(-x)
        case (.negate, .bool(let b)): return .number(b ? -1 : 0)
        case (.negate, .tensor(let t)): return .tensor(t.map { -$0 })
        case (.plus, .number), (.plus, .tensor): return operand
        case (.plus, .bool(let b)): return .number(b ? 1 : 0)
        default: throw ScriptError.type("bad operand type for unary `\(op.rawValue)`: \(operand.typeName)")
        }
    }

    func tensorOperation(_ op: BinaryOperator) -> BinaryOperation {
        switch op {
        case .add: return .add
        case .subtract: return .subtract
        case .multiply: return .multiply
        case .divide: return .divide
        case .floorDivide: return .floorDivide
        case .remainder: return .remainder
        case .power: return .power
        }
    }

    /// A flat list of numbers meeting a tensor acts as a 1-D tensor, as NumPy treats a list beside an array:
    /// `scores - msp(logits, x)` works.
    func tensorOperands(_ left: Value, _ right: Value) -> (Tensor, Tensor)? {
        func asTensor(_ v: Value) -> Tensor? {
            switch v {
            case .tensor(let t): return t
            case .list(let items):
                let values = items.compactMap(numeric)
                return values.count == items.count ? Tensor(shape: [values.count], data: values.map { Float($0) }) : nil
            default: return nil
            }
        }
        guard case .tensor = left, let b = asTensor(right) else {
            guard case .tensor(let b) = right, let a = asTensor(left) else { return nil }
            return (a, b)
        }
        return (asTensor(left)!, b)
    }

    func binary(_ op: BinaryOperator, _ left: Value, _ right: Value) throws -> Value {
        if let (a, b) = tensorOperands(left, right) {
            return .tensor(try broadcast(a, b, tensorOperation(op), symbol: op.rawValue))
        }
        switch (left, right) {
        case (.tensor(let a), _):
            if let x = numeric(right) { return .tensor(a.applying(tensorOperation(op), scalar: Float(x))) }
        case (_, .tensor(let b)):
            if let x = numeric(left) { return .tensor(b.applying(tensorOperation(op), scalar: Float(x), scalarOnLeft: true)) }
        default:
            break
        }
        if let a = numeric(left), let b = numeric(right) { return .number(try arithmetic(op, a, b)) }
        switch (op, left, right) {
        case (.add, .string(let a), .string(let b)):
            return .string(a + b)
        case (.add, .list(let a), .list(let b)):
            guard a.count + b.count <= Interpreter.maximumListLength else { throw tooLong(a.count + b.count) }
            return .list(a + b)
        case (.add, .tuple(let a), .tuple(let b)):
            guard a.count + b.count <= Interpreter.maximumListLength else { throw tooLong(a.count + b.count) }
            return .tuple(a + b)
        case (.multiply, .string, .number), (.multiply, .list, .number), (.multiply, .number, .string), (.multiply, .number, .list):
            return try repeated(left, right)
        default:
            var hint: String? = nil
            if case .string = left, right.typeName == "number" { hint = "convert the number first: \"...\" + str(x)" }
            if case .list = left, op == .add { hint = "to append, write `xs.append(value)` or `xs = xs + [value]`" }
            throw ScriptError.type("unsupported operand types for `\(op.rawValue)`: \(left.typeName) and \(right.typeName)", hint: hint)
        }
    }

    func numeric(_ value: Value) -> Double? {
        switch value {
        case .number(let x): return x
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    func arithmetic(_ op: BinaryOperator, _ a: Double, _ b: Double) throws -> Double {
        guard let result = numberArithmetic(op, a, b) else {
            throw ScriptError(kind: .zeroDivisionError, message: "division by zero",
                              hint: "tensors divide element-wise following IEEE rules (giving inf or nan) if that is what you want")
        }
        return result
    }

    /// `a op b` for numbers; nil for a division by zero (`/`, `//` or `%`).
    @inline(__always)
    func numberArithmetic(_ op: BinaryOperator, _ a: Double, _ b: Double) -> Double? {
        switch op {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .power: return Foundation.pow(a, b)
        case .divide, .floorDivide, .remainder:
            guard b != 0 else { return nil }
            if op == .divide { return a / b }
            let quotient = (a / b).rounded(.down)
            return op == .floorDivide ? quotient : a - b * quotient
        }
    }

    func repeated(_ left: Value, _ right: Value) throws -> Value {
        let (sequence, times) = numeric(right) != nil ? (left, right) : (right, left)
        guard case .number(let n) = times, n == n.rounded() else {
            throw ScriptError.type("can only repeat a \(sequence.typeName) a whole number of times")
        }
        let count = max(0, n)
        switch sequence {
        case .string(let s):
            guard Double(s.count) * count <= Double(Interpreter.maximumListLength) else { throw tooLong(Int(min(count, 1e15))) }
            return .string(String(repeating: s, count: Int(count)))
        case .list(let items):
            guard Double(items.count) * count <= Double(Interpreter.maximumListLength) else { throw tooLong(Int(min(count, 1e15))) }
            return .list(Array([[Value]](repeating: items, count: Int(count)).joined()))
        default:
            throw ScriptError.type("cannot repeat a \(sequence.typeName)")
        }
    }

    func tooLong(_ count: Int) -> ScriptError {
        .value("the result would be too long (the limit is \(Interpreter.maximumListLength) items)")
    }

    func broadcast(_ a: Tensor, _ b: Tensor, _ op: BinaryOperation, symbol: String) throws -> Tensor {
        if let shape = Tensor.broadcastShape(a.shape, b.shape) {
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, count <= Interpreter.maximumTensorElements else {
                throw ScriptError.value("`\(symbol)` of shapes \(a.shape) and \(b.shape) would give \(shape), too many elements (the limit is \(Interpreter.maximumTensorElements))")
            }
        }
        do {
            return try a.applying(op, b)
        } catch {
            throw ScriptError.shape("cannot broadcast shapes \(a.shape) and \(b.shape) for `\(symbol)`",
                                    hint: "left operand has shape \(a.shape), right operand has shape \(b.shape); compared from the right, each pair of dimensions must be equal or 1")
        }
    }

    func compare(_ op: ComparisonOperator, _ left: Value, _ right: Value) throws -> Value {
        switch op {
        case .in: return .bool(try contains(right, left))
        case .notIn: return .bool(!(try contains(right, left)))
        case .is: return .bool(identical(left, right))
        case .isNot: return .bool(!identical(left, right))
        default: break
        }
        let tensorOp: BinaryOperation
        switch op {
        case .notEqual: tensorOp = .notEqual
        case .less: tensorOp = .less
        case .lessEqual: tensorOp = .lessEqual
        case .greater: tensorOp = .greater
        case .greaterEqual: tensorOp = .greaterEqual
        default: tensorOp = .equal
        }
        if let (a, b) = tensorOperands(left, right) {
            return .tensor(try broadcast(a, b, tensorOp, symbol: op.rawValue))
        }
        switch (left, right) {
        case (.tensor(let a), _) where numeric(right) != nil:
            return .tensor(a.applying(tensorOp, scalar: Float(numeric(right)!)))
        case (_, .tensor(let b)) where numeric(left) != nil:
            return .tensor(b.applying(tensorOp, scalar: Float(numeric(left)!), scalarOnLeft: true))
        default:
            break
        }
        if op == .equal { return .bool(valuesEqual(left, right)) }
        if op == .notEqual { return .bool(!valuesEqual(left, right)) }
        if let a = numeric(left), let b = numeric(right) { return .bool(compareOrdered(op, a, b)) }
        if case .string(let a) = left, case .string(let b) = right { return .bool(compareOrdered(op, a, b)) }
        if let order = try? order(left, right) { return .bool(compareOrdered(op, order, 0)) }
        throw ScriptError.type("cannot compare \(left.typeName) and \(right.typeName) with `\(op.rawValue)`")
    }

    func compareOrdered<T: Comparable>(_ op: ComparisonOperator, _ a: T, _ b: T) -> Bool {
        switch op {
        case .less: return a < b
        case .lessEqual: return a <= b
        case .greater: return a > b
        case .greaterEqual: return a >= b
        case .equal: return a == b
        case .notEqual: return a != b
        case .in, .notIn, .is, .isNot: return false
        }
    }

    /// `is`: the same object for models, attacks and other library objects; for values (which have no identity
    /// here, being copied on assignment) the same type and an equal value, so `x is none` and `b is true` read as in Python.
    func identical(_ left: Value, _ right: Value) -> Bool {
        switch (left, right) {
        case (.object(let a), .object(let b)): return a === b
        case (.none, .none): return true
        case (.bool(let a), .bool(let b)): return a == b
        default: return left.typeName == right.typeName && valuesEqual(left, right)
        }
    }

    func contains(_ container: Value, _ item: Value) throws -> Bool {
        switch container {
        case .list(let items), .tuple(let items): return items.contains { valuesEqual($0, item) }
        case .dict(let d): return try d.value(for: item) != nil
        case .range(let r):
            guard let x = numeric(item), x == x.rounded(), abs(x) < 1e18 else { return false }
            let n = Int(x)
            return r.step > 0 ? (n >= r.start && n < r.stop && (n - r.start) % r.step == 0)
                              : (n <= r.start && n > r.stop && (r.start - n) % -r.step == 0)
        case .string(let s):
            guard case .string(let sub) = item else { throw ScriptError.type("`in` on a string needs a string on the left, got \(item.typeName)") }
            return sub.isEmpty || s.contains(sub)
        case .tensor(let t):
            guard let x = numeric(item) else { throw ScriptError.type("`in` on a tensor needs a number on the left") }
            return t.data.contains(Float(x))
        default:
            throw ScriptError.type("`in` needs a list, tuple, dict, range, string or tensor on the right, got \(container.typeName)")
        }
    }


    /// Python's ordering, for `<` on sequences and for `sorted`: numbers, strings, and lists or tuples item by item.
    func order(_ a: Value, _ b: Value) throws -> Int {
        if let x = numeric(a), let y = numeric(b) { return x < y ? -1 : x > y ? 1 : 0 }
        switch (a, b) {
        case (.string(let x), .string(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) {
                let c = try order(p, q)
                if c != 0 { return c }
            }
            return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
        default:
            throw ScriptError.type("cannot order a \(a.typeName) and a \(b.typeName)")
        }
    }
}
