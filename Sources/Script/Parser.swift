/// Recursive-descent parser from tokens to statements.
///
/// Grammar, loosest binding first:
///
///     statement  := if | for | while | def | try | simple NEWLINE
///     simple     := pass | break | continue | return [exprs] | assert expr [',' expr]
///                 | exprs [('=' | '+=' | '-=' | '*=' | '/=') exprs]
///     block      := ':' (simple NEWLINE | NEWLINE INDENT statement+ DEDENT)
///     try        := 'try' block ('except' [NAME | '(' NAME (',' NAME)* ')'] ['as' NAME] block)* ['finally' block]
///     targets    := target (',' target)*;   target := NAME | '(' targets ')' | '[' targets ']'   (after `for`)
///     exprs      := expr (',' expr)* [',']      (a tuple when there is a comma)
///     expr       := 'lambda' [params] ':' expr | or ['if' or 'else' expr]
///     or := and ('or' and)*;   and := not ('and' not)*;   not := 'not' not | comparison
///     comparison := sum (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in' | 'is' | 'is' 'not') sum)*
///     sum        := product (('+' | '-') product)*;   product := unary (('*' | '/' | '//' | '%') unary)*
///     unary      := ('-' | '+') unary | power;         power := postfix ['**' unary]
///     postfix    := primary ('(' arguments ')' | '[' expr ']' | '[' [expr] ':' [expr] [':' [expr]] ']' | '.' NAME)*
///     primary    := NUMBER | STRING | FSTRING | true | false | none | NAME | '(' [exprs] ')' | '(' expr clauses ')'
///                 | '[' [exprs] ']' | '[' expr clauses ']' | '{' [expr ':' expr (',' expr ':' expr)*] '}'
///                 | '{' expr ':' expr clauses '}'
///     clauses    := ('for' targets 'in' or ('if' or)*)+
struct Parser {
    /// Deeper nesting is refused with a SyntaxError rather than risking the stack.
    static let maximumNesting = 200

    private let tokens: [Token]
    private var current = 0
    private var nesting = 0
    private var functionDepth = 0
    private var loopDepth = 0

    init(tokens: [Token]) {
        self.tokens = tokens
    }

    /// Throws ScriptError, or IncompleteInput when the cell ends inside a bracket or triple-quoted string.
    static func parse(_ source: String) throws -> [Stmt] {
        var parser = Parser(tokens: try tokenize(source))
        return try parser.parseProgram()
    }

    static func tokenize(_ source: String) throws -> [Token] {
        do {
            return try Lexer.tokenize(source)
        } catch let incomplete as IncompleteInput {
            if let earlier = incomplete.earlierSyntaxError() { throw earlier }
            throw incomplete
        }
    }

    static func parseExpression(_ source: String) throws -> Expr {
        var parser = Parser(tokens: try tokenize(source))
        while parser.match(.newline) {}
        let expr = try parser.expression()
        while parser.match(.newline) {}
        guard parser.peek.kind == .end else { throw parser.unexpected("the end of the expression") }
        return expr
    }

    mutating func parseProgram() throws -> [Stmt] {
        var statements: [Stmt] = []
        while true {
            while match(.newline) {}
            if peek.kind == .end { return statements }
            statements.append(try statement())
        }
    }

    // MARK: Token helpers

    private var peek: Token { tokens[current] }
    private var previous: Token { tokens[max(0, current - 1)] }

    private mutating func advance() -> Token {
        let token = tokens[current]
        if token.kind != .end { current += 1 }
        return token
    }

    private mutating func match(_ kind: TokenKind) -> Bool {
        guard peek.kind == kind else { return false }
        _ = advance()
        return true
    }

    private mutating func match(symbol: String) -> Bool { match(.symbol(symbol)) }
    private mutating func match(_ keyword: Keyword) -> Bool { match(.keyword(keyword)) }

    private mutating func expect(symbol: String, _ context: String) throws {
        guard match(symbol: symbol) else { throw unexpected("`\(symbol)` \(context)") }
    }

