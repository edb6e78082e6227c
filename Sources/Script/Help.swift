import Imaging
import Tensor

/// Short help for keywords, so `help("for")` works too.
let keywordHelp: [String: String] = [
    "if": "if condition:\n    ...\nelif other_condition:\n    ...\nelse:\n    ...\n\nRuns the first block whose condition is true. `elif` and `else` are optional.",
    "elif": "See `if`.",
    "else": "See `if`.",
    "for": "for name in values:\n    ...\n\nRuns the block once for each item of a list, range, string, or tensor (along its first axis). `break` leaves the loop; `continue` skips to the next item.",
    "while": "while condition:\n    ...\n\nRuns the block as long as the condition is true.",
    "def": "def name(a, b=1):\n    ...\n    return a + b\n\nDefines a function. Parameters with a default value are optional. Inside, assigned names are local; other names are looked up among the notebook's variables and the built-ins.",
    "return": "return value\n\nLeaves the function, giving `value` (or `none`) to the caller.",
    "and": "a and b\n\nTrue when both are true; gives `a` if it is false, otherwise `b`.",
    "or": "a or b\n\nTrue when either is true; gives `a` if it is true, otherwise `b`.",
    "not": "not a\n\n`true` when `a` is false, and the other way round.",
    "in": "x in values\n\nWhether `x` is an item of a list or range, a substring of a string, or an element of a tensor. Also part of `for`.",
    "true": "The boolean values are `true` and `false` (lower case).",
    "false": "The boolean values are `true` and `false` (lower case).",
    "none": "`none` stands for \"no value\": functions without `return` give it, and a cell whose last value is `none` shows nothing.",
    "pass": "pass\n\nDoes nothing; use it for an empty block.",
    "break": "break\n\nLeaves the innermost `for` or `while` loop.",
    "continue": "continue\n\nSkips to the next round of the innermost loop.",
]

/// The text `help(topic)` shows.
func helpText(for topic: Value, interpreter: Interpreter) throws -> String {
    switch topic {
    case .none:
        return builtinIndex()
    case .builtin(let builtin):
        return builtin.documentation
    case .function(let function):
        return "\(function.signature)\n\nA function defined with `def`."
    case .string(let name):
        if let builtin = Builtins.byName[name] { return builtin.documentation }
        if let text = keywordHelp[name] { return text }
        if let value = interpreter.globals[name] { return describe(value, name: name) }
        let suggestion = closestName(to: name, among: Array(Builtins.byName.keys) + Array(keywordHelp.keys))
        throw ScriptError.name("no help for \(quote(name))", hint: suggestion.map { "did you mean \(quote($0))?" } ?? "call help() for the list of built-ins")
    default:
        return describe(topic, name: nil)
    }
}

private func describe(_ value: Value, name: String?) -> String {
    let prefix = name.map { "\($0): " } ?? ""
    var text = prefix + "a \(value.typeName): " + repr(value)
    let attributes = Interpreter.attributeNames(of: value)
    if !attributes.isEmpty { text += "\n\nattributes: " + attributes.joined(separator: ", ") }
    if case .function(let f) = value { text = prefix + f.signature + "\n\nA function defined with `def`." }
    if case .builtin(let b) = value { text = b.documentation }
    return text
}

/// `help()` without arguments: the built-ins by group with their one-line summaries.
func builtinIndex() -> String {
    var lines = ["Mirage \(Session.languageVersion): built-in functions. Call help(name) for details, e.g. help(show).", ""]
    for group in BuiltinGroup.allCases {
        lines.append(group.rawValue + ":")
        for builtin in Builtins.all where builtin.group == group {
            // Long signatures get their summary on the next line, so the list stays readable in a pager.
            if builtin.signature.count > 36 {
                lines += wrapped(builtin.signature, width: 110).map { "  " + $0 }
                lines.append("  " + String(repeating: " ", count: 38) + builtin.summary)
            } else {
                lines.append("  " + builtin.signature.padding(toLength: 36) + "  " + builtin.summary)
            }
        }
        lines.append("")
    }
    lines.append("Keywords: " + Keyword.allCases.map(\.rawValue).joined(separator: " ") + "  (help(\"for\") etc.)")
    return lines.joined(separator: "\n")
}

private extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}

/// How a value appears as a cell's result or in `show`: tensors as pictures with a summary, others as text.
func richOutput(for value: Value) -> RichOutput {
    if case .object(let object) = value { return object.richOutput() }
    if case .dict(let d) = value, let table = dictTable(d) { return RichOutput(plain: repr(value), html: table.html) }
    guard case .tensor(let tensor) = value else { return RichOutput(plain: repr(value)) }
    var output = RichOutput(plain: tensorSummary(tensor))
    if PictureDisplay.isDisplayable(tensor), let rendered = try? PictureDisplay.render(tensor) {
        output.png = rendered.png
        output.pngWidth = rendered.width
        output.pngHeight = rendered.height
    }
    return output
}

/// A signature broken after commas into lines of at most `width` characters, continuations indented.
func wrapped(_ signature: String, width: Int) -> [String] {
    var lines: [String] = []
    var line = ""
    for part in signature.components(separatedBy: ", ") {
        let piece = line.isEmpty ? part : line + ", " + part
        if piece.count > width && !line.isEmpty {
            lines.append(line + ",")
            line = "    " + part
        } else {
            line = piece
        }
    }
    return lines + [line]
}
