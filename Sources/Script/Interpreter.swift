import Foundation
import Tensor

/// Walks the syntax tree. Holds the session's state: global variables and the random generator.
final class Interpreter {
    // Limits that keep any input from exhausting memory or the stack.
    static let maximumTensorElements = 1 << 26
    static let maximumListLength = 10_000_000
    static let maximumCallDepth = 200
    static let maximumEvaluationDepth = 2_000

    var globals: [String: Value] = [:]
    var random = SeededGenerator(seed: 0)
    var host: ScriptHost = SilentHost()
    /// Source of the cell being run; functions defined in it remember it for error messages.
    var source = ""
    /// Local variables of the user functions being called, innermost last.
    private var frames: [[String: Value]] = []
    private var depth = 0

    private enum Flow { case normal, breakLoop, continueLoop, returned(Value) }

    /// Runs a cell's statements in order; returns the value of the last statement when it is an expression.
    func run(_ statements: [Stmt]) throws -> Value? {
        frames = []
        depth = 0
        for (i, statement) in statements.enumerated() {
            if i == statements.count - 1, case .expression(let expr) = statement {
                return try evaluate(expr)
            }
            _ = try execute(statement)
        }
        return nil
    }

    func checkInterrupt() throws {
        if host.isInterrupted { throw ScriptError.interrupted() }
    }

    /// Names visible from the current scope, for hints and completion.
    var visibleNames: [String] {
        Array(Set(globals.keys).union(frames.last.map { Array($0.keys) } ?? []).union(Builtins.byName.keys))
    }

    // MARK: Statements

    private func executeBlock(_ statements: [Stmt]) throws -> Flow {
        // Nested blocks use the stack too, so they count towards the same limit as nested expressions.
        depth += 1
        defer { depth -= 1 }
        guard depth <= Interpreter.maximumEvaluationDepth else {
            throw ScriptError(kind: "RecursionError", message: "maximum evaluation depth exceeded")
        }
        for statement in statements {
            let flow = try execute(statement)
            if case .normal = flow { continue }
            return flow
        }
        return .normal
    }

    private func execute(_ statement: Stmt) throws -> Flow {
        switch statement {
        case .expression(let expr):
            _ = try evaluate(expr)
        case .assign(let target, let valueExpr, _):
            try assign(try evaluate(valueExpr), to: target)
        case .augmentedAssign(let target, let op, let valueExpr, let position):
            let current = try evaluate(target)
            let operand = try evaluate(valueExpr)
            try assign(try located(position) { try binary(op, current, operand) }, to: target)
        case .if(let branches, let elseBody):
            for (condition, body) in branches where try truth(condition) {
                return try executeBlock(body)
            }
            if let elseBody { return try executeBlock(elseBody) }
        case .for(let name, let iterableExpr, let body, let position):
            let iterable = try evaluate(iterableExpr)
            let (count, element) = try located(iterableExpr.position) { try iteration(over: iterable) }
            for i in 0..<count {
                try located(position) { try checkInterrupt() }
                store(name, try element(i))
                switch try executeBlock(body) {
                case .breakLoop: return .normal
                case .returned(let value): return .returned(value)
                case .normal, .continueLoop: continue
                }
            }
        case .while(let condition, let body, let position):
            while try truth(condition) {
                try located(position) { try checkInterrupt() }
                switch try executeBlock(body) {
                case .breakLoop: return .normal
                case .returned(let value): return .returned(value)
                case .normal, .continueLoop: continue
                }
            }
        case .def(let declaration):
            let defaults = try declaration.parameters.map { try $0.defaultValue.map(evaluate) }
            store(declaration.name, .function(UserFunction(declaration: declaration, defaults: defaults, source: source)))
        case .return(let expr, _):
            return .returned(try expr.map(evaluate) ?? .none)
        case .pass:
            break
        case .break:
            return .breakLoop
        case .continue:
            return .continueLoop
        }
        return .normal
    }

    private func truth(_ condition: Expr) throws -> Bool {
        let value = try evaluate(condition)
        return try located(condition.position) { try truthiness(value) }
    }

    /// The element count and element accessor of a value a `for` loop walks over.
    private func iteration(over value: Value) throws -> (Int, (Int) throws -> Value) {
        switch value {
        case .list(let items): return (items.count, { items[$0] })
        case .range(let r): return (r.count, { .number(Double(r.element($0))) })
        case .string(let s):
            let characters = s.map { Value.string(String($0)) }
            return (characters.count, { characters[$0] })
        case .tensor(let t) where t.rank >= 1:
            return (t.shape[0], { t.rank == 1 ? .number(widen(t.data[$0])) : .tensor(t.slice($0)) })
        default:
            throw ScriptError.type("cannot loop over a \(value.typeName)", hint: "loop over a list, a range, a string or a tensor")
        }
    }

