/// A 1-based position in a cell's source; columns count Unicode scalars.
struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    var line: Int
    var column: Int
    var description: String { "\(line):\(column)" }
}

enum TokenKind: Sendable, Equatable {
    case identifier(String)
    case number(Double)
    case string(String)
    /// An f-string: literal text and `{…}` parts, each part already tokenized.
    case formatted([FormattedToken])
    case keyword(Keyword)
    case symbol(String)      // operators and punctuation: + - * / // % ** ( ) [ ] , : . = += -= *= /= == != < <= > >=
    case newline
    case indent
    case dedent
    case end
}

enum Keyword: String, Sendable, CaseIterable {
    case and, or, not, `if`, elif, `else`, `for`, `in`, `while`, def, `return`, pass, `break`, `continue`, `true`, `false`, none,
         `is`, lambda, `try`, except, finally, `as`, assert

    /// Python's spellings of the constants, accepted as the same keywords.
    static let pythonSpellings: [String: Keyword] = ["True": .true, "False": .false, "None": .none]
}

/// A piece of an f-string as the lexer leaves it: text, or the tokens of one `{expression!conversion:spec}`.
enum FormattedToken: Sendable, Equatable {
    case text(String)
    case value(tokens: [Token], conversion: Character?, spec: String, position: SourcePosition)
}

struct Token: Sendable, Equatable {
    var kind: TokenKind
    var position: SourcePosition
}

/// Turns a cell into tokens, including Python-style NEWLINE, INDENT and DEDENT tokens.
///
/// Indentation rules (as in Python): a line indented deeper than the previous statement line opens a block
/// (INDENT); returning to an outer level closes blocks (DEDENT) and must match one of them exactly. A tab
/// advances to the next multiple of 8 columns. Blank and comment-only lines, and lines inside brackets,
/// do not affect indentation.
struct Lexer {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var column = 1
    private var tokens: [Token] = []
    private var indents = [0]
    private var brackets: [(Unicode.Scalar, SourcePosition)] = []
    private var atLineStart = true

    init(_ source: String) {
        scalars = Array(source.unicodeScalars)
    }

    /// A lexer for an expression inside an f-string, with positions continuing those of the cell.
    private init(expression: [Unicode.Scalar], at start: SourcePosition) {
        scalars = expression
        line = start.line
        column = start.column
        atLineStart = false
    }

