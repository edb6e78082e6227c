// Python's format-spec mini-language, for f-strings, `str.format` and `format()`.
import Foundation

/// A parsed `[[fill]align][sign][#][0][width][,|_][.precision][type]`.
private struct FormatSpec {
    var fill: Character = " "
    var align: Character?
    var sign: Character = "-"
    var width = 0
    var grouping: Character?
    var precision: Int?
    var type: Character?

    init(_ spec: String) throws {
        var chars = Array(spec)[...]
        func bad(_ why: String) -> ScriptError {
            .value("invalid format spec \(quote(spec)): \(why)",
                   hint: "e.g. `.3f` (3 decimals), `>8` (right-aligned in 8), `,` (thousands), `.1%` (percent), `e` (exponent)")
        }
        if chars.count >= 2, "<>^=".contains(chars[chars.startIndex + 1]) {
            fill = chars.removeFirst()
            align = chars.removeFirst()
        } else if let c = chars.first, "<>^=".contains(c) {
            align = chars.removeFirst()
        }
        if let c = chars.first, "+- ".contains(c) { sign = chars.removeFirst() }
        if chars.first == "#" { chars.removeFirst() }
        if chars.first == "0" {
            chars.removeFirst()
            if align == nil { fill = "0"; align = "=" }
        }
        var digits = ""
        while let c = chars.first, c.isASCII, c.isNumber { digits.append(chars.removeFirst()) }
        if !digits.isEmpty {
            guard let w = Int(digits), w <= 10_000 else { throw bad("the width is too large") }
            width = w
        }
        if let c = chars.first, c == "," || c == "_" { grouping = chars.removeFirst() }
        if chars.first == "." {
            chars.removeFirst()
            var p = ""
            while let c = chars.first, c.isASCII, c.isNumber { p.append(chars.removeFirst()) }
            guard let n = Int(p), n <= 100 else { throw bad(p.isEmpty ? "a precision after `.`" : "the precision is too large") }
            precision = n
        }
        if let c = chars.first {
            guard "fFeEgGd%sn".contains(c) else { throw bad("unknown type `\(c)`") }
            type = chars.removeFirst()
        }
        guard chars.isEmpty else { throw bad("unexpected `\(String(chars))`") }
    }
}

/// `value` formatted by `spec`, as Python's `format(value, spec)` does for numbers and strings; other values
/// take their `str` form and only alignment.
func format(_ value: Value, spec: String) throws -> String {
    if spec.isEmpty { return str(value) }
    let spec = try FormatSpec(spec)
    var number: Double?
    switch value {
    case .number(let x): number = x
    case .bool(let b) where spec.type != nil && spec.type != "s": number = b ? 1 : 0
    case .tensor(let t) where t.count == 1: number = widen(t.data[0])
    default: break
    }
    guard let x = number else {
        if let type = spec.type, type != "s" {
            throw ScriptError.value("format type `\(type)` needs a number, got a \(value.typeName)")
        }
        var text = str(value)
        if let p = spec.precision { text = String(text.prefix(p)) }
        return pad(text, spec, defaultAlign: "<")
    }
    if spec.type == "s" { throw ScriptError.value("format type `s` needs a string, got a number", hint: "use `{x}` or `{x:.3f}`") }
    var body: String
    let magnitude = abs(x)
    if x.isNaN {
        body = "nan"
    } else if x.isInfinite {
        body = "inf"
    } else {
        switch spec.type {
        case "f", "F": body = String(format: "%.\(spec.precision ?? 6)f", magnitude)
        case "e", "E": body = String(format: "%.\(spec.precision ?? 6)e", magnitude)
        case "g", "G", "n": body = String(format: "%.\(max(1, spec.precision ?? 6))g", magnitude)
        case "%": body = String(format: "%.\(spec.precision ?? 6)f", magnitude * 100) + "%"
        case "d":
            guard x == x.rounded() else {
                throw ScriptError.value("format type `d` needs a whole number, got \(formatNumber(x))", hint: "use `.0f` to round")
            }
            body = formatNumber(magnitude)
        default:
            body = spec.precision.map { String(format: "%.\(max(1, $0))g", magnitude) } ?? formatNumber(magnitude)
        }
        if spec.type == "E" || spec.type == "G" || spec.type == "F" { body = body.uppercased() }
    }
    if let separator = spec.grouping { body = grouped(body, separator) }
    let negative = x < 0 || (x == 0 && x.sign == .minus && spec.type != nil && spec.type != "d")
    let signText = negative ? "-" : spec.sign == "+" ? "+" : spec.sign == " " ? " " : ""
    if spec.align == "=" {
        let padding = max(0, spec.width - signText.count - body.count)
        return signText + String(repeating: spec.fill, count: padding) + body
    }
    return pad(signText + body, spec, defaultAlign: ">")
}

private func grouped(_ body: String, _ separator: Character) -> String {
    let digits = body.prefix { $0.isNumber }
    guard digits.count > 3 else { return body }
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(separator) }
        out.append(c)
    }
    return out + body.dropFirst(digits.count)
}

private func pad(_ text: String, _ spec: FormatSpec, defaultAlign: Character) -> String {
    let padding = max(0, spec.width - text.count)
    guard padding > 0 else { return text }
    switch spec.align ?? defaultAlign {
    case "<": return text + String(repeating: spec.fill, count: padding)
    case "^": return String(repeating: spec.fill, count: padding / 2) + text + String(repeating: spec.fill, count: padding - padding / 2)
    default: return String(repeating: spec.fill, count: padding) + text
    }
}

/// `"{} of {total}: {:.2f}".format(...)`: automatic `{}` and numbered `{0}` fields, named `{name}` fields, specs.
func formatTemplate(_ template: String, _ positional: [Value], _ named: DictValue) throws -> String {
    var out = ""
    var chars = Array(template)[...]
    var automatic = 0
    while let c = chars.popFirst() {
        if c == "}" {
            guard chars.popFirst() == "}" else { throw ScriptError.value("single `}` in a format string", hint: "write `}}` for a literal brace") }
            out.append("}")
            continue
        }
        guard c == "{" else { out.append(c); continue }
        if chars.first == "{" { chars.removeFirst(); out.append("{"); continue }
        var field = ""
        while let d = chars.first, d != "}" { field.append(chars.removeFirst()) }
        guard chars.popFirst() == "}" else { throw ScriptError.value("`{` without a closing `}` in a format string") }
        var spec = ""
        if let colon = field.firstIndex(of: ":") {
            spec = String(field[field.index(after: colon)...])
            field = String(field[..<colon])
        }
        var conversion: Character?
        if let bang = field.firstIndex(of: "!") {
            conversion = field[field.index(after: bang)...].first
            field = String(field[..<bang])
        }
        let value: Value
        if field.isEmpty {
            guard automatic < positional.count else {
                throw ScriptError.index("the format string has more `{}` fields than the \(positional.count) values given")
            }
            value = positional[automatic]
            automatic += 1
        } else if let i = Int(field) {
            guard i >= 0 && i < positional.count else { throw ScriptError.index("format field {\(i)} but \(positional.count) values were given") }
            value = positional[i]
        } else {
            guard let v = try named.value(for: .string(field)) else {
                throw ScriptError.key("format field {\(field)} was not given", hint: "pass it by name: .format(\(field)=...)")
            }
            value = v
        }
        let converted: Value = conversion == "r" ? .string(repr(value)) : conversion == "s" ? .string(str(value)) : value
        out += try format(converted, spec: spec)
    }
    return out
}
