// The seeded pattern pictures (checkerboard, gradient) and the bar and heat-map plots that Imaging draws.
import Foundation
import Imaging
import Tensor

extension Builtins {
    static let patterns: [Builtin] = [
        Builtin("checkerboard", .pictures, [.required("h"), .required("w"), .optional("channels", .number(1)), .optional("seed", .none)],
                description: "Returns a [channels, h, w] checkerboard in two random colours, another out-of-distribution source picture. The colours (grey levels for one channel) differ clearly; the square cells measure from 2 px to a quarter of the shorter side and start at a random offset. `seed=` or the session's generator picks cells and colours.",
                example: "x_out = checkerboard(28, 28, seed=3)") { args, interpreter in
            let (h, w, channels) = try patternSize(args)
            return .tensor(try withGenerator(args, interpreter) {
                try Generators.checkerboard(channels: channels, height: h, width: w, using: &$0)
            })
        },
        Builtin("gradient", .pictures, [.required("h"), .required("w"), .optional("kind", .string("linear")),
                                        .optional("channels", .number(1)), .optional("seed", .none)],
                description: "Returns a [channels, h, w] smooth ramp between two random colours, a featureless out-of-distribution source picture. `kind=\"linear\"` runs along a random direction across the picture, `kind=\"radial\"` from a random centre out to the farthest corner. `seed=` or the session's generator picks direction, centre and colours.",
                example: "x_out = gradient(28, 28, kind=\"radial\", channels=3, seed=2)") { args, interpreter in
            let (h, w, channels) = try patternSize(args)
            let kind = try args.string("kind")
            guard kind == "linear" || kind == "radial" else {
                throw args.error("expects kind=\"linear\" or kind=\"radial\", got \(quote(kind))")
            }
            return .tensor(try withGenerator(args, interpreter) {
                kind == "linear" ? try Generators.linearGradient(channels: channels, height: h, width: w, using: &$0)
                                 : try Generators.radialGradient(channels: channels, height: h, width: w, using: &$0)
            })
        },
        Builtin("bars", .plots, [.required("values"), .required("categories"), .optional("labels", .none),
                                 .optional("title", .string("")), .optional("ylabel", .string(""))],
                description: "Draws a bar chart: one bar per category, or groups of bars for several series. `values` is a list of numbers (one per category) or a list of such lists, named by `labels` in the legend: detectors' AUROC before and after an attack, say.",
                example: "bars([[0.97, 0.62], [0.88, 0.21]], [\"clean\", \"attacked\"], labels=[\"AUROC\", \"TPR\"])") { args, _ in
            guard let categories = try labels(args["categories"], "bars() categories") else {
                throw args.error("needs `categories`, a list of names")
            }
            let names = try labels(args["labels"], "bars() labels")
            let series = try seriesValues(args["values"]).enumerated().map { i, v in
                ValueSeries(names.flatMap { i < $0.count ? $0[i] : nil }, values: try numbers(v, "bars() values"))
            }
            let title = try args.string("title"), ylabel = try args.string("ylabel")
            return .object(try PlotObject(BarPlot(categories: categories, series, title: title.isEmpty ? nil : title,
                                                  y: Axis(ylabel.isEmpty ? nil : ylabel))))
        },
        Builtin("heatmap", .plots, [.required("values"), .optional("title", .string(""))],
                description: "Draws a [H, W] tensor as a heat map with a colour bar. The map is viridis when all values have one sign, and a diverging blue–white–red one, symmetric about 0, when they have both. A [C, H, W] tensor, such as the perturbation `atk.delta` of a one-image attack, is averaged over its channels first.",
                example: "heatmap(atk.delta, title=\"δ\")") { args, _ in
            guard case .tensor(let values) = args["values"] else {
                throw args.error("expects a tensor, got \(args["values"].typeName)")
            }
            let title = try args.string("title")
            var plot = values.rank == 3 && values.shape[0] > 1 ? try HeatMap.perturbation(values, title: nil) : HeatMap(values)
            plot.title = title.isEmpty ? nil : title
            plot.colorBarLabel = nil
            plot.colorMap = plot.values.data.contains { $0 < 0 } && plot.values.data.contains { $0 > 0 } ? .diverging : .viridis
            return .object(try PlotObject(plot))
        },
    ]

    /// `h`, `w` and `channels` (1 or 3) of a pattern built-in.
    static func patternSize(_ args: CallArguments) throws -> (Int, Int, Int) {
        let h = try args.integer("h", range: 1...4096), w = try args.integer("w", range: 1...4096)
        let channels = try args.integer("channels", range: 1...3)
        guard channels == 1 || channels == 3 else { throw args.error("expects channels=1 or channels=3, got \(channels)") }
        return (h, w, channels)
    }
}
