/// Services for the notebook front end: tab completion, inspection (shift-tab) and whether a cell is complete.
extension Session {
    func completions(in source: String, cursor: Int, interpreter: Interpreter) -> Completion {
        let scalars = Array(source.unicodeScalars)
        let cursor = max(0, min(cursor, scalars.count))
        if let names = tensorNameCompletion(scalars, cursor, interpreter: interpreter) { return names }
        var start = cursor
        while start > 0 && isIdentifierContinue(scalars[start - 1]) { start -= 1 }
        let prefix = String(String.UnicodeScalarView(scalars[start..<cursor]))
        if let first = prefix.unicodeScalars.first, !isIdentifierStart(first) { return Completion(matches: [], start: cursor, end: cursor) }
        if isInsideString(scalars, cursor) { return Completion(matches: [], start: cursor, end: cursor) }

        var candidates: [String]
        if start > 0 && scalars[start - 1] == "." {
            // Attributes of the variable before the dot; only plain names are looked up, so completion never runs code.
            var baseStart = start - 1
            while baseStart > 0 && isIdentifierContinue(scalars[baseStart - 1]) { baseStart -= 1 }
            let base = String(String.UnicodeScalarView(scalars[baseStart..<(start - 1)]))
            candidates = interpreter.globals[base].map(Interpreter.attributeNames(of:)) ?? []
        } else {
            candidates = Keyword.allCases.map(\.rawValue) + Session.builtinNames + Array(interpreter.globals.keys)
            // Inside a call's parentheses, offer the callee's parameter names as `name=`.
            if let (calleeStart, calleeEnd) = calleeBefore(scalars, start) {
                let callee = String(String.UnicodeScalarView(scalars[calleeStart..<calleeEnd]))
                candidates += parameterNames(of: callee, interpreter: interpreter).map { $0 + "=" }
            }
        }
        let matches = Set(candidates.filter { $0.hasPrefix(prefix) }).sorted()
        return Completion(matches: matches, start: start, end: cursor)
    }

    /// Inside the name string of `layer(model, "…` (or `layer(model, name="…`): the model's tensor names.
    private func tensorNameCompletion(_ scalars: [Unicode.Scalar], _ cursor: Int, interpreter: Interpreter) -> Completion? {
        // The open string: back to its quote, with nothing but name characters in between.
        var quote = cursor
        while quote > 0, scalars[quote - 1] != "\"", scalars[quote - 1] != "'", scalars[quote - 1] != "\n" { quote -= 1 }
        guard quote > 0, scalars[quote - 1] == "\"" || scalars[quote - 1] == "'" else { return nil }
        let before = String(String.UnicodeScalarView(scalars[..<(quote - 1)]))
        // What precedes the quote must be `layer(<variable>,` optionally followed by `name=`.
        guard let match = before.firstMatch(of: /layer\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,\s*(?:name\s*=\s*)?$/),
              case .object(let object)? = interpreter.globals[String(match.1)], let model = object as? ModelObject else { return nil }
        let prefix = String(String.UnicodeScalarView(scalars[quote..<cursor]))
        let matches = model.model.tensorNames.filter { $0.hasPrefix(prefix) }
        return Completion(matches: matches, start: quote, end: cursor)
    }

    func inspection(of source: String, cursor: Int, detailLevel: Int, interpreter: Interpreter) -> RichOutput? {
        let scalars = Array(source.unicodeScalars)
        let cursor = max(0, min(cursor, scalars.count))
        var start = cursor, end = cursor
        while start > 0 && isIdentifierContinue(scalars[start - 1]) { start -= 1 }
        while end < scalars.count && isIdentifierContinue(scalars[end]) { end += 1 }
        if start == end, let callee = calleeBefore(scalars, cursor) { (start, end) = callee }
        guard start < end else { return nil }
        let name = String(String.UnicodeScalarView(scalars[start..<end]))
        if start > 0 && scalars[start - 1] == "." { return nil }
        if let value = interpreter.globals[name] {
            if case .function(let f) = value { return RichOutput(plain: f.signature + "\n\nA function defined with `def`.") }
            // The line `whos()` shows for it, then its value; more detail (shift-tab twice, or `x??`) also shows
            // a tensor as a picture and a dict of numbers as a table.
            var output = detailLevel > 0 ? richOutput(for: value) : RichOutput(plain: "")
            let description = VariableDescription(value)
            output.plain = "\(name): \(description.line)\n\(name) = \(description.value)"
            return output
        }
        if let builtin = Builtins.byName[name] { return RichOutput(plain: builtin.documentation) }
        if let text = keywordHelp[name] { return RichOutput(plain: text) }
        return nil
    }

