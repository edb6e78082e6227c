import Graph

/// An error a cell reports to the user: a kind (as in Python: NameError, TypeError, …), a message,
/// the 1-based line and column in the cell, an optional hint, and a rendered multi-line text.
public struct ScriptError: Error, Sendable, Equatable {
    /// What went wrong, as one of the language's error kinds (the name `except` matches and `e.kind` shows).
    public var kind: Kind
    /// What went wrong, in one sentence naming the value or name involved.
    public var message: String
    /// 1-based line in the cell, when the error has a position.
    public var line: Int?
    /// 1-based column in that line.
    public var column: Int?
    /// A suggestion (a near name, the Mirage way of doing it), when there is one.
    public var hint: String?
    /// The whole report as the user sees it: kind, message, the source line with a caret, the hint.
    public var rendered: String
    /// Source the position refers to, once known; errors inside a user function point into the cell
    /// that defined the function, not the cell that called it.
    var locatedSource: String?
    /// Extra lines for the rendered text, e.g. which function the error happened in.
    var trace: [String] = []

    /// An error of `kind` with its message; `line`/`column` (1-based) place it in `source`, the cell's text, for the caret.
    public init(kind: Kind, message: String, line: Int? = nil, column: Int? = nil, hint: String? = nil, source: String? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        self.locatedSource = source
        self.rendered = ""
        self.rendered = render(source: source)
    }

    /// Every kind of error Mirage raises, with what it means; docs/language.md's table is generated from this.
    public enum Kind: String, Sendable, CaseIterable {
        case syntaxError = "SyntaxError"
        case nameError = "NameError"
        case typeError = "TypeError"
        case valueError = "ValueError"
        case indexError = "IndexError"
        case keyError = "KeyError"
        case attributeError = "AttributeError"
        case shapeError = "ShapeError"
        case zeroDivisionError = "ZeroDivisionError"
        case assertionError = "AssertionError"
        case recursionError = "RecursionError"
        case ioError = "IOError"
        case permissionError = "PermissionError"
        case memoryError = "MemoryError"
        case eofError = "EOFError"
        case modelError = "ModelError"
        case attackError = "AttackError"
        case datasetError = "DatasetError"
        case internalError = "InternalError"
        case keyboardInterrupt = "KeyboardInterrupt"

        /// When it is raised.
        public var meaning: String {
            switch self {
            case .syntaxError: return "the cell does not parse (raised before any of it runs)"
            case .nameError: return "a name that is not defined"
            case .typeError: return "a value of the wrong kind for an operation or argument"
            case .valueError: return "a value of the right kind but out of range or otherwise unusable"
            case .indexError: return "an index past the end of a list, string, tuple, range or tensor"
            case .keyError: return "a dict has no such key"
            case .attributeError: return "a value has no such attribute or method"
            case .shapeError: return "tensor shapes that do not fit together"
            case .zeroDivisionError: return "a number divided by zero (tensors follow IEEE rules instead)"
            case .assertionError: return "an `assert` whose condition is false"
            case .recursionError: return "calls or expressions nested too deeply"
            case .ioError: return "a file that cannot be read or written, or input that cannot be requested"
            case .permissionError: return "a built-in that is not allowed on this host (file access is off in a sandbox)"
            case .memoryError: return "a tensor, model or batch larger than the memory limit (MIRAGE_MEMORY_LIMIT)"
            case .eofError: return "`input()` when the input has ended (`mirage run` at end of stdin)"
            case .modelError: return "a model that cannot be imported or run"
            case .attackError: return "an attack that cannot be set up or stepped"
            case .datasetError: return "a dataset that cannot be read, or a results store that cannot be written"
            case .internalError: return "a failure inside Mirage itself; please report it"
            case .keyboardInterrupt: return "the kernel was interrupted; it cannot be caught by `except`"
            }
        }

        /// The kinds `except` can name.
        public static var catchable: [Kind] { allCases.filter { $0 != .keyboardInterrupt && $0 != .syntaxError } }
    }

    /// The error a cell ends with when the user interrupts it.
    public static func interrupted() -> ScriptError {
        ScriptError(kind: .keyboardInterrupt, message: "interrupted")
    }