    // MARK: Variables

    private func store(_ name: String, _ value: Value) {
        if frames.isEmpty { globals[name] = value } else { frames[frames.count - 1][name] = value }
    }

    /// Writes back to wherever `name` lives (a local, else a global), for element assignment `x[i] = v`.
    private func storeExisting(_ name: String, _ value: Value) {
        if !frames.isEmpty, frames[frames.count - 1][name] != nil || globals[name] == nil {
            frames[frames.count - 1][name] = value
        } else {
            globals[name] = value
        }
    }

    private func lookup(_ name: String, at position: SourcePosition) throws -> Value {
        if let value = frames.last?[name] ?? globals[name] { return value }
        if let builtin = Builtins.byName[name] { return .builtin(builtin) }
        let pythonic = ["True": "true", "False": "false", "None": "none", "null": "none", "nil": "none"]
        var hint = pythonic[name].map { "Mirage spells it `\($0)`" }
        if hint == nil, let close = closestName(to: name, among: visibleNames + Keyword.allCases.map(\.rawValue)) {
            hint = "did you mean `\(close)`?"
        }
        throw ScriptError.name("`\(name)` is not defined", hint: hint).at(position)
    }

    private func assign(_ value: Value, to target: Expr) throws {
        switch target {
        case .name(let name, _):
            store(name, value)
        case .index(let baseExpr, let indexExpr, let position):
            if case .name(let name, let namePosition) = baseExpr {
                var container = try lookup(name, at: namePosition)
                let index = try evaluate(indexExpr)
                // Drop the variable's reference while mutating so the copy-on-write storage is updated in place.
                storeExisting(name, .none)
                do {
                    try located(position) { try setElement(&container, index, value) }
                } catch {
                    storeExisting(name, container)
                    throw error
                }
                storeExisting(name, container)
            } else {
                var container = try evaluate(baseExpr)
                let index = try evaluate(indexExpr)
                try located(position) { try setElement(&container, index, value) }
                try assign(container, to: baseExpr)
            }
        default:
            throw ScriptError.syntax("cannot assign to this expression", at: target.position)
        }
    }

    // MARK: Expressions

    /// Runs `body`, giving errors without a position the position `position`.
    func located<T>(_ position: SourcePosition, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ScriptError {
            throw error.at(position)
        } catch {
            throw ScriptError(kind: "InternalError", message: "\(error)").at(position)
        }
    }

