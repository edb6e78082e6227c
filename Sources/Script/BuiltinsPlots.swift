import Foundation
import Imaging
import Tensor

/// A rendered plot: shown as a PNG (2× pixels, logical size in the metadata) with its summary as text.
final class PlotObject: ScriptObject, @unchecked Sendable {
    let rendered: RenderedPlot
    init(_ plot: any Plot) throws {
        do { rendered = try plot.render(scale: 2) } catch {
            throw ScriptError.value("cannot draw the plot: \((error as? ImagingError)?.message ?? "\(error)")")
        }
    }

    var typeName: String { "plot" }
    var attributeNames: [String] { ["summary", "width", "height"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "summary": return .string(rendered.summary)
        case "width": return .number(Double(rendered.logicalWidth))
        default: return .number(Double(rendered.logicalHeight))
        }
    }
    var summary: String { rendered.summary }
    func richOutput() -> RichOutput {
        RichOutput(plain: rendered.summary, png: rendered.png, pngWidth: rendered.logicalWidth, pngHeight: rendered.logicalHeight)
    }
}

/// Optional label list: `labels=["a", "b"]`.
func labels(_ value: Value, _ what: String) throws -> [String]? {
    switch value {
    case .none: return nil
    case .string(let s): return [s]
    case .list(let items):
        return try items.map { item in
            guard case .string(let s) = item else { throw ScriptError.type("\(what) must be strings, found a \(item.typeName)") }
            return s
        }
    default: throw ScriptError.type("\(what) must be a list of strings, got a \(value.typeName)")
    }
}

/// One series (a list of numbers or a tensor) or several (a list of them).
func seriesValues(_ value: Value) -> [Value] {
    if case .list(let items) = value, let first = items.first, { if case .number = first { return false }; return true }() {
        return items
    }
    return [value]
}

/// The loss curve `step` ends with.
func lossPlot(_ losses: [Float], title: String) throws -> PlotObject {
    let positive = losses.allSatisfy { $0 > 0 }
    return try PlotObject(LinePlot([LinePlot.Series(y: losses.map(widen))], title: title,
                                   x: Axis("step"), y: Axis("loss", scale: positive ? .log : .linear), width: 560, height: 320))
}

extension Builtins {
    static let plots: [Builtin] = [
        Builtin("plot", .plots, [.required("values"), .optional("title", .string("")), .optional("log", .bool(false)),
                                 .optional("labels", .none), .optional("xlabel", .string("")), .optional("ylabel", .string(""))],
                description: "Draws a line plot of a list or tensor of numbers (x is the index). Several series go in a list of lists, named by `labels` in the legend; `log=true` makes the y axis logarithmic.",
                example: "plot(atk.loss, title=\"feature distance\", log=true)\nplot([a, b], labels=[\"train\", \"test\"])") { args, _ in
            let names = try labels(args["labels"], "plot() labels")
            let series = try seriesValues(args["values"]).enumerated().map { i, v in
                LinePlot.Series(names.flatMap { i < $0.count ? $0[i] : nil }, y: try numbers(v, "plot() values"))
            }
            let title = try args.string("title"), xlabel = try args.string("xlabel"), ylabel = try args.string("ylabel")
            return .object(try PlotObject(LinePlot(series, title: title.isEmpty ? nil : title, x: Axis(xlabel.isEmpty ? nil : xlabel),
                                                   y: Axis(ylabel.isEmpty ? nil : ylabel, scale: try args.bool("log") ? .log : .linear))))
        },
        Builtin("scatter", .plots, [.required("x"), .required("y"), .optional("title", .string("")), .optional("labels", .none)],
                description: "Draws a scatter plot of y against x (lists or tensors of the same size), with the line y = x for reference. `labels=[\"x name\", \"y name\"]` names the axes: `scatter(z_in, z_adv)` shows how well the attack matched each feature, as in the paper's first figure.",
                example: "scatter(encode(feat, x_in), encode(feat, atk.x), labels=[\"z_in\", \"z_adv\"])") { args, _ in
            let x = try numbers(args["x"], "scatter() x"), y = try numbers(args["y"], "scatter() y")
            guard x.count == y.count else { throw ScriptError.shape("scatter() needs x and y of the same size, got \(x.count) and \(y.count)") }
            let names = try labels(args["labels"], "scatter() labels") ?? []
            let title = try args.string("title")
            return .object(try PlotObject(ScatterPlot([ScatterPlot.Series(x: x, y: y)], title: title.isEmpty ? nil : title,
                                                      x: Axis(names.first), y: Axis(names.count > 1 ? names[1] : nil), identityLine: true)))
        },
        Builtin("histogram", .plots, [.required("values"), .optional("labels", .none), .optional("bins", .none),
                                      .optional("density", .bool(false)), .optional("title", .string("")), .optional("xlabel", .string(""))],
                description: "Draws a histogram of a list or tensor of numbers, or of several in a list (sharing bins, named by `labels`). `bins` defaults to NumPy's \"auto\" rule; `density=true` scales each to unit area, so sets of different sizes compare.",
                example: "histogram([score(det, x_test), score(det, x_ood)], labels=[\"in-distribution\", \"OOD\"], density=true)") { args, _ in
            let names = try labels(args["labels"], "histogram() labels")
            let series = try seriesValues(args["values"]).enumerated().map { i, v in
                ValueSeries(names.flatMap { i < $0.count ? $0[i] : nil }, values: try numbers(v, "histogram() values"))
            }
            let bins = args.isNone("bins") ? nil : try args.integer("bins", range: 1...10_000)
            let title = try args.string("title"), xlabel = try args.string("xlabel")
            return .object(try PlotObject(Histogram(series, bins: bins, density: try args.bool("density"), title: title.isEmpty ? nil : title,
                                                    x: Axis(xlabel.isEmpty ? nil : xlabel))))
        },
        Builtin("roc", .plots, [.required("scores_in"), .required("scores_out"), .optional("labels", .none), .optional("title", .string(""))],
                description: "Draws ROC curves of detector scores. Scores are higher = more OOD (the positive class); the curve compares in-distribution samples with one OOD set, or several in a list (one curve each, named by `labels`), with each curve's AUROC in the legend.",
                example: "roc(score(det, x_test), [score(det, x_ood), score(det, atk)], labels=[\"raw\", \"attacked\"])") { args, _ in
            let negatives = try numbers(args["scores_in"], "roc() scores_in")
            let names = try labels(args["labels"], "roc() labels")
            let curves = try seriesValues(args["scores_out"]).enumerated().map { i, v in
                ROCPlot.Curve(names.flatMap { i < $0.count ? $0[i] : nil } ?? "OOD set \(i + 1)", positives: try numbers(v, "roc() scores_out"), negatives: negatives)
            }
            let title = try args.string("title")
            return .object(try PlotObject(ROCPlot(curves, title: title.isEmpty ? nil : title)))
        },
    ]
}
