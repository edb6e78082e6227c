/// The syntax tree. Every node carries the position errors point at.
indirect enum Expr: Sendable {
    case number(Double, SourcePosition)
    case string(String, SourcePosition)
    case bool(Bool, SourcePosition)
    case none(SourcePosition)
    case list([Expr], SourcePosition)
    case name(String, SourcePosition)
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
             .unary(_, _, let p), .binary(_, _, _, let p), .logical(_, _, _, let p), .call(_, _, let p),
             .attribute(_, _, let p), .index(_, _, let p), .slice(_, _, _, _, let p):
            return p
        case .compare(let first, _):
            return first.position
        }
    }
}

enum UnaryOperator: String, Sendable { case negate = "-", plus = "+", not }

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", remainder = "%", power = "**"
}

enum ComparisonOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">=", `in`
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
}

indirect enum Stmt: Sendable {
    case expression(Expr)
    /// Target is a `.name` or an `.index` chain rooted at a name.
    case assign(Expr, Expr, SourcePosition)
    case augmentedAssign(Expr, BinaryOperator, Expr, SourcePosition)
    case `if`([(Expr, [Stmt])], else: [Stmt]?)
    case `for`(String, Expr, [Stmt], SourcePosition)
    case `while`(Expr, [Stmt], SourcePosition)
    case def(FunctionDeclaration)
    case `return`(Expr?, SourcePosition)
    case pass
    case `break`(SourcePosition)
    case `continue`(SourcePosition)
}