    private func parameterNames(of callee: String, interpreter: Interpreter) -> [String] {
        switch interpreter.globals[callee] ?? Builtins.byName[callee].map(Value.builtin) {
        case .builtin(let builtin)?:
            return builtin.parameters.compactMap { switch $0.kind { case .variadic, .keywords: return nil; default: return $0.name } }
        case .function(let function)?:
            return function.declaration.parameters.map(\.name)
        default:
            return []
        }
    }

    /// The name range of the function whose argument list the cursor is in: `print(|` inspects `print`.
    private func calleeBefore(_ scalars: [Unicode.Scalar], _ cursor: Int) -> (Int, Int)? {
        var depth = 0
        var i = cursor - 1
        while i >= 0 {
            let c = scalars[i]
            if c == ")" || c == "]" { depth += 1 }
            if c == "(" || c == "[" {
                if depth == 0 {
                    guard c == "(" else { return nil }
                    var end = i
                    while end > 0 && scalars[end - 1] == " " { end -= 1 }
                    var start = end
                    while start > 0 && isIdentifierContinue(scalars[start - 1]) { start -= 1 }
                    return start < end ? (start, end) : nil
                }
                depth -= 1
            }
            if c == "\n" && depth == 0 { return nil }
            i -= 1
        }
        return nil
    }

    private func isInsideString(_ scalars: [Unicode.Scalar], _ cursor: Int) -> Bool {
        var quote: Unicode.Scalar? = nil
        var i = cursor - 1
        while i >= 0 && scalars[i] != "\n" { i -= 1 }
        i += 1
        while i < cursor {
            let c = scalars[i]
            if let q = quote {
                if c == "\\" { i += 1 } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                return true  // a comment
            }
            i += 1
        }
        return quote != nil
    }

    /// Whether a console should run the cell or read another line, answered as IPython answers it: a line
    /// ending with `:` wants an indented block (indent 4 more); an unclosed bracket or string wants more; a cell
    /// whose last line is inside a block wants more until the user ends the line (one Enter, as in Python's
    /// console: the line then ends with a newline or an empty indented line); a cell that fails to parse only
    /// at its very end (`try:` without `except` yet) wants more; any other parse failure is invalid.
    func completenessOf(_ source: String) -> Completeness {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func isBlank(_ line: String) -> Bool {
            let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{0C}" }
            return trimmed.isEmpty || trimmed.hasPrefix("#")
        }
        func indentation(_ line: String) -> String { String(line.prefix { $0 == " " || $0 == "\t" }) }
        guard let lastCodeIndex = lines.lastIndex(where: { !isBlank($0) }) else { return .complete }
        let lastCode = lines[lastCodeIndex]

        let tokens: [Token]
        do {
            tokens = try Parser.tokenize(source)
        } catch is IncompleteInput {
            return .incomplete(indent: indentation(lastCode))
        } catch {
            return .invalid
        }
        if String(lastCode.prefix(while: { $0 != "#" })).trimmingTrailingSpaces().hasSuffix(":") {
            return .incomplete(indent: indentation(lastCode) + "    ")
        }
        // Still typing on an indented line: the console sends the cell without the Enter that ends it.
        let endsLine = lastCodeIndex < lines.count - 1
        if !endsLine && !indentation(lastCode).isEmpty && tokens.contains(where: { $0.kind == .indent }) {
            return .incomplete(indent: indentation(lastCode))
        }
        do {
            var parser = Parser(tokens: tokens)
            _ = try parser.parseProgram()
            return .complete
        } catch let error as ScriptError {
            if let end = tokens.last?.position, error.line == end.line, error.column == end.column {
                return .incomplete(indent: indentation(lastCode))
            }
            return .invalid
        } catch {
            return .invalid
        }
    }
}

private extension String {
    /// Linear in the length: Substring.dropLast on Characters re-walked the string each time.
    func trimmingTrailingSpaces() -> String {
        let bytes = Array(utf8)
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 || bytes[end - 1] == 0x0D { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
