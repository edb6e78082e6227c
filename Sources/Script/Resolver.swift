// The resolver: before a cell runs, binds every name to a frame slot or to the session's global (Crafting Interpreters, chapter 11).

/// A name as it appears in the syntax tree. The resolver binds it once, before the cell runs, so the tree walk
/// reads and writes variables by index instead of hashing their names.
final class Variable: @unchecked Sendable {
    let name: String
    /// The name's index in the frame of the function (or comprehension) it appears in; -1 in top-level code,
    /// where every name is a global.
    var slot = -1
    /// The session's global of this name, read when the frame has no value for it.
    var global: Global!

    init(_ name: String) {
        self.name = name
    }
}

/// One global variable of a session; every name resolved to it shares it. `builtin` is what the name means
/// while no global of that name is set.
final class Global {
    let name: String
    /// Unset until a cell assigns it. (Only the session's tree walk touches it, one access at a time.)
    @exclusivity(unchecked) var value: Value?
    /// The built-in of this name, if there is one.
    let builtin: Value?

    init(_ name: String) {
        self.name = name
        self.builtin = Builtins.byName[name].map(Value.builtin)
    }
}

/// The variables of a function's or a comprehension's frame, by slot. A nested function's layout starts with its
/// enclosing one's, so the frame it captured (by value) is the start of its own.
final class FrameLayout: @unchecked Sendable {
    /// Names by slot, for "did you mean" hints.
    var names: [String] = []
    /// Where each parameter goes, in the order of the declaration.
    var parameterSlots: [Int] = []
    fileprivate var slots: [String: Int] = [:]

    fileprivate func slot(for name: String) -> Int {
        if let slot = slots[name] { return slot }
        slots[name] = names.count
        names.append(name)
        return names.count - 1
    }
}

/// Binds the names of a parsed cell. The rules are the tree walk's: in top-level code every name is a global;
/// inside a function, a name is looked up in the function's frame (its parameters, what it assigns, what it
/// captured from around it), then among the globals, then the built-ins; a comprehension runs in a copy of the
/// frame around it plus its own loop variables.
struct Resolver {
    /// Gives the session's global for a name, creating it unset on first use.
    let global: (String) -> Global
    private var layout: FrameLayout?

    init(global: @escaping (String) -> Global) {
        self.global = global
    }

    mutating func resolve(_ statements: [Stmt]) {
        for statement in statements { resolve(statement) }
    }

    private func bind(_ variable: Variable) {
        variable.slot = layout?.slots[variable.name] ?? -1
        variable.global = global(variable.name)
    }

    private mutating func resolve(_ statement: Stmt) {
        switch statement {
        case .expression(let expr): resolve(expr)
        case .assign(let target, let value, _), .augmentedAssign(let target, _, let value, _):
            resolve(value)
            resolve(target)
        case .if(let branches, let elseBody):
            for (condition, body) in branches {
                resolve(condition)
                resolve(body)
            }
            if let elseBody { resolve(elseBody) }
        case .for(let target, let iterable, let body, _):
            resolve(iterable)
            resolve(target)
            resolve(body)
        case .while(let condition, let body, _):
            resolve(condition)
            resolve(body)
        case .def(let declaration):
            bind(declaration.variable)
            resolve(declaration)
        case .return(let expr, _):
            if let expr { resolve(expr) }
        case .try(let body, let handlers, let finallyBody, _):
            resolve(body)
            for handler in handlers {
                if let name = handler.name { bind(name) }
                resolve(handler.body)
            }
            if let finallyBody { resolve(finallyBody) }
        case .assert(let condition, let message, _):
            resolve(condition)
            if let message { resolve(message) }
        case .pass, .break, .continue:
            break
        }
    }

    /// A `def` or `lambda`: defaults belong to the scope around it; the body gets a layout of its own.
    private mutating func resolve(_ declaration: FunctionDeclaration) {
        for parameter in declaration.parameters {
            if let value = parameter.defaultValue { resolve(value) }
        }
        let inner = declaration.layout
        for name in layout?.names ?? [] { _ = inner.slot(for: name) }
        inner.parameterSlots = declaration.parameters.map { inner.slot(for: $0.name) }
        for name in Resolver.assignedNames(declaration.body) { _ = inner.slot(for: name) }
        let outer = layout
        layout = inner
        resolve(declaration.body)
        layout = outer
    }

