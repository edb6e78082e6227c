import Foundation
import Tensor

/// Walks the syntax tree, as jlox does: statements, then expressions. Holds the session's state: global
/// variables and the random generator. Operators live in Operators.swift, attributes and indexing in
/// Indexing.swift, string/list/dict methods in Methods.swift, format specs in Formatting.swift.
final class Interpreter {
    // Limits that keep any input from exhausting memory or the stack.
    static let maximumTensorElements = 1 << 26
    static let maximumListLength = 10_000_000
    static let maximumCallDepth = 200
    static let maximumEvaluationDepth = 2_000

    /// The session's globals by name, set or not yet set (a name is entered when a cell mentioning it is resolved).
    private var globalTable: [String: Global] = [:]
    var random = SeededGenerator(seed: 0)
    var host: ScriptHost = SilentHost()
    /// Source of the cell being run; functions defined in it remember it for error messages.
    var source = ""
    /// The frames of the user functions being called (and of comprehensions), innermost last, one after the
    /// other in `slots`; the innermost starts at `base`. A slot is nil while its variable is unset.
    /// (The tree walk is single-threaded and never holds one of these across a call that changes it, so the
    /// run-time exclusivity checks, a tenth of a scalar loop's time, are off for them.)
    @exclusivity(unchecked) private var slots: [Value?] = []
    @exclusivity(unchecked) private var base = 0
    @exclusivity(unchecked) private var frames: [(base: Int, layout: FrameLayout)] = []
    @exclusivity(unchecked) private var depth = 0

    private enum Flow { case normal, breakLoop, continueLoop, returned(Value) }