    private func unexpected(_ expected: String) -> ScriptError {
        let token = peek
        var hint: String? = nil
        if case .keyword(.if) = token.kind { hint = "a conditional expression needs `else`: `a if condition else b`" }
        if case .identifier = token.kind, case .identifier = previous.kind { hint = "two names in a row: is an operator or a comma missing?" }
        return .syntax("expected \(expected), found \(describe(token))", at: token.position, hint: hint)
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let name): return "name `\(name)`"
        case .number(let n): return "number `\(formatNumber(n))`"
        case .string, .formatted: return "a string"
        case .keyword(let k): return "keyword `\(k.rawValue)`"
        case .symbol(let s): return "`\(s)`"
        case .newline: return "the end of the line"
        case .indent: return "an indented line"
        case .dedent: return "the end of the block"
        case .end: return "the end of the cell"
        }
    }

    private mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Parser.maximumNesting else {
            throw ScriptError.syntax("too deeply nested (more than \(Parser.maximumNesting) levels)", at: peek.position,
                                     hint: "split the expression into several assignments")
        }
        return try body(&self)
    }

    // MARK: Statements

    private mutating func statement() throws -> Stmt {
        let token = peek
        switch token.kind {
        case .keyword(.if): _ = advance(); return try ifStatement()
        case .keyword(.for): _ = advance(); return try forStatement(token.position)
        case .keyword(.while): _ = advance(); return try whileStatement(token.position)
        case .keyword(.def): _ = advance(); return try functionDefinition(token.position)
        case .keyword(.try): _ = advance(); return try tryStatement(token.position)
        case .keyword(.elif), .keyword(.else):
            throw ScriptError.syntax("\(describe(token)) without a matching `if`", at: token.position,
                                     hint: "`elif` and `else` must line up with their `if`")
        case .keyword(.except), .keyword(.finally):
            throw ScriptError.syntax("\(describe(token)) without a matching `try`", at: token.position,
                                     hint: "`except` and `finally` must line up with their `try`")
        case .indent:
            throw ScriptError.syntax("unexpected indent", at: token.position,
                                     hint: "only lines inside a block (after a line ending with `:`) are indented")
        default:
            let stmt = try simpleStatement()
            try endOfSimpleStatement()
            return stmt
        }
    }

    private mutating func endOfSimpleStatement() throws {
        if match(.newline) || peek.kind == .end { return }
        throw unexpected("the end of the line")
    }

    private mutating func simpleStatement() throws -> Stmt {
        let token = peek
        switch token.kind {
        case .keyword(.pass): _ = advance(); return .pass
        case .keyword(.break):
            _ = advance()
            guard loopDepth > 0 else { throw ScriptError.syntax("`break` outside a loop", at: token.position) }
            return .break(token.position)
        case .keyword(.continue):
            _ = advance()
            guard loopDepth > 0 else { throw ScriptError.syntax("`continue` outside a loop", at: token.position) }
            return .continue(token.position)
        case .keyword(.return):
            _ = advance()
            guard functionDepth > 0 else { throw ScriptError.syntax("`return` outside a function", at: token.position) }
            if peek.kind == .newline || peek.kind == .end { return .return(nil, token.position) }
            return .return(try expressions(), token.position)
        case .keyword(.assert):
            _ = advance()
            let condition = try expression()
            return .assert(condition, message: match(symbol: ",") ? try expression() : nil, token.position)
        case .identifier(let name) where Parser.pythonStatements[name] != nil:
            switch tokens[current + 1].kind {
            case .identifier, .number, .string, .formatted, .newline, .end:
                let (message, hint) = Parser.pythonStatements[name]!
                throw ScriptError.syntax(message, at: token.position, hint: hint)
            default:
                break
            }
        default:
            break
        }
        let target = try expressions()
        if case .symbol(let s) = peek.kind, ["=", "+=", "-=", "*=", "/="].contains(s) {
            let opToken = advance()
            try checkAssignable(target, opToken.position, augmented: s != "=")
            let value = try expressions()
            switch s {
            case "=": return .assign(target, value, opToken.position)
            case "+=": return .augmentedAssign(target, .add, value, opToken.position)
            case "-=": return .augmentedAssign(target, .subtract, value, opToken.position)
            case "*=": return .augmentedAssign(target, .multiply, value, opToken.position)
            default: return .augmentedAssign(target, .divide, value, opToken.position)
            }
        }
        return .expression(target)
    }

    /// Python statements Mirage leaves out, each with why and the Mirage way.
    static let pythonStatements: [String: (String, String)] = [
        "import": ("`import` is not part of Mirage", "every built-in is always there (`help()` lists them); models come in with load(\"model.onnx\")"),
        "from": ("`from … import` is not part of Mirage", "every built-in is always there (`help()` lists them); models come in with load(\"model.onnx\")"),
        "class": ("classes are not part of Mirage", "use functions and dicts: `def point(x, y): return {\"x\": x, \"y\": y}`"),
        "global": ("`global` is not part of Mirage", "functions read globals already; to change one, return the new value and assign it outside"),
        "nonlocal": ("`nonlocal` is not part of Mirage", "return the new value and assign it in the enclosing function"),
        "yield": ("generators (`yield`) are not part of Mirage", "build and return a list; a comprehension is often shortest"),
        "with": ("`with` is not part of Mirage", "files are opened and closed by the built-ins that read them (load, image, npy)"),
        "raise": ("`raise` is not part of Mirage", "stop with an error using `assert condition, \"message\"` (an AssertionError)"),
        "del": ("`del` is not part of Mirage", "assign a new value instead, e.g. `xs = xs[:i] + xs[i + 1:]`"),
    ]

    private func checkAssignable(_ target: Expr, _ position: SourcePosition, augmented: Bool = false) throws {
        switch target {
        case .name: return
        case .index(let base, _, _): try checkAssignable(base, position)
        case .tuple(let items, _), .list(let items, _):
            if augmented {
                throw ScriptError.syntax("cannot use an augmented assignment on several targets", at: target.position,
                                         hint: "assign each one: `a += 1` then `b += 1`")
            }
            for item in items { try checkAssignable(item, position) }
        case .attribute(_, let name, _):
            throw ScriptError.syntax("cannot assign to attribute `\(name)`", at: target.position,
                                     hint: "attributes such as `t.shape` are read-only")
        case .call:
            throw ScriptError.syntax("cannot assign to a function call", at: target.position,
                                     hint: "to compare, use `==`")
        default:
            throw ScriptError.syntax("cannot assign to this expression", at: target.position,
                                     hint: "assign to a name (`x = ...`) or an element (`x[i] = ...`); to compare, use `==`")
        }
    }

    private mutating func block(after what: String) throws -> [Stmt] {
        try expect(symbol: ":", "after \(what)")
        return try nested { parser in
            if parser.peek.kind != .newline {
                let stmt = try parser.simpleStatement()
                try parser.endOfSimpleStatement()
                return [stmt]
            }
            _ = parser.advance()
            guard parser.match(.indent) else {
                throw ScriptError.syntax("expected an indented block after \(what)", at: parser.peek.position,
                                         hint: "indent the lines of the block, e.g. by 4 spaces")
            }
            var body: [Stmt] = []
            while !parser.match(.dedent) && parser.peek.kind != .end {
                while parser.match(.newline) {}
                if parser.match(.dedent) { break }
                body.append(try parser.statement())
            }
            return body
        }
    }

    private mutating func ifStatement() throws -> Stmt {
        var branches: [(Expr, [Stmt])] = []
        branches.append((try expression(), try block(after: "`if` condition")))
        while match(.elif) {
            branches.append((try expression(), try block(after: "`elif` condition")))
        }
        var elseBody: [Stmt]? = nil
        if match(.else) { elseBody = try block(after: "`else`") }
        return .if(branches, else: elseBody)
    }

    private mutating func forStatement(_ position: SourcePosition) throws -> Stmt {
        let target = try targets()
        guard match(.in) else { throw unexpected("`in` after the loop variable") }
        let iterable = try expressions()
        loopDepth += 1
        defer { loopDepth -= 1 }
        return .for(target, iterable, try block(after: "the `for` header"), position)
    }

    /// Loop variables: `x`, `i, x`, `(i, (a, b))`.
    private mutating func targets() throws -> Expr {
        let first = try target()
        guard case .symbol(",") = peek.kind else { return first }
        var items = [first]
        while match(symbol: ",") {
            if peek.kind == .keyword(.in) { break }
            items.append(try target())
        }
        return .tuple(items, first.position)
    }

    private mutating func target() throws -> Expr {
        let token = peek
        switch token.kind {
        case .identifier(let name):
            _ = advance()
            return .name(Variable(name), token.position)
        case .symbol("("), .symbol("["):
            _ = advance()
            let inner = try nested { try $0.targets() }
            try expect(symbol: token.kind == .symbol("(") ? ")" : "]", "to close the loop variables")
            if case .tuple = inner { return inner }
            return .tuple([inner], token.position)
        default:
            throw unexpected("a loop variable name")
        }
    }

    private mutating func tryStatement(_ position: SourcePosition) throws -> Stmt {
        let body = try block(after: "`try`")
        var handlers: [ExceptClause] = []
        while case .keyword(.except) = peek.kind {
            let exceptPosition = advance().position
            var kinds: [(String, SourcePosition)] = []
            if case .identifier(let kind) = peek.kind {
                kinds.append((kind, advance().position))
            } else if match(symbol: "(") {
                repeat {
                    guard case .identifier(let kind) = peek.kind else { throw unexpected("an error kind such as `ValueError`") }
                    kinds.append((kind, advance().position))
                } while match(symbol: ",") && peek.kind != .symbol(")")
                try expect(symbol: ")", "to close the error kinds")
            }
            let caught = try kinds.map { try Parser.catchable($0.0, at: $0.1) }
            var name: String?
            if match(.as) {
                guard case .identifier(let bound) = peek.kind else { throw unexpected("a name after `as`") }
                _ = advance()
                name = bound
            }
            let catchesAll = caught.isEmpty || caught.contains { $0 == nil }
            handlers.append(ExceptClause(kinds: catchesAll ? [] : caught.compactMap { $0 }, name: name.map(Variable.init),
                                         body: try block(after: "`except`"), position: exceptPosition))
        }
        var finallyBody: [Stmt]?
        if match(.finally) { finallyBody = try block(after: "`finally`") }
        guard !handlers.isEmpty || finallyBody != nil else {
            throw ScriptError.syntax("`try` needs an `except` or a `finally` block", at: peek.position,
                                     hint: "line `except ValueError as e:` up with the `try`")
        }
        return .try(body, handlers, finally: finallyBody, position)
    }

    /// The kind an `except` names: one Mirage throws, or nil for `Exception` (all of them).
    static func catchable(_ kind: String, at position: SourcePosition) throws -> ScriptError.Kind? {
        if kind == "Exception" || kind == "BaseException" { return nil }
        if kind == "KeyboardInterrupt" {
            throw ScriptError.syntax("an interrupt cannot be caught", at: position,
                                     hint: "interrupting always stops the cell, keeping what was computed before")
        }
        if kind == "SyntaxError" {
            throw ScriptError.syntax("a SyntaxError cannot be caught", at: position,
                                     hint: "it is raised before any of the cell runs; fix the cell instead")
        }
        guard let caught = ScriptError.Kind(rawValue: kind) else {
            let kinds = ScriptError.Kind.catchable.map(\.rawValue)
            let close = closestName(to: kind, among: kinds).map { "did you mean `\($0)`? " } ?? ""
            throw ScriptError.syntax("`\(kind)` is not an error kind Mirage raises", at: position,
                                     hint: close + "the kinds are " + kinds.joined(separator: ", ") + ", and `Exception` for all")
        }
        return caught
    }

    private mutating func whileStatement(_ position: SourcePosition) throws -> Stmt {
        let condition = try expression()
        loopDepth += 1
        defer { loopDepth -= 1 }
        return .while(condition, try block(after: "the `while` condition"), position)
    }

    private mutating func functionDefinition(_ position: SourcePosition) throws -> Stmt {
        guard case .identifier(let name) = peek.kind else { throw unexpected("a function name after `def`") }
        _ = advance()
        try expect(symbol: "(", "after the function name")
        var parameters: [Parameter] = []
        while !match(symbol: ")") {
            guard case .identifier(let parameter) = peek.kind else { throw unexpected("a parameter name") }
            let parameterPosition = advance().position
            if parameters.contains(where: { $0.name == parameter }) {
                throw ScriptError.syntax("duplicate parameter `\(parameter)`", at: parameterPosition)
            }
            var defaultValue: Expr? = nil
            if match(symbol: "=") {
                defaultValue = try expression()
            } else if parameters.last?.defaultValue != nil {
                throw ScriptError.syntax("parameter `\(parameter)` without a default follows one with a default", at: parameterPosition)
            }
            parameters.append(Parameter(name: parameter, defaultValue: defaultValue))
            if !match(symbol: ",") {
                try expect(symbol: ")", "after the parameters")
                break
            }
        }
        let savedLoops = loopDepth
        loopDepth = 0
        functionDepth += 1
        defer { functionDepth -= 1; loopDepth = savedLoops }
        let body = try block(after: "the function header")
        return .def(FunctionDeclaration(name: name, parameters: parameters, body: body, position: position))
    }

    // MARK: Expressions

    mutating func expression() throws -> Expr {
        try nested { parser in
            if case .keyword(.lambda) = parser.peek.kind { return try parser.lambda() }
            let value = try parser.or()
            guard case .keyword(.if) = parser.peek.kind else { return value }
            let position = parser.advance().position
            let condition = try parser.or()
            guard parser.match(.else) else { throw parser.unexpected("`else` in the conditional expression `a if condition else b`") }
            return .conditional(condition: condition, then: value, otherwise: try parser.expression(), position)
        }
    }

    /// One expression, or several separated by commas (a tuple), as statements allow: `a, b = b, a`.
    private mutating func expressions() throws -> Expr {
        let first = try expression()
        guard case .symbol(",") = peek.kind else { return first }
        var items = [first]
        while match(symbol: ",") {
            if [.symbol("="), .newline, .end, .symbol(")")].contains(peek.kind) { break }
            if case .symbol(let s) = peek.kind, ["+=", "-=", "*=", "/="].contains(s) { break }
            items.append(try expression())
        }
        return .tuple(items, first.position)
    }

    private mutating func lambda() throws -> Expr {
        let position = advance().position
        var parameters: [Parameter] = []
        while !match(symbol: ":") {
            guard case .identifier(let parameter) = peek.kind else { throw unexpected("a parameter name or `:` in the lambda") }
            let parameterPosition = advance().position
            if parameters.contains(where: { $0.name == parameter }) {
                throw ScriptError.syntax("duplicate parameter `\(parameter)`", at: parameterPosition)
            }
            var defaultValue: Expr?
            if match(symbol: "=") { defaultValue = try or() }
            parameters.append(Parameter(name: parameter, defaultValue: defaultValue))
            if !match(symbol: ",") {
                try expect(symbol: ":", "after the lambda's parameters")
                break
            }
        }
        let body = try expression()
        return .lambda(FunctionDeclaration(name: "<lambda>", parameters: parameters, body: [.return(body, body.position)], position: position))
    }

    /// The `for … in … if …` clauses of a comprehension (the first `for` is next).
    private mutating func comprehensionClauses() throws -> [ComprehensionClause] {
        var clauses: [ComprehensionClause] = []
        while case .keyword(.for) = peek.kind {
            let position = advance().position
            let target = try targets()
            guard match(.in) else { throw unexpected("`in` after the comprehension's variable") }
            clauses.append(.for(target: target, iterable: try or(), position))
            while match(.if) { clauses.append(.if(try or())) }
        }
        return clauses
    }

    private mutating func or() throws -> Expr {
        var left = try and()
        while case .keyword(.or) = peek.kind {
            let position = advance().position
            left = .logical(isAnd: false, left, try and(), position)
        }
        return left
    }

    private mutating func and() throws -> Expr {
        var left = try not()
        while case .keyword(.and) = peek.kind {
            let position = advance().position
            left = .logical(isAnd: true, left, try not(), position)
        }
        return left
    }

    private mutating func not() throws -> Expr {
        if case .keyword(.not) = peek.kind {
            let position = advance().position
            return .unary(.not, try nested { try $0.not() }, position)
        }
        return try comparison()
    }

    private mutating func comparison() throws -> Expr {
        let first = try sum()
        var rest: [(ComparisonOperator, Expr, SourcePosition)] = []
        while true {
            let op: ComparisonOperator
            switch peek.kind {
            case .symbol(let s) where ComparisonOperator(rawValue: s) != nil: op = ComparisonOperator(rawValue: s)!
            case .keyword(.in): op = .in
            case .keyword(.is): op = tokens[current + 1].kind == .keyword(.not) ? .isNot : .is
            case .keyword(.not) where tokens[current + 1].kind == .keyword(.in): op = .notIn
            default: return rest.isEmpty ? first : .compare(first, rest)
            }
            let position = advance().position
            if op == .isNot || op == .notIn { _ = advance() }
            rest.append((op, try sum(), position))
        }
    }

    private mutating func sum() throws -> Expr {
        var left = try product()
        while case .symbol(let s) = peek.kind, s == "+" || s == "-" {
            let position = advance().position
            left = .binary(BinaryOperator(rawValue: s)!, left, try product(), position)
        }
        return left
    }

    private mutating func product() throws -> Expr {
        var left = try unary()
        while case .symbol(let s) = peek.kind, ["*", "/", "//", "%"].contains(s) {
            let position = advance().position
            left = .binary(BinaryOperator(rawValue: s)!, left, try unary(), position)
        }
        return left
    }

    private mutating func unary() throws -> Expr {
        if case .symbol(let s) = peek.kind, s == "-" || s == "+" {
            let position = advance().position
            return .unary(s == "-" ? .negate : .plus, try nested { try $0.unary() }, position)
        }
        return try power()
    }

    private mutating func power() throws -> Expr {
        let base = try postfix()
        if case .symbol("**") = peek.kind {
            let position = advance().position
            // Right-associative and binding tighter than a unary minus on its left: -2 ** 2 == -4.
            return .binary(.power, base, try nested { try $0.unary() }, position)
        }
        return base
    }

    private mutating func postfix() throws -> Expr {
        var expr = try primary()
        while true {
            if case .symbol("(") = peek.kind {
                let position = advance().position
                expr = .call(expr, try arguments(), position)
            } else if case .symbol("[") = peek.kind {
                let position = advance().position
                let start: Expr? = peek.kind == .symbol(":") ? nil : try expression()
                if match(symbol: ":") {
                    let stop: Expr? = [.symbol("]"), .symbol(":")].contains(peek.kind) ? nil : try expression()
                    var step: Expr?
                    if match(symbol: ":") { step = peek.kind == .symbol("]") ? nil : try expression() }
                    try expect(symbol: "]", "to close the slice")
                    expr = .slice(expr, start, stop, step, position)
                } else {
                    try expect(symbol: "]", "to close the index")
                    expr = .index(expr, start!, position)
                }
            } else if case .symbol(".") = peek.kind {
                let position = advance().position
                guard case .identifier(let name) = peek.kind else { throw unexpected("an attribute name after `.`") }
                _ = advance()
                expr = .attribute(expr, name, position)
            } else {
                return expr
            }
        }
    }

    private mutating func arguments() throws -> [Argument] {
        var arguments: [Argument] = []
        while !match(symbol: ")") {
            let position = peek.position
            if case .identifier(let label) = peek.kind, tokens[current + 1].kind == .symbol("=") {
                _ = advance(); _ = advance()
                if arguments.contains(where: { $0.label == label }) {
                    throw ScriptError.syntax("keyword argument `\(label)` repeated", at: position)
                }
                arguments.append(Argument(label: label, value: try expression(), position: position))
            } else {
                var value = try expression()
                if case .keyword(.for) = peek.kind {
                    // A generator expression, evaluated as a list: `any(x > 0 for x in xs)`.
                    value = .listComprehension(value, try comprehensionClauses(), FrameLayout(), position)
                }
                if arguments.last?.label != nil {
                    throw ScriptError.syntax("positional argument follows keyword argument", at: position,
                                             hint: "put positional arguments first: f(a, b, name=value)")
                }
                arguments.append(Argument(label: nil, value: value, position: position))
            }
            if !match(symbol: ",") {
                try expect(symbol: ")", "to close the argument list")
                break
            }
        }
        return arguments
    }

    private mutating func primary() throws -> Expr {
        let token = peek
        switch token.kind {
        case .number(let n): _ = advance(); return .number(n, token.position)
        case .string(let s): _ = advance(); return .string(s, token.position)
        case .keyword(.true): _ = advance(); return .bool(true, token.position)
        case .keyword(.false): _ = advance(); return .bool(false, token.position)
        case .keyword(.none): _ = advance(); return .none(token.position)
        case .identifier(let name): _ = advance(); return .name(Variable(name), token.position)
        case .formatted(let parts): _ = advance(); return .formatted(try formattedParts(parts), token.position)
        case .symbol("("):
            _ = advance()
            if match(symbol: ")") { return .tuple([], token.position) }
            let inner = try expression()
            if case .keyword(.for) = peek.kind {
                let clauses = try comprehensionClauses()
                try expect(symbol: ")", "to close the parenthesis")
                return .listComprehension(inner, clauses, FrameLayout(), token.position)
            }
            guard case .symbol(",") = peek.kind else {
                try expect(symbol: ")", "to close the parenthesis")
                return inner
            }
            var items = [inner]
            while match(symbol: ",") && peek.kind != .symbol(")") { items.append(try expression()) }
            try expect(symbol: ")", "to close the tuple")
            return .tuple(items, token.position)
        case .symbol("["):
            _ = advance()
            // Each element is an expression, which counts one level of nesting.
            var elements: [Expr] = []
            while !match(symbol: "]") {
                elements.append(try expression())
                if elements.count == 1, case .keyword(.for) = peek.kind {
                    let clauses = try comprehensionClauses()
                    try expect(symbol: "]", "to close the list comprehension")
                    return .listComprehension(elements[0], clauses, FrameLayout(), token.position)
                }
                if !match(symbol: ",") {
                    try expect(symbol: "]", "to close the list")
                    break
                }
            }
            return .list(elements, token.position)
        case .symbol("{"):
            _ = advance()
            var entries: [(Expr, Expr)] = []
            while !match(symbol: "}") {
                let key = try expression()
                guard match(symbol: ":") else {
                    throw ScriptError.syntax("sets are not part of Mirage", at: peek.position,
                                             hint: "write `key: value` for a dict; for a set of items use a list")
                }
                let value = try expression()
                if entries.isEmpty, case .keyword(.for) = peek.kind {
                    let clauses = try comprehensionClauses()
                    try expect(symbol: "}", "to close the dict comprehension")
                    return .dictComprehension(key, value, clauses, FrameLayout(), token.position)
                }
                entries.append((key, value))
                if !match(symbol: ",") {
                    try expect(symbol: "}", "to close the dict")
                    break
                }
            }
            return .dict(entries, token.position)
        default:
            throw unexpected("an expression")
        }
    }

    /// Parses the expressions inside an f-string's braces.
    private func formattedParts(_ parts: [FormattedToken]) throws -> [FormattedPart] {
        try parts.map { part in
            switch part {
            case .text(let text): return .text(text)
            case .value(let tokens, let conversion, let spec, _):
                var parser = Parser(tokens: tokens)
                parser.nesting = nesting
                let expr = try parser.expression()
                while parser.match(.newline) {}
                guard parser.peek.kind == .end else { throw parser.unexpected("`}` after the f-string's expression") }
                return .value(expr, conversion: conversion, spec: spec)
            }
        }
    }
}