    /// Renders:
    ///
    ///     NameError: `x` is not defined
    ///     line 2, column 5:
    ///         y = x + 1
    ///             ^
    ///     hint: did you mean `y`?
    func render(source: String?) -> String {
        var lines = ["\(kind.rawValue): \(message)"]
        if let line {
            lines.append(column.map { "line \(line), column \($0):" } ?? "line \(line):")
            let sourceLines = source.map { $0.split(separator: "\n", omittingEmptySubsequences: false) } ?? []
            if line >= 1 && line <= sourceLines.count {
                let text = String(sourceLines[line - 1]).replacing("\r", with: "")
                lines.append("    " + text)
                if let column, column >= 1 {
                    // Copy tabs so the caret lines up under tab-indented code.
                    let prefix = text.unicodeScalars.prefix(column - 1).map { $0 == "\t" ? "\t" : " " }.joined()
                    lines.append("    " + prefix + "^")
                }
            }
        }
        lines += trace
        if let hint { lines.append("hint: " + hint) }
        return lines.joined(separator: "\n")
    }

    /// This error with its position and rendering resolved against `source` (when not already resolved).
    func located(in source: String) -> ScriptError {
        var copy = self
        if copy.locatedSource == nil { copy.locatedSource = source }
        copy.rendered = copy.render(source: copy.locatedSource)
        return copy
    }

    /// This error with a position, unless it already has one.
    func at(_ position: SourcePosition) -> ScriptError {
        guard line == nil else { return self }
        var copy = self
        copy.line = position.line
        copy.column = position.column
        copy.rendered = copy.render(source: nil)
        return copy
    }

    // Constructors for the common kinds, so messages stay uniform.
    static func syntax(_ message: String, at position: SourcePosition, hint: String? = nil) -> ScriptError {
        ScriptError(kind: .syntaxError, message: message, line: position.line, column: position.column, hint: hint)
    }
    static func name(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: .nameError, message: message, hint: hint) }
    static func type(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: .typeError, message: message, hint: hint) }
    static func value(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: .valueError, message: message, hint: hint) }
    static func index(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: .indexError, message: message, hint: hint) }
    static func shape(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: .shapeError, message: message, hint: hint) }
    static func io(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: .ioError, message: message, hint: hint) }
    static func key(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: .keyError, message: message, hint: hint) }
    static func memory(_ message: String) -> ScriptError { ScriptError(kind: .memoryError, message: message) }
}

/// Thrown by the lexer when the input stops inside a bracket or a triple-quoted string: the cell may simply be unfinished.
struct IncompleteInput: Error {
    var error: ScriptError
    /// The tokens before the unfinished part, closed with NEWLINE and END.
    var tokens: [Token]

    /// A syntax error on or before the line where the unfinished part starts: `def f(:` is better reported at
    /// the `:` than as an unclosed `(`.
    func earlierSyntaxError() -> ScriptError? {
        var parser = Parser(tokens: tokens)
        do {
            _ = try parser.parseProgram()
            return nil
        } catch let syntaxError as ScriptError {
            guard let line = syntaxError.line, let openLine = error.line, let end = tokens.last?.position,
                  line <= openLine, (line, syntaxError.column ?? 0) < (end.line, end.column) else { return nil }
            return syntaxError
        } catch {
            return nil
        }
    }
}

/// The closest candidate to `name`, if it is close enough to be a plausible typo.
func closestName(to name: String, among candidates: some Sequence<String>) -> String? {
    let limit = max(1, name.unicodeScalars.count / 3)
    var best: (String, Int)?
    for candidate in candidates where candidate != name {
        let d = editDistance(name.lowercased(), candidate.lowercased())
        if d <= limit && (best == nil || d < best!.1 || (d == best!.1 && candidate < best!.0)) { best = (candidate, d) }
    }
    return best?.0
}

/// A caught error, as `except ValueError as e` binds it: `e.kind`, `e.message`; `str(e)` is the message.
final class ErrorObject: ScriptObject, @unchecked Sendable {
    let error: ScriptError
    init(_ error: ScriptError) { self.error = error }

    var typeName: String { "error" }
    var attributeNames: [String] { ["kind", "message", "hint", "line"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "kind": return .string(error.kind.rawValue)
        case "message": return .string(error.message)
        case "hint": return error.hint.map(Value.string) ?? .none
        default: return error.line.map { .number(Double($0)) } ?? .none
        }
    }
    var summary: String { "\(error.kind.rawValue)(\(quote(error.message)))" }
}
