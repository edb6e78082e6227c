import Graph

/// An error a cell reports to the user: a kind (as in Python: NameError, TypeError, …), a message,
/// the 1-based line and column in the cell, an optional hint, and a rendered multi-line text.
public struct ScriptError: Error, Sendable, Equatable {
    public var kind: String
    public var message: String
    public var line: Int?
    public var column: Int?
    public var hint: String?
    public var rendered: String
    /// Source the position refers to, once known; errors inside a user function point into the cell
    /// that defined the function, not the cell that called it.
    var locatedSource: String?
    /// Extra lines for the rendered text, e.g. which function the error happened in.
    var trace: [String] = []

    public init(kind: String, message: String, line: Int? = nil, column: Int? = nil, hint: String? = nil, source: String? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        self.locatedSource = source
        self.rendered = ""
        self.rendered = render(source: source)
    }

    public static func interrupted() -> ScriptError {
        ScriptError(kind: "KeyboardInterrupt", message: "interrupted")
    }

    /// Renders:
    ///
    ///     NameError: `x` is not defined
    ///     line 2, column 5:
    ///         y = x + 1
    ///             ^
    ///     hint: did you mean `y`?
    func render(source: String?) -> String {
        var lines = ["\(kind): \(message)"]
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
        ScriptError(kind: "SyntaxError", message: message, line: position.line, column: position.column, hint: hint)
    }
    static func name(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: "NameError", message: message, hint: hint) }
    static func type(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: "TypeError", message: message, hint: hint) }
    static func value(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: "ValueError", message: message, hint: hint) }
    static func index(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: "IndexError", message: message, hint: hint) }
    static func shape(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: "ShapeError", message: message, hint: hint) }
    static func io(_ message: String, hint: String? = nil) -> ScriptError { ScriptError(kind: "IOError", message: message, hint: hint) }
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