    /// Runs a cell's statements in order; returns the value of the last statement when it is an expression.
    func run(_ statements: [Stmt]) throws -> Value? {
        frames = []
        slots = []
        base = 0
        depth = 0
        var resolver = Resolver(global: global(named:))
        resolver.resolve(statements)
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

    /// The global variables that are set, by name.
    var globals: [String: Value] { globalTable.compactMapValues(\.value) }

    /// The global `name`, entered unset if it is new.
    func global(named name: String) -> Global {
        if let global = globalTable[name] { return global }
        let global = Global(name)
        globalTable[name] = global
        return global
    }

    /// The variables set in the innermost frame, by name.
    private var localNames: [String] {
        guard let frame = frames.last else { return [] }
        return frame.layout.names.indices.filter { slots[base + $0] != nil }.map { frame.layout.names[$0] }
    }

    /// Names visible from the current scope, for hints and completion.
    var visibleNames: [String] {
        Array(Set(globals.keys).union(localNames).union(Builtins.byName.keys))
    }

    // MARK: Statements

    private func executeBlock(_ statements: [Stmt]) throws -> Flow {
        // Nested blocks use the stack too, so they count towards the same limit as nested expressions.
        depth += 1
        defer { depth -= 1 }
        guard depth <= Interpreter.maximumEvaluationDepth else {
            throw ScriptError(kind: .recursionError, message: "maximum evaluation depth exceeded")
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
            try assign(try plainArithmetic(op, current, operand) ?? located(position) { try binary(op, current, operand) }, to: target)
        case .if(let branches, let elseBody):
            for (condition, body) in branches where try truth(condition) {
                return try executeBlock(body)
            }
            if let elseBody { return try executeBlock(elseBody) }
        case .for(let target, let iterableExpr, let body, let position):
            let iterable = try evaluate(iterableExpr)
            let (count, element) = try located(iterableExpr.position) { try iteration(over: iterable) }
            for i in 0..<count {
                try located(position) { try checkInterrupt() }
                try assign(try element(i), to: target)
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
            store(declaration.variable, .function(try makeFunction(declaration)))
        case .return(let expr, _):
            return .returned(try expr.map(evaluate) ?? .none)
        case .try(let body, let handlers, let finallyBody, _):
            return try executeTry(body, handlers, finallyBody)
        case .assert(let condition, let messageExpr, let position):
            guard try truth(condition) else {
                let message = try messageExpr.map { str(try evaluate($0)) } ?? "the assertion is false"
                throw ScriptError(kind: .assertionError, message: message).at(position)
            }
        case .pass:
            break
        case .break:
            return .breakLoop
        case .continue:
            return .continueLoop
        }
        return .normal
    }

    /// `try`/`except`/`finally`: the first handler naming the error's kind (or naming none) runs with the error
    /// bound to its `as` name; `finally` runs whatever happened. Interrupts are never caught.
    private func executeTry(_ body: [Stmt], _ handlers: [ExceptClause], _ finallyBody: [Stmt]?) throws -> Flow {
        var outcome: Result<Flow, any Error>
        do { outcome = .success(try executeBlock(body)) } catch { outcome = .failure(error) }
        if case .failure(let error as ScriptError) = outcome, error.kind != .keyboardInterrupt,
           let handler = handlers.first(where: { $0.kinds.isEmpty || $0.kinds.contains(error.kind) }) {
            if let name = handler.name { store(name, .object(ErrorObject(error.located(in: source)))) }
            do { outcome = .success(try executeBlock(handler.body)) } catch { outcome = .failure(error) }
        }
        if let finallyBody {
            let flow = try executeBlock(finallyBody)
            if case .normal = flow {} else { return flow }
        }
        return try outcome.get()
    }

    private func truth(_ condition: Expr) throws -> Bool {
        let value = try evaluate(condition)
        if case .bool(let b) = value { return b }  // what comparisons give: no position needed
        return try located(condition.position) { try truthiness(value) }
    }

    /// The element count and element accessor of a value a `for` loop walks over.
    func iteration(over value: Value) throws -> (Int, (Int) throws -> Value) {
        switch value {
        case .list(let items), .tuple(let items): return (items.count, { items[$0] })
        case .dict(let d):
            let keys = d.keys
            return (keys.count, { keys[$0] })
        case .range(let r): return (r.count, { .number(Double(r.element($0))) })
        case .string(let s):
            let characters = s.map { Value.string(String($0)) }
            return (characters.count, { characters[$0] })
        case .tensor(let t) where t.rank >= 1:
            return (t.shape[0], { t.rank == 1 ? .number(widen(t.data[$0])) : .tensor(t.slice($0)) })
        default:
            throw ScriptError.type("cannot loop over a \(value.typeName)", hint: "loop over a list, tuple, dict, range, string or tensor")
        }
    }

    /// All the elements of an iterable value, for unpacking and for built-ins such as `zip` and `sorted`.
    func elements(of value: Value) throws -> [Value] {
        if case .list(let items) = value { return items }
        if case .tuple(let items) = value { return items }
        let (count, element) = try iteration(over: value)
        guard count <= Interpreter.maximumListLength else { throw tooLong(count) }
        return try (0..<count).map(element)
    }

    // MARK: Variables

    // A variable with a slot lives in the innermost frame when set there; every other name is a global.

    private func store(_ variable: Variable, _ value: Value) {
        if variable.slot >= 0 { slots[base + variable.slot] = value } else { variable.global.value = value }
    }

    /// Writes back to wherever `variable` lives (a local, else a global), for element assignment `x[i] = v`.
    private func storeExisting(_ variable: Variable, _ value: Value) {
        if variable.slot >= 0, slots[base + variable.slot] != nil || variable.global.value == nil {
            slots[base + variable.slot] = value
        } else {
            variable.global.value = value
        }
    }

    private func lookup(_ variable: Variable, at position: SourcePosition) throws -> Value {
        if variable.slot >= 0, let value = slots[base + variable.slot] { return value }
        if let value = variable.global.value { return value }
        if let builtin = variable.global.builtin { return builtin }
        let name = variable.name
        var hint: String?
        if ["null", "nil"].contains(name) { hint = "Mirage spells it `none` (or `None`)" }
        if ["np", "numpy", "math", "torch", "os", "sys"].contains(name) {
            hint = "there are no modules to import: the built-ins (`help()`) cover tensors, math and files"
        }
        if hint == nil, let close = closestName(to: name, among: visibleNames + Keyword.allCases.map(\.rawValue)) {
            hint = "did you mean `\(close)`?"
        }
        throw ScriptError.name("`\(name)` is not defined", hint: hint).at(position)
    }

    private func assign(_ value: Value, to target: Expr) throws {
        switch target {
        case .name(let name, _):
            store(name, value)
        case .tuple(let targets, let position), .list(let targets, let position):
            let items = try located(position) { () throws -> [Value] in
                let items = try elements(of: value)
                guard items.count == targets.count else {
                    throw ScriptError.value(items.count > targets.count
                        ? "too many values to unpack (expected \(targets.count), got \(items.count))"
                        : "not enough values to unpack (expected \(targets.count), got \(items.count))")
                }
                return items
            }
            for (target, item) in zip(targets, items) { try assign(item, to: target) }
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
            throw ScriptError(kind: .internalError, message: "\(error)").at(position)
        }
    }

    func evaluate(_ expr: Expr) throws -> Value {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Interpreter.maximumEvaluationDepth else {
            throw ScriptError(kind: .recursionError, message: "maximum evaluation depth exceeded").at(expr.position)
        }
        switch expr {
        case .number(let x, _): return .number(x)
        case .string(let s, _): return .string(s)
        case .bool(let b, _): return .bool(b)
        case .none: return .none
        case .list(let items, _): return .list(try items.map(evaluate))
        case .tuple(let items, _): return .tuple(try items.map(evaluate))
        case .dict(let entries, _):
            var d = DictValue()
            for (keyExpr, valueExpr) in entries {
                let key = try evaluate(keyExpr)
                let value = try evaluate(valueExpr)
                try located(keyExpr.position) { try d.set(value, for: key) }
            }
            return .dict(d)
        case .listComprehension(let elementExpr, let clauses, let layout, let position):
            var items: [Value] = []
            try comprehension(clauses, layout) {
                items.append(try evaluate(elementExpr))
                guard items.count <= Interpreter.maximumListLength else { throw tooLong(items.count).at(position) }
            }
            return .list(items)
        case .dictComprehension(let keyExpr, let valueExpr, let clauses, let layout, _):
            var d = DictValue()
            try comprehension(clauses, layout) {
                let key = try evaluate(keyExpr)
                let value = try evaluate(valueExpr)
                try located(keyExpr.position) { try d.set(value, for: key) }
            }
            return .dict(d)
        case .conditional(let condition, let then, let otherwise, _):
            return try evaluate(try truth(condition) ? then : otherwise)
        case .lambda(let declaration):
            return .function(try makeFunction(declaration))
        case .formatted(let parts, _):
            var text = ""
            for part in parts {
                switch part {
                case .text(let s): text += s
                case .value(let valueExpr, let conversion, let spec):
                    var value = try evaluate(valueExpr)
                    if conversion == "r" || conversion == "a" { value = .string(repr(value)) }
                    if conversion == "s" { value = .string(str(value)) }
                    text += try located(valueExpr.position) { try format(value, spec: spec) }
                }
            }
            return .string(text)
        case .name(let name, let position): return try lookup(name, at: position)
        case .unary(let op, let operandExpr, let position):
            let operand = try evaluate(operandExpr)
            return try located(position) { try unary(op, operand) }
        case .binary(let op, let leftExpr, let rightExpr, let position):
            let left = try evaluate(leftExpr)
            let right = try evaluate(rightExpr)
            if let result = plainArithmetic(op, left, right) { return result }
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
                let result: Value
                if case .number(let a) = left, case .number(let b) = right, op.isOrdering {
                    result = .bool(compareOrdered(op, a, b))  // the scalar fast path
                } else {
                    result = try located(position) { try compare(op, left, right) }
                }
                if rest.count == 1 { return result }
                guard try located(position, { try truthiness(result) }) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .call(let calleeExpr, let arguments, _):
            var positional: [Value] = []
            var keywords: [(String, Value)] = []
            // `xs.append(v)` changes the variable `xs` (values are copied on assignment, so it has to be a name).
            if case .attribute(.name(let name, let namePosition), let method, let position) = calleeExpr, Methods.isMutating(method) {
                // `xs.append(x)`, the loop-building call, skips the argument list and the method's binding.
                var appended: Value?
                if method == "append", arguments.count == 1, arguments[0].label == nil {
                    appended = try evaluate(arguments[0].value)
                } else {
                    for argument in arguments {
                        let value = try evaluate(argument.value)
                        if let label = argument.label { keywords.append((label, value)) } else { positional.append(value) }
                    }
                }
                var container = try lookup(name, at: namePosition)
                let methodPosition = SourcePosition(line: position.line, column: position.column + 1)
                if let item = appended {
                    if case .list(var items) = container {
                        // In place: the list's storage is not shared while the variable is cleared.
                        container = .none
                        storeExisting(name, .none)
                        items.append(item)
                        storeExisting(name, .list(items))
                        guard items.count <= Interpreter.maximumListLength else {
                            throw ScriptError.value("the list would be too long (the limit is \(Interpreter.maximumListLength) items)").at(methodPosition)
                        }
                        return .none
                    }
                    positional = [item]
                }
                guard Methods.canMutate(container) else {
                    let callee = try located(methodPosition) { try attribute(container, method) }
                    return try located(calleeExpr.position) { try call(callee, positional, keywords) }
                }
                let box = Methods.Box(container)
                container = .none
                storeExisting(name, .none)
                defer { storeExisting(name, box.value) }
                return try located(methodPosition) { try Methods.callMutating(method, on: box, positional, keywords, self) }
            }
            let callee = try evaluate(calleeExpr)
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

    /// Arithmetic on two numbers, which scalar loops spend their time on, without the general dispatch of
    /// `binary` (nil for anything else, and for a division by zero, which `binary` reports).
    @inline(__always)
    private func plainArithmetic(_ op: BinaryOperator, _ left: Value, _ right: Value) -> Value? {
        guard case .number(let a) = left, case .number(let b) = right else { return nil }
        return numberArithmetic(op, a, b).map(Value.number)
    }

    /// Runs `body` once per combination the clauses produce, in a scope of its own: the loop variables of a
    /// comprehension do not leak out, as in Python 3.
    private func comprehension(_ clauses: [ComprehensionClause], _ layout: FrameLayout, _ body: () throws -> Void) throws {
        pushFrame(layout, frames.isEmpty ? [] : Array(slots[base...])[...])
        defer { popFrame() }
        func run(_ index: Int) throws {
            guard index < clauses.count else { return try body() }
            switch clauses[index] {
            case .if(let condition):
                if try truth(condition) { try run(index + 1) }
            case .for(let target, let iterableExpr, let position):
                let iterable = try evaluate(iterableExpr)
                let (count, element) = try located(iterableExpr.position) { try iteration(over: iterable) }
                for i in 0..<count {
                    try located(position) { try checkInterrupt() }
                    try assign(try element(i), to: target)
                    try run(index + 1)
                }
            }
        }
        try run(0)
    }

    /// A `def` or `lambda` made here: defaults are evaluated now, and inside a function the local variables
    /// around it are captured (by value).
    private func makeFunction(_ declaration: FunctionDeclaration) throws -> UserFunction {
        let defaults = try declaration.parameters.map { try $0.defaultValue.map(evaluate) }
        return UserFunction(declaration: declaration, defaults: defaults, source: source,
                            captured: frames.isEmpty ? [] : Array(slots[base...]))
    }

    /// Enters a frame of `layout` holding `initial` in its first slots (the rest unset).
    private func pushFrame(_ layout: FrameLayout, _ initial: ArraySlice<Value?>) {
        frames.append((base, layout))
        base = slots.count
        slots.append(contentsOf: initial)
        if initial.count < layout.names.count {
            slots.append(contentsOf: repeatElement(nil, count: layout.names.count - initial.count))
        }
    }

    private func popFrame() {
        slots.removeSubrange(base...)
        base = frames.removeLast().base
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
            throw ScriptError(kind: .recursionError, message: "maximum recursion depth exceeded (\(Interpreter.maximumCallDepth) nested calls)",
                              hint: "does `\(declaration.name)` call itself without a stopping condition?")
        }
        try checkInterrupt()
        let layout = declaration.layout
        if keywords.isEmpty, positional.count <= function.defaults.count,
           function.defaults[positional.count...].allSatisfy({ $0 != nil }) {
            // Positional arguments, the rest defaulted: the common call needs no binding by name.
            pushFrame(layout, function.captured[...])
            for (i, value) in positional.enumerated() { slots[base + layout.parameterSlots[i]] = value }
            for i in positional.count..<function.defaults.count { slots[base + layout.parameterSlots[i]] = function.defaults[i] }
        } else {
            let parameters = zip(declaration.parameters, function.defaults).map { parameter, value -> (String, BuiltinParameter.Kind) in
                (parameter.name, value.map { .optional($0) } ?? .required)
            }
            let bound = try bindArguments(function: declaration.name, signature: function.signature, parameters: parameters,
                                          positional: positional, keywords: keywords, candidates: declaration.parameters.map(\.name))
            pushFrame(layout, function.captured[...])
            for (i, parameter) in declaration.parameters.enumerated() {
                slots[base + layout.parameterSlots[i]] = bound.values[parameter.name]
            }
        }
        defer { popFrame() }
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
}

/// A host that drops all output; used when no cell is running.
final class SilentHost: ScriptHost {
    func write(_ text: String, to stream: OutputStreamName) {}
    func display(_ output: RichOutput, displayID: String?, update: Bool) {}
    func clearOutput(wait: Bool) {}
    func page(_ output: RichOutput) {}
    func readInput(prompt: String, password: Bool) throws -> String {
        throw ScriptError(kind: .ioError, message: "input is not available here")
    }
    var isInterrupted: Bool { false }
}
