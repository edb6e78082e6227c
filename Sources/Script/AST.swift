/// The syntax tree. Every node carries the position errors point at.
indirect enum Expr: Sendable {
    case number(Double, SourcePosition)
    case string(String, SourcePosition)
    case bool(Bool, SourcePosition)
    case none(SourcePosition)
    case list([Expr], SourcePosition)
    /// `(a, b)`, or `a, b` where a statement allows it (assignment, `return`, `for` targets).
    case tuple([Expr], SourcePosition)
    case dict([(Expr, Expr)], SourcePosition)
    /// `[element for target in iterable if condition ...]`, run in a frame of the given layout.
    case listComprehension(Expr, [ComprehensionClause], FrameLayout, SourcePosition)
    /// `{key: value for target in iterable if condition ...}`, run in a frame of the given layout.
    case dictComprehension(Expr, Expr, [ComprehensionClause], FrameLayout, SourcePosition)
    /// `then if condition else otherwise`.
    case conditional(condition: Expr, then: Expr, otherwise: Expr, SourcePosition)
    /// `lambda x, y=1: x + y`, a function whose body is one `return`.
    case lambda(FunctionDeclaration)
    /// `f"AUROC {v:.3f}"`.
    case formatted([FormattedPart], SourcePosition)
    case name(Variable, SourcePosition)
    case unary(UnaryOperator, Expr, SourcePosition)
    case binary(BinaryOperator, Expr, Expr, SourcePosition)
    /// `and` / `or`, which short-circuit.
    case logical(isAnd: Bool, Expr, Expr, SourcePosition)
    /// A comparison chain: `a < b <= c` means `a < b and b <= c`.
    case compare(Expr, [(ComparisonOperator, Expr, SourcePosition)])
    case call(Expr, [Argument], SourcePosition)
    case attribute(Expr, String, SourcePosition)
    case index(Expr, Expr, SourcePosition)
    /// `a[start:stop:step]` along the first axis; any part may be missing.
    case slice(Expr, Expr?, Expr?, Expr?, SourcePosition)

    var position: SourcePosition {
        switch self {
        case .number(_, let p), .string(_, let p), .bool(_, let p), .none(let p), .list(_, let p), .name(_, let p),
             .tuple(_, let p), .dict(_, let p), .listComprehension(_, _, _, let p), .dictComprehension(_, _, _, _, let p),
             .conditional(_, _, _, let p), .formatted(_, let p),
             .unary(_, _, let p), .binary(_, _, _, let p), .logical(_, _, _, let p), .call(_, _, let p),
             .attribute(_, _, let p), .index(_, _, let p), .slice(_, _, _, _, let p):
            return p
        case .lambda(let declaration):
            return declaration.position
        case .compare(let first, _):
            return first.position
        }
    }
}

/// One `for … in …` or `if …` of a comprehension, in source order.
enum ComprehensionClause: Sendable {
    case `for`(target: Expr, iterable: Expr, SourcePosition)
    case `if`(Expr)
}

/// A piece of an f-string: literal text, or `{expression!conversion:spec}`.
enum FormattedPart: Sendable {
    case text(String)
    case value(Expr, conversion: Character?, spec: String)
}

enum UnaryOperator: String, Sendable { case negate = "-", plus = "+", not }

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", remainder = "%", power = "**"
}

enum ComparisonOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">=", `in`,
         notIn = "not in", `is`, isNot = "is not"

    /// `==`, `!=`, `<`, `<=`, `>`, `>=`: the comparisons of values by order (not membership or identity).
    var isOrdering: Bool { ![.in, .notIn, .is, .isNot].contains(self) }
}

struct Argument: Sendable {
    var label: String?
    var value: Expr
    var position: SourcePosition
}

struct Parameter: Sendable {
    var name: String
    var defaultValue: Expr?
}

struct FunctionDeclaration: Sendable {
    var name: String
    var parameters: [Parameter]
    var body: [Stmt]
    var position: SourcePosition
    /// The name `def` binds (a lambda binds none).
    var variable: Variable
    /// The frame a call runs in: filled in by the resolver.
    var layout = FrameLayout()

    init(name: String, parameters: [Parameter], body: [Stmt], position: SourcePosition) {
        self.name = name
        self.parameters = parameters
        self.body = body
        self.position = position
        self.variable = Variable(name)
    }
}

/// `except KIND as name:`; no kinds means any error (but never an interrupt).
struct ExceptClause: Sendable {
    var kinds: [ScriptError.Kind]
    var name: Variable?
    var body: [Stmt]
    var position: SourcePosition
}

indirect enum Stmt: Sendable {
    case expression(Expr)
    /// Target is a `.name`, an `.index` chain rooted at a name, or a `.tuple`/`.list` of targets.
    case assign(Expr, Expr, SourcePosition)
    case augmentedAssign(Expr, BinaryOperator, Expr, SourcePosition)
    case `if`([(Expr, [Stmt])], else: [Stmt]?)
    /// The target is a name or a tuple of targets: `for i, x in enumerate(xs):`.
    case `for`(Expr, Expr, [Stmt], SourcePosition)
    case `while`(Expr, [Stmt], SourcePosition)
    case def(FunctionDeclaration)
    case `return`(Expr?, SourcePosition)
    case `try`([Stmt], [ExceptClause], finally: [Stmt]?, SourcePosition)
    case assert(Expr, message: Expr?, SourcePosition)
    case pass
    case `break`(SourcePosition)
    case `continue`(SourcePosition)
}
