// The session's own built-ins (`whos`), the one-line description of a variable that `whos` and inspection share,
// and how dicts of numbers display.
import Foundation

extension Builtins {
    static let session: [Builtin] = [
        Builtin("whos", .session, [],
                description: "Shows the session's variables with their kind, shape and size, as IPython's %whos does. In a notebook it is a table, elsewhere aligned text.",
                example: "x = zeros(1, 28, 28)\nwhos()") { _, interpreter in
            let rows = interpreter.globals.sorted { $0.key < $1.key }.map { name, value -> [Value] in
                let d = VariableDescription(value)
                return [.string(name), .string(d.kind), .string(d.shape), .string(d.size), .string(d.value)]
            }
            let table = TableObject(columns: [.init(key: "name", heading: "Variable"), .init(key: "kind", heading: "Kind"),
                                              .init(key: "shape", heading: "Shape"), .init(key: "size", heading: "Size"),
                                              .init(key: "value", heading: "Value")],
                                    rows: rows, note: rows.isEmpty ? "no variables yet" : nil)
            interpreter.host.display(table.richOutput(), displayID: nil, update: false)
            return .none
        },
    ]
}

/// What `whos` and shift-tab inspection say about a variable.
struct VariableDescription {
    var kind: String
    var shape = ""
    var size = ""
    var value: String

    init(_ value: Value) {
        kind = value.typeName
        let text = repr(value)
        self.value = text.count > 60 ? String(text.prefix(57)) + "…" : text
        switch value {
        case .tensor(let t):
            shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            size = "\(t.count) × float32 = \(byteCount(t.count * 4))"
            self.value = tensorSummary(t)
        case .list(let items), .tuple(let items): size = items.count == 1 ? "1 item" : "\(items.count) items"
        case .dict(let d): size = d.count == 1 ? "1 entry" : "\(d.count) entries"
        case .string(let s): size = s.count == 1 ? "1 character" : "\(s.count) characters"
        case .range(let r): size = "\(r.count) numbers"
        case .object(let o): self.value = o.summary.split(separator: "\n").first.map(String.init) ?? ""
        default: break
        }
    }

    /// `kind, shape, size` in one line, for inspection.
    var line: String { [kind, shape.isEmpty ? nil : "shape \(shape)", size.isEmpty ? nil : size].compactMap { $0 }.joined(separator: ", ") }
}

private func byteCount(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB"]
    var size = Double(bytes)
    var unit = 0
    while size >= 1024 && unit < units.count - 1 { size /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", size, units[unit])
}

/// A dict whose values are numbers shows as a two-column table; one whose values are dicts of numbers
/// (`{"msp": {"auroc": 0.9, "fpr95": 0.3}}`) as a table with a column per inner key. Nil for any other dict.
func dictTable(_ d: DictValue) -> TableObject? {
    guard d.count > 0 else { return nil }
    func isNumber(_ v: Value) -> Bool {
        switch v {
        case .number, .bool: return true
        default: return false
        }
    }
    if d.values.allSatisfy(isNumber) {
        return TableObject(columns: [.init(key: "key", heading: ""), .init(key: "value", heading: "value")],
                           rows: d.entries.map { [.string(str($0.key)), $0.value] })
    }
    let inner = d.values.compactMap { v -> DictValue? in if case .dict(let i) = v { return i } else { return nil } }
    guard inner.count == d.count, inner.allSatisfy({ $0.values.allSatisfy(isNumber) }) else { return nil }
    var keys: [Value] = []
    for i in inner { for k in i.keys where !keys.contains(where: { valuesEqual($0, k) }) { keys.append(k) } }
    let columns = [TableObject.Column(key: "key", heading: "")] + keys.map { .init(key: str($0), heading: str($0)) }
    let rows = zip(d.keys, inner).map { key, i in [.string(str(key))] + keys.map { (try? i.value(for: $0)).flatMap { $0 } ?? .none } }
    return TableObject(columns: columns, rows: rows)
}
