import Foundation

/// A table of named columns (`ood_metrics`, `audit`, `attack_metrics`): an HTML table in a notebook,
/// aligned text elsewhere. Each column is an attribute (`t.auroc`), `t.rows` gives the rows as lists.
final class TableObject: ScriptObject, @unchecked Sendable {
    struct Column {
        /// The attribute name, e.g. `auroc`.
        var key: String
        /// The heading shown, e.g. `AUROC`.
        var heading: String
    }

    let title: String?
    let columns: [Column]
    let rows: [[Value]]
    /// A line under the table, e.g. which FPR95 convention it uses.
    let note: String?
    /// Plots that go with the table, as attributes (`audit`'s ROC curves and histograms).
    let plots: [(name: String, plot: PlotObject)]

    init(title: String? = nil, columns: [Column], rows: [[Value]], note: String? = nil, plots: [(name: String, plot: PlotObject)] = []) {
        self.title = title
        self.columns = columns
        self.rows = rows
        self.note = note
        self.plots = plots
    }

    var typeName: String { "table" }
    var attributeNames: [String] { columns.map(\.key) + ["rows", "columns"] + plots.map(\.name) }

    func attribute(_ name: String) throws -> Value {
        switch name {
        case "rows": return .list(rows.map { .list($0) })
        case "columns": return .list(columns.map { .string($0.key) })
        default:
            if let plot = plots.first(where: { $0.name == name }) { return .object(plot.plot) }
            guard let k = columns.firstIndex(where: { $0.key == name }) else {
                throw ScriptError(kind: .attributeError, message: "a table has no column `\(name)`",
                                  hint: "columns: \(columns.map(\.key).joined(separator: ", "))")
            }
            return .list(rows.map { $0[k] })
        }
    }

    /// `print(table)` prints the whole table, as pandas does.
    var summary: String { text }

    /// Cell texts, column by column: a column of whole numbers (sample indices, classes) prints them whole,
    /// any other numeric column prints every number with four decimals (so 1 reads 1.0000 beside 0.9460).
    var cellTexts: [[String]] {
        let fractional = columns.indices.map { k in
            rows.contains { row in
                if case .number(let x) = row[k] { return x != x.rounded() || !x.isFinite }
                return false
            }
        }
        return rows.map { row in
            row.enumerated().map { k, value in
                guard case .number(let x) = value, fractional[k], x.isFinite else { return str(value) }
                return abs(x) >= 1e5 || (abs(x) < 1e-3 && x != 0) ? String(format: "%.4g", x) : String(format: "%.4f", x)
            }
        }
    }

    var text: String {
        let cells = cellTexts
        let widths = columns.indices.map { k in ([columns[k].heading] + cells.map { $0[k] }).map(\.count).max() ?? 0 }
        func line(_ items: [String]) -> String {
            zip(items, widths).enumerated().map { k, pair in
                k == 0 ? pair.0.padding(toLength: pair.1, withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: pair.1 - pair.0.count) + pair.0
            }.joined(separator: "  ")
        }
        var lines = title.map { [$0] } ?? []
        lines.append(line(columns.map(\.heading)))
        lines += cells.map(line)
        if let note { lines.append(note) }
        return lines.joined(separator: "\n")
    }

    var html: String {
        let head = columns.map { "<th>\(escape($0.heading))</th>" }.joined()
        let body = zip(rows, cellTexts).map { row, texts in
            "<tr>" + zip(row, texts).map { value, text -> String in
                if case .number = value { return "<td style=\"text-align:right\">\(escape(text))</td>" }
                return "<td>\(escape(text))</td>"
            }.joined() + "</tr>"
        }.joined()
        return (title.map { "<p><b>\(escape($0))</b></p>" } ?? "")
            + "<table><thead><tr>\(head)</tr></thead><tbody>\(body)</tbody></table>"
            + (note.map { "<p><small>\(escape($0))</small></p>" } ?? "")
    }

    func richOutput() -> RichOutput { RichOutput(plain: text, html: html) }
}