    /// Throws ScriptError for malformed input, or IncompleteInput when the input ends inside a bracket or a
    /// triple-quoted string.
    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = Lexer(source)
        return try lexer.run()
    }

    private var position: SourcePosition { SourcePosition(line: line, column: column) }
    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    private mutating func advance() {
        if scalars[index] == "\n" { line += 1; column = 1 } else { column += 1 }
        index += 1
    }

    private mutating func emit(_ kind: TokenKind, at position: SourcePosition) {
        tokens.append(Token(kind: kind, position: position))
    }

    private mutating func run() throws -> [Token] {
        while index < scalars.count {
            if atLineStart && brackets.isEmpty {
                try handleIndentation()
                continue
            }
            let c = scalars[index]
            let start = position
            switch c {
            case "\n":
                if brackets.isEmpty {
                    emit(.newline, at: start)
                    atLineStart = true
                }
                advance()
            case " ", "\t", "\r":
                advance()
            case "\\" where peek(1) == "\n":
                // Explicit line continuation.
                advance(); advance()
            case "#":
                while let n = peek(), n != "\n" { advance() }
            case "\"", "'":
                emit(.string(try lexString()), at: start)
            case "0"..."9":
                emit(.number(try lexNumber()), at: start)
            case "." where peek(1).map { ("0"..."9").contains($0) } == true:
                emit(.number(try lexNumber()), at: start)
            case _ where "fFrR".unicodeScalars.contains(c) && (peek(1) == "\"" || peek(1) == "'"):
                if c == "f" || c == "F" {
                    emit(.formatted(try lexFormatted()), at: start)
                } else {
                    advance()
                    emit(.string(try lexString(raw: true)), at: start)
                }
            case _ where isIdentifierStart(c):
                var name = ""
                while let n = peek(), isIdentifierContinue(n) { name.unicodeScalars.append(n); advance() }
                emit((Keyword(rawValue: name) ?? Keyword.pythonSpellings[name]).map { .keyword($0) } ?? .identifier(name), at: start)
            default:
                try lexSymbol()
            }
        }
        if let (open, position) = brackets.last {
            throw IncompleteInput(error: .syntax("`\(open)` was never closed", at: position), tokens: closedTokens())
        }
        let end = position
        if let last = tokens.last, last.kind != .newline { emit(.newline, at: end) }
        while indents.count > 1 { indents.removeLast(); emit(.dedent, at: end) }
        emit(.end, at: end)
        return tokens
    }

    /// The tokens so far, ended as a complete cell would be.
    private func closedTokens() -> [Token] {
        tokens + [Token(kind: .newline, position: position), Token(kind: .end, position: position)]
    }

    private mutating func handleIndentation() throws {
        var width = 0
        while let c = peek(), c == " " || c == "\t" || c == "\r" || c == "\u{0C}" {
            if c == " " { width += 1 } else if c == "\t" { width = (width / 8 + 1) * 8 }
            advance()
        }
        // Blank and comment-only lines don't count.
        if peek() == nil { atLineStart = false; return }
        if peek() == "\n" || peek() == "#" {
            while let n = peek(), n != "\n" { advance() }
            if peek() == "\n" { advance() }
            return
        }
        atLineStart = false
        if width > indents.last! {
            indents.append(width)
            emit(.indent, at: position)
        } else {
            while width < indents.last! {
                indents.removeLast()
                emit(.dedent, at: position)
            }
            if width != indents.last! {
                throw ScriptError.syntax("unindent does not match any outer indentation level", at: position,
                                         hint: "indent each line of a block by the same amount (4 spaces is usual)")
            }
        }
    }

    private mutating func lexSymbol() throws {
        let start = position
        let c = scalars[index]
        let two = peek(1).map { String(c) + String($0) } ?? ""
        let pairs: Set<String> = ["**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/="]
        let singles: Set<Unicode.Scalar> = ["+", "-", "*", "/", "%", "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "<", ">", ";"]
        if pairs.contains(two) {
            advance(); advance()
            emit(.symbol(two), at: start)
            return
        }
        guard singles.contains(c) else {
            throw ScriptError.syntax("unexpected character `\(c.escaped(asASCII: false))`", at: start)
        }
        advance()
        switch c {
        case "(", "[", "{":
            brackets.append((c, start))
        case ")", "]", "}":
            let expected: Unicode.Scalar = c == ")" ? "(" : c == "]" ? "[" : "{"
            guard let (open, openPosition) = brackets.last else {
                throw ScriptError.syntax("unmatched `\(c)`", at: start)
            }
            guard open == expected else {
                throw ScriptError.syntax("closing `\(c)` does not match `\(open)` opened at line \(openPosition.line), column \(openPosition.column)", at: start)
            }
            brackets.removeLast()
        default:
            break
        }
        emit(.symbol(String(c)), at: start)
    }

    private mutating func lexNumber() throws -> Double {
        let start = position
        var text = ""
        func digits(_ lexer: inout Lexer) {
            while let n = lexer.peek(), ("0"..."9").contains(n) || n == "_" {
                if n != "_" { text.unicodeScalars.append(n) }
                lexer.advance()
            }
        }
        digits(&self)
        if peek() == ".", peek(1).map({ ("0"..."9").contains($0) }) == true || !(peek(1).map(isIdentifierStart) ?? false) {
            text += "."
            advance()
            digits(&self)
        }
        if let e = peek(), e == "e" || e == "E" {
            let sign = peek(1)
            let hasSign = sign == "+" || sign == "-"
            if let d = peek(hasSign ? 2 : 1), ("0"..."9").contains(d) {
                text += "e"
                advance()
                if hasSign { text.unicodeScalars.append(sign!); advance() }
                digits(&self)
            }
        }
        if let n = peek(), isIdentifierStart(n) {
            throw ScriptError.syntax("invalid number: a letter right after `\(text)`", at: start)
        }
        guard let value = Double(text) else { throw ScriptError.syntax("invalid number `\(text)`", at: start) }
        return value
    }

    private mutating func lexString(raw: Bool = false) throws -> String {
        let start = position
        let quote = scalars[index]
        let triple = peek(1) == quote && peek(2) == quote
        for _ in 0..<(triple ? 3 : 1) { advance() }
        var value = ""
        while true {
            guard let c = peek() else { throw unterminated(triple: triple, quote: quote, start: start) }
            if c == quote {
                if !triple { advance(); return value }
                if peek(1) == quote && peek(2) == quote { advance(); advance(); advance(); return value }
            }
            if c == "\n" && !triple { throw unterminated(triple: false, quote: quote, start: start, newline: true) }
            if c == "\\" {
                if raw {
                    value.unicodeScalars.append(c)
                    advance()
                    if let e = peek() { value.unicodeScalars.append(e); advance() }
                } else {
                    try lexEscape(into: &value)
                }
                continue
            }
            value.unicodeScalars.append(c)
            advance()
        }
    }

    private func unterminated(triple: Bool, quote: Unicode.Scalar, start: SourcePosition, newline: Bool = false) -> any Error {
        if triple {
            return IncompleteInput(error: .syntax("unterminated triple-quoted string", at: start), tokens: closedTokens())
        }
        if newline {
            return ScriptError.syntax("unterminated string", at: start, hint: "close the string with \(quote) on the same line, or use triple quotes for several lines")
        }
        return ScriptError.syntax("unterminated string", at: start, hint: "close the string with \(quote)")
    }

    /// A backslash escape (the backslash is next), appended to `value`.
    private mutating func lexEscape(into value: inout String) throws {
        let escapePosition = position
        advance()
        guard let e = peek() else { return }
        advance()
        switch e {
        case "n": value += "\n"
        case "t": value += "\t"
        case "r": value += "\r"
        case "0": value += "\0"
        case "\\": value += "\\"
        case "'": value += "'"
        case "\"": value += "\""
        case "\n": break  // an escaped newline continues the string
        case "u":
            var hex = ""
            for _ in 0..<4 { if let h = peek(), h.properties.isASCIIHexDigit { hex.unicodeScalars.append(h); advance() } }
            guard hex.count == 4, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                throw ScriptError.syntax("invalid \\u escape: expected 4 hex digits", at: escapePosition)
            }
            value.unicodeScalars.append(scalar)
        default:
            // Unknown escapes stay as written, as in Python.
            value += "\\"
            value.unicodeScalars.append(e)
        }
    }

    /// An f-string (the `f` is next): `{expression}`, `{expression:spec}`, `{expression!r}`, `{{` and `}}`.
    private mutating func lexFormatted() throws -> [FormattedToken] {
        let start = position
        advance()  // the f
        let quote = scalars[index]
        let triple = peek(1) == quote && peek(2) == quote
        for _ in 0..<(triple ? 3 : 1) { advance() }
        var parts: [FormattedToken] = []
        var text = ""
        func flush() { if !text.isEmpty { parts.append(.text(text)); text = "" } }
        while true {
            guard let c = peek() else { throw unterminated(triple: triple, quote: quote, start: start) }
            if c == quote {
                if !triple { advance(); flush(); return parts }
                if peek(1) == quote && peek(2) == quote { advance(); advance(); advance(); flush(); return parts }
            }
            if c == "\n" && !triple { throw unterminated(triple: false, quote: quote, start: start, newline: true) }
            if c == "{" && peek(1) == "{" || c == "}" && peek(1) == "}" {
                text.unicodeScalars.append(c)
                advance(); advance()
                continue
            }
            if c == "}" {
                throw ScriptError.syntax("single `}` in an f-string", at: position, hint: "write `}}` for a literal brace")
            }
            if c == "\\" { try lexEscape(into: &text); continue }
            if c != "{" { text.unicodeScalars.append(c); advance(); continue }
            flush()
            parts.append(try lexFormattedValue(quote: quote, triple: triple))
        }
    }

    /// One `{expression!conversion:spec}` of an f-string (the `{` is next).
    private mutating func lexFormattedValue(quote: Unicode.Scalar, triple: Bool) throws -> FormattedToken {
        let brace = position
        advance()
        let expressionStart = position
        var expression: [Unicode.Scalar] = []
        var depth = 0
        var innerQuote: Unicode.Scalar?
        var conversion: Character?
        var spec = ""
        func notClosed() -> ScriptError {
            .syntax("f-string: `{` was never closed", at: brace, hint: "end the expression with `}`; write `{{` for a literal brace")
        }
        scan: while true {
            guard let d = peek(), d != "\n" || triple else { throw notClosed() }
            if let q = innerQuote {
                if d == q { innerQuote = nil }
                expression.append(d); advance(); continue
            }
            switch d {
            case quote where !triple:
                throw ScriptError.syntax("f-string: the expression in `{}` uses the string's own quote", at: position,
                                         hint: "use the other kind of quote inside the braces")
            case "\"", "'":
                innerQuote = d
            case "(", "[", "{":
                depth += 1
            case ")", "]":
                depth -= 1
            case "}":
                if depth == 0 { advance(); break scan }
                depth -= 1
            case "!" where depth == 0 && peek(1) != "=":
                advance()
                guard let k = peek(), k == "r" || k == "s" || k == "a" else {
                    throw ScriptError.syntax("f-string: expected `r`, `s` or `a` after `!`", at: position)
                }
                conversion = Character(k)
                advance()
                if peek() == ":" { continue scan }
                guard peek() == "}" else { throw ScriptError.syntax("f-string: expected `}` after `!\(k)`", at: position) }
                advance()
                break scan
            case ":" where depth == 0:
                advance()
                while let s = peek(), s != "}" {
                    guard s != "\n" || triple, s != quote || triple else { throw notClosed() }
                    spec.unicodeScalars.append(s)
                    advance()
                }
                guard peek() == "}" else { throw notClosed() }
                advance()
                break scan
            default:
                break
            }
            expression.append(d)
            advance()
        }
        guard expression.contains(where: { !$0.properties.isWhitespace }) else {
            throw ScriptError.syntax("f-string: empty expression in `{}`", at: brace, hint: "write `{{}}` for literal braces")
        }
        var sub = Lexer(expression: expression, at: expressionStart)
        let tokens: [Token]
        do { tokens = try sub.run() } catch let incomplete as IncompleteInput { throw incomplete.error }
        return .value(tokens: tokens, conversion: conversion, spec: spec, position: expressionStart)
    }
}

func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
    c == "_" || c.properties.isAlphabetic
}

func isIdentifierContinue(_ c: Unicode.Scalar) -> Bool {
    isIdentifierStart(c) || ("0"..."9").contains(c) || c.properties.numericType == .decimal
}