    func evaluate(_ expr: Expr) throws -> Value {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Interpreter.maximumEvaluationDepth else {
            throw ScriptError(kind: "RecursionError", message: "maximum evaluation depth exceeded").at(expr.position)
        }
        switch expr {
        case .number(let x, _): return .number(x)
        case .string(let s, _): return .string(s)
        case .bool(let b, _): return .bool(b)
        case .none: return .none
        case .list(let items, _): return .list(try items.map(evaluate))
        case .name(let name, let position): return try lookup(name, at: position)
        case .unary(let op, let operandExpr, let position):
            let operand = try evaluate(operandExpr)
            return try located(position) { try unary(op, operand) }
        case .binary(let op, let leftExpr, let rightExpr, let position):
            let left = try evaluate(leftExpr)
            let right = try evaluate(rightExpr)
            return try located(position) { try binary(op, left, right) }
        case .logical(let isAnd, let leftExpr, let rightExpr, _):
            // Like Python, `and`/`or` give back one of their operands.
            let left = try evaluate(leftExpr)
            let isTrue = try located(leftExpr.position) { try truthiness(left) }
            if isAnd { return isTrue ? try evaluate(rightExpr) : left }
            return isTrue ? left : try evaluate(rightExpr)
        case .compare(let firstExpr, let rest):
            var left = try evaluate(firstExpr)
            for (op, rightExpr, position) in rest {
                let right = try evaluate(rightExpr)
                let result = try located(position) { try compare(op, left, right) }
                if rest.count == 1 { return result }
                guard try located(position, { try truthiness(result) }) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .call(let calleeExpr, let arguments, _):
            let callee = try evaluate(calleeExpr)
            var positional: [Value] = []
            var keywords: [(String, Value)] = []
            for argument in arguments {
                let value = try evaluate(argument.value)
                if let label = argument.label { keywords.append((label, value)) } else { positional.append(value) }
            }
            return try located(calleeExpr.position) { try call(callee, positional, keywords) }
        case .attribute(let baseExpr, let name, let position):
            let base = try evaluate(baseExpr)
            return try located(SourcePosition(line: position.line, column: position.column + 1)) { try attribute(base, name) }
        case .index(let baseExpr, let indexExpr, let position):
            let base = try evaluate(baseExpr)
            let index = try evaluate(indexExpr)
            return try located(position) { try element(of: base, at: index) }
        case .slice(let baseExpr, let startExpr, let stopExpr, let stepExpr, let position):
            let base = try evaluate(baseExpr)
            let start = try startExpr.map(evaluate), stop = try stopExpr.map(evaluate), step = try stepExpr.map(evaluate)
            return try located(position) { try slice(of: base, from: start, to: stop, by: step) }
        }
    }

    // MARK: Calls

    func call(_ callee: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        switch callee {
        case .builtin(let builtin):
            let arguments = try CallArguments(builtin: builtin, positional: positional, keywords: keywords)
            try checkSandbox(builtin)
            return try builtin.body(arguments, self)
        case .function(let function):
            return try callUserFunction(function, positional, keywords)
        default:
            throw ScriptError.type("a \(callee.typeName) is not callable")
        }
    }

    private func callUserFunction(_ function: UserFunction, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        let declaration = function.declaration
        guard frames.count < Interpreter.maximumCallDepth else {
            throw ScriptError(kind: "RecursionError", message: "maximum recursion depth exceeded (\(Interpreter.maximumCallDepth) nested calls)",
                              hint: "does `\(declaration.name)` call itself without a stopping condition?")
        }
        try checkInterrupt()
        let parameters = zip(declaration.parameters, function.defaults).map { parameter, value -> (String, BuiltinParameter.Kind) in
            (parameter.name, value.map { .optional($0) } ?? .required)
        }
        let bound = try bindArguments(function: declaration.name, signature: function.signature, parameters: parameters,
                                      positional: positional, keywords: keywords, candidates: declaration.parameters.map(\.name))
        frames.append(bound.values)
        defer { frames.removeLast() }
        do {
            if case .returned(let value) = try executeBlock(declaration.body) { return value }
            return .none
        } catch var error as ScriptError where error.line != nil && error.locatedSource == nil {
            // The position points into the cell that defined the function.
            error = error.located(in: function.source)
            error.trace.append("in function `\(declaration.name)`")
            throw error
        }
    }

    // MARK: Operators

    private func unary(_ op: UnaryOperator, _ operand: Value) throws -> Value {
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

    private func tensorOperation(_ op: BinaryOperator) -> BinaryOperation {
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
    private func tensorOperands(_ left: Value, _ right: Value) -> (Tensor, Tensor)? {
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
        case (.multiply, .string, .number), (.multiply, .list, .number), (.multiply, .number, .string), (.multiply, .number, .list):
            return try repeated(left, right)
        default:
            var hint: String? = nil
            if case .string = left, right.typeName == "number" { hint = "convert the number first: \"...\" + str(x)" }
            if case .list = left, op == .add { hint = "to append, write `xs = xs + [value]`" }
            throw ScriptError.type("unsupported operand types for `\(op.rawValue)`: \(left.typeName) and \(right.typeName)", hint: hint)
        }
    }

    private func numeric(_ value: Value) -> Double? {
        switch value {
        case .number(let x): return x
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    private func arithmetic(_ op: BinaryOperator, _ a: Double, _ b: Double) throws -> Double {
        switch op {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .power: return Foundation.pow(a, b)
        case .divide, .floorDivide, .remainder:
            guard b != 0 else {
                throw ScriptError(kind: "ZeroDivisionError", message: "division by zero",
                                  hint: "tensors divide element-wise following IEEE rules (giving inf or nan) if that is what you want")
            }
            if op == .divide { return a / b }
            let quotient = (a / b).rounded(.down)
            return op == .floorDivide ? quotient : a - b * quotient
        }
    }

    private func repeated(_ left: Value, _ right: Value) throws -> Value {
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

    private func tooLong(_ count: Int) -> ScriptError {
        .value("the result would be too long (the limit is \(Interpreter.maximumListLength) items)")
    }

    private func broadcast(_ a: Tensor, _ b: Tensor, _ op: BinaryOperation, symbol: String) throws -> Tensor {
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

    private func compare(_ op: ComparisonOperator, _ left: Value, _ right: Value) throws -> Value {
        if op == .in { return .bool(try contains(right, left)) }
        let tensorOp: BinaryOperation
        switch op {
        case .equal: tensorOp = .equal
        case .notEqual: tensorOp = .notEqual
        case .less: tensorOp = .less
        case .lessEqual: tensorOp = .lessEqual
        case .greater: tensorOp = .greater
        case .greaterEqual: tensorOp = .greaterEqual
        case .in: fatalError("handled above")
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
        throw ScriptError.type("cannot compare \(left.typeName) and \(right.typeName) with `\(op.rawValue)`")
    }

    private func compareOrdered<T: Comparable>(_ op: ComparisonOperator, _ a: T, _ b: T) -> Bool {
        switch op {
        case .less: return a < b
        case .lessEqual: return a <= b
        case .greater: return a > b
        case .greaterEqual: return a >= b
        case .equal: return a == b
        case .notEqual: return a != b
        case .in: return false
        }
    }

    private func contains(_ container: Value, _ item: Value) throws -> Bool {
        switch container {
        case .list(let items): return items.contains { valuesEqual($0, item) }
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
            throw ScriptError.type("`in` needs a list, range, string or tensor on the right, got \(container.typeName)")
        }
    }

    // MARK: Attributes and elements

    static func attributeNames(of value: Value) -> [String] {
        switch value {
        case .tensor: return ["shape", "rank", "size"]
        case .range: return ["start", "stop", "step"]
        case .object(let o): return o.attributeNames
        default: return []
        }
    }

    private func attribute(_ base: Value, _ name: String) throws -> Value {
        switch (base, name) {
        case (.tensor(let t), "shape"): return .list(t.shape.map { .number(Double($0)) })
        case (.tensor(let t), "rank"): return .number(Double(t.rank))
        case (.tensor(let t), "size"): return .number(Double(t.count))
        case (.range(let r), "start"): return .number(Double(r.start))
        case (.range(let r), "stop"): return .number(Double(r.stop))
        case (.range(let r), "step"): return .number(Double(r.step))
        case (.object(let o), _) where o.attributeNames.contains(name): return try o.attribute(name)
        default:
            let names = Interpreter.attributeNames(of: base)
            var hint: String?
            if let close = closestName(to: name, among: names) {
                hint = "did you mean `\(close)`?"
            } else if !names.isEmpty {
                hint = "a \(base.typeName) has " + names.map { "`\($0)`" }.joined(separator: ", ")
            }
            if case .list = base, name == "append" { hint = "lists are values here: write `xs = xs + [value]`" }
            if case .tensor = base, ["sum", "mean", "min", "max"].contains(name) { hint = "call it as a function: `\(name)(t)`" }
            throw ScriptError(kind: "AttributeError", message: "a \(base.typeName) has no attribute `\(name)`", hint: hint)
        }
    }

    private func normalizedIndex(_ index: Value, count: Int, of what: String) throws -> Int {
        guard case .number(let x) = index else {
            throw ScriptError.type("\(what) indices must be numbers, got \(index.typeName)")
        }
        guard x == x.rounded(), abs(x) < 1e15 else {
            throw ScriptError.type("\(what) indices must be whole numbers, got \(formatNumber(x))")
        }
        let i = Int(x) < 0 ? Int(x) + count : Int(x)
        guard i >= 0 && i < count else {
            throw ScriptError.index("index \(formatNumber(x)) is out of range for a \(what) of length \(count)")
        }
        return i
    }

    /// The indices `[start:stop:step]` picks, as Python does: negative bounds count from the end, bounds
    /// clip to the sequence, a negative step walks backwards, an empty result is fine.
    private func sliceIndices(_ start: Value?, _ stop: Value?, _ step: Value?, count: Int, of what: String) throws -> [Int] {
        func whole(_ value: Value?, _ part: String) throws -> Int? {
            guard let value else { return nil }
            if case .none = value { return nil }
            guard case .number(let x) = value, x == x.rounded(), abs(x) < 1e15 else {
                throw ScriptError.type("\(what) slice \(part) must be a whole number, got \(repr(value))")
            }
            return Int(x)
        }
        let stride = try whole(step, "step") ?? 1
        guard stride != 0 else { throw ScriptError.value("\(what) slice step cannot be zero") }
        func clip(_ i: Int?, _ missing: Int, _ low: Int, _ high: Int) -> Int {
            guard let i else { return missing }
            return min(max(i < 0 ? i + count : i, low), high)
        }
        if stride > 0 {
            let lower = clip(try whole(start, "start"), 0, 0, count), upper = clip(try whole(stop, "stop"), count, 0, count)
            return Array(Swift.stride(from: lower, to: max(lower, upper), by: stride))
        }
        let upper = clip(try whole(start, "start"), count - 1, -1, count - 1), lower = clip(try whole(stop, "stop"), -1, -1, count - 1)
        return Array(Swift.stride(from: upper, to: min(upper, lower), by: stride))
    }

    private func slice(of base: Value, from start: Value?, to stop: Value?, by step: Value?) throws -> Value {
        switch base {
        case .list(let items):
            return .list(try sliceIndices(start, stop, step, count: items.count, of: "list").map { items[$0] })
        case .string(let s):
            let characters = Array(s)
            return .string(String(try sliceIndices(start, stop, step, count: characters.count, of: "string").map { characters[$0] }))
        case .range(let r):
            return .list(try sliceIndices(start, stop, step, count: r.count, of: "range").map { .number(Double(r.element($0))) })
        case .tensor(let t):
            guard t.rank >= 1 else { throw ScriptError.type("cannot slice a rank-0 tensor") }
            let rows = try sliceIndices(start, stop, step, count: t.shape[0], of: "tensor (first axis)")
            let n = t.shape[0] == 0 ? 0 : t.count / t.shape[0]
            var data: [Float] = []
            data.reserveCapacity(rows.count * n)
            for r in rows { data += t.data[(r * n)..<((r + 1) * n)] }
            return .tensor(Tensor(shape: [rows.count] + t.shape.dropFirst(), data: data))
        default:
            throw ScriptError.type("a \(base.typeName) cannot be sliced")
        }
    }

    private func element(of base: Value, at index: Value) throws -> Value {
        switch base {
        case .list(let items):
            return items[try normalizedIndex(index, count: items.count, of: "list")]
        case .string(let s):
            let characters = Array(s)
            return .string(String(characters[try normalizedIndex(index, count: characters.count, of: "string")]))
        case .range(let r):
            return .number(Double(r.element(try normalizedIndex(index, count: r.count, of: "range"))))
        case .tensor(let t):
            guard t.rank >= 1 else { throw ScriptError.type("cannot index a rank-0 tensor") }
            let i = try normalizedIndex(index, count: t.shape[0], of: "tensor (first axis)")
            return t.rank == 1 ? .number(widen(t.data[i])) : .tensor(t.slice(i))
        default:
            throw ScriptError.type("a \(base.typeName) cannot be indexed")
        }
    }

    private func setElement(_ container: inout Value, _ index: Value, _ value: Value) throws {
        switch container {
        case .list(var items):
            let i = try normalizedIndex(index, count: items.count, of: "list")
            container = .none
            items[i] = value
            container = .list(items)
        case .tensor(var t):
            guard t.rank >= 1 else { throw ScriptError.type("cannot index a rank-0 tensor") }
            let i = try normalizedIndex(index, count: t.shape[0], of: "tensor (first axis)")
            let sliceShape = Array(t.shape.dropFirst())
            let slice: Tensor
            switch value {
            case .number(let x): slice = Tensor.filled(sliceShape, with: Float(x))
            case .bool(let b): slice = Tensor.filled(sliceShape, with: b ? 1 : 0)
            case .tensor(let v):
                guard let s = try? Tensor.zeros(sliceShape).applying(.add, v), s.shape == sliceShape else {
                    throw ScriptError.shape("cannot assign a tensor of shape \(v.shape) to an element of shape \(sliceShape)")
                }
                slice = s
            default:
                throw ScriptError.type("tensor elements must be numbers or tensors, got \(value.typeName)")
            }
            container = .none
            t.setSlice(i, to: slice)
            container = .tensor(t)
        default:
            throw ScriptError.type("a \(container.typeName) does not support element assignment",
                                   hint: "only list and tensor elements can be assigned")
        }
    }
}

/// A host that drops all output; used when no cell is running.
final class SilentHost: ScriptHost {
    func write(_ text: String, to stream: OutputStreamName) {}
    func display(_ output: RichOutput, displayID: String?, update: Bool) {}
    func clearOutput(wait: Bool) {}
    func page(_ output: RichOutput) {}
    func readInput(prompt: String, password: Bool) throws -> String {
        throw ScriptError(kind: "IOError", message: "input is not available here")
    }
    var isInterrupted: Bool { false }
}