    private mutating func resolveComprehension(_ clauses: [ComprehensionClause], _ inner: FrameLayout, _ elements: [Expr]) {
        for name in layout?.names ?? [] { _ = inner.slot(for: name) }
        for case .for(let target, _, _) in clauses {
            for name in Resolver.targetNames(target) { _ = inner.slot(for: name) }
        }
        let outer = layout
        layout = inner
        for clause in clauses {
            switch clause {
            case .for(let target, let iterable, _):
                resolve(iterable)
                resolve(target)
            case .if(let condition):
                resolve(condition)
            }
        }
        for element in elements { resolve(element) }
        layout = outer
    }

    private mutating func resolve(_ expr: Expr) {
        switch expr {
        case .number, .string, .bool, .none:
            break
        case .list(let items, _), .tuple(let items, _):
            for item in items { resolve(item) }
        case .dict(let entries, _):
            for (key, value) in entries {
                resolve(key)
                resolve(value)
            }
        case .listComprehension(let element, let clauses, let inner, _):
            resolveComprehension(clauses, inner, [element])
        case .dictComprehension(let key, let value, let clauses, let inner, _):
            resolveComprehension(clauses, inner, [key, value])
        case .conditional(let condition, let then, let otherwise, _):
            resolve(condition)
            resolve(then)
            resolve(otherwise)
        case .lambda(let declaration):
            resolve(declaration)
        case .formatted(let parts, _):
            for case .value(let value, _, _) in parts { resolve(value) }
        case .name(let variable, _):
            bind(variable)
        case .unary(_, let operand, _):
            resolve(operand)
        case .binary(_, let left, let right, _), .logical(_, let left, let right, _), .index(let left, let right, _):
            resolve(left)
            resolve(right)
        case .compare(let first, let rest):
            resolve(first)
            for (_, operand, _) in rest { resolve(operand) }
        case .call(let callee, let arguments, _):
            resolve(callee)
            for argument in arguments { resolve(argument.value) }
        case .attribute(let base, _, _):
            resolve(base)
        case .slice(let base, let start, let stop, let step, _):
            resolve(base)
            for part in [start, stop, step] { if let part { resolve(part) } }
        }
    }

    /// The names a function body can store into its own frame: assignment and loop targets (for `x[i] = v`, the
    /// variable `x`), `def` names and `except … as` names, in blocks at any depth but not inside nested functions.
    static func assignedNames(_ body: [Stmt]) -> [String] {
        var names: [String] = []
        func walk(_ statements: [Stmt]) {
            for statement in statements {
                switch statement {
                case .assign(let target, _, _), .augmentedAssign(let target, _, _, _):
                    names += targetNames(target)
                case .for(let target, _, let body, _):
                    names += targetNames(target)
                    walk(body)
                case .if(let branches, let elseBody):
                    for (_, body) in branches { walk(body) }
                    walk(elseBody ?? [])
                case .while(_, let body, _):
                    walk(body)
                case .def(let declaration):
                    names.append(declaration.name)
                case .try(let body, let handlers, let finallyBody, _):
                    walk(body)
                    for handler in handlers {
                        if let name = handler.name { names.append(name.name) }
                        walk(handler.body)
                    }
                    walk(finallyBody ?? [])
                case .expression, .return, .assert, .pass, .break, .continue:
                    break
                }
            }
        }
        walk(body)
        return names
    }

    /// The variables an assignment target writes: a name, the names of a tuple or list of targets, or the
    /// variable at the root of an element assignment.
    static func targetNames(_ target: Expr) -> [String] {
        switch target {
        case .name(let variable, _): return [variable.name]
        case .tuple(let items, _), .list(let items, _): return items.flatMap(targetNames)
        case .index(let base, _, _): return targetNames(base)
        default: return []
        }
    }
}
