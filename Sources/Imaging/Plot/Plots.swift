import Foundation
import Tensor

/// A rendered plot: a PNG drawn at `scale` × its logical size, the size to display it at, and a text summary.
public struct RenderedPlot: Sendable, Equatable {
    /// The PNG file's bytes.
    public var png: [UInt8]
    /// Width of the PNG in pixels (the logical width times the scale).
    public var pixelWidth: Int
    /// Height of the PNG in pixels (the logical height times the scale).
    public var pixelHeight: Int
    /// Width to display the PNG at, in points: the plot's `width`, rounded.
    public var logicalWidth: Int
    /// Height to display the PNG at, in points: the plot's `height`, rounded.
    public var logicalHeight: Int
    /// text/plain for the notebook, e.g. "line plot: 2 series, 100 points, y from 0.0012 to 3.4 (log)".
    public var summary: String
}

/// What a plot turns into before rendering (opaque: made by the plot types of this module).
public struct Panel: Sendable {
    enum Content: Sendable {
        case chart(Chart)
        case images(ImageGrid)
        case figure(Figure)
    }
    let content: Content
    var summary: String {
        switch content {
        case .chart(let c): return c.summary
        case .images(let g): return g.summary
        case .figure(let f): return f.summary
        }
    }
}

/// Anything that can be drawn: the chart types, `ImageGrid` and `Figure`.
public protocol Plot: Sendable {
    /// Logical (display) size in points; rendering multiplies it by the scale.
    var width: Double { get }
    /// Logical height in points.
    var height: Double { get }
    /// Lays the plot out for drawing; throws `ImagingError` when its data cannot be drawn (no series, mismatched lengths, too large).
    func panel() throws -> Panel
}

extension Plot {
    /// One-line description for text/plain output.
    public var summary: String { (try? panel().summary) ?? "plot" }

    /// Renders to PNG at `scale` pixels per logical point (2 by default, for sharp output on high-density screens).
    public func render(scale: Double = 2) throws -> RenderedPlot {
        let p = try panel()
        let canvas = try Canvas(width: width, height: height, scale: scale)
        draw(p, in: Rect(x: 0, y: 0, width: width, height: height), canvas)
        return RenderedPlot(png: try canvas.png(), pixelWidth: canvas.pixelWidth, pixelHeight: canvas.pixelHeight,
                            logicalWidth: Int(width.rounded()), logicalHeight: Int(height.rounded()), summary: p.summary)
    }
}

func draw(_ panel: Panel, in frame: Rect, _ canvas: Canvas) {
    switch panel.content {
    case .chart(let chart): ChartRenderer.draw(chart, in: frame, canvas: canvas)
    case .images(let grid): grid.draw(in: frame, canvas)
    case .figure(let figure): figure.draw(in: frame, canvas)
    }
}

private func rangeText(_ values: [Double], _ scale: AxisScale) -> String {
    let finite = values.filter { $0.isFinite && (scale == .linear || $0 > 0) }
    guard let lo = finite.min(), let hi = finite.max() else { return "no finite values" }
    return "from \(Ticks.shortNumber(lo)) to \(Ticks.shortNumber(hi))" + (scale == .log ? " (log)" : "")
}

private func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

// MARK: Line

/// Lines through (x, y) points, one per series: loss curves against steps, say.
public struct LinePlot: Plot {
    /// One line: its points and how it is drawn.
    public struct Series: Sendable {
        /// Legend label; nil leaves the series out of the legend.
        public var name: String?
        /// x coordinates, one per point.
        public var x: [Double]
        /// y coordinates, one per point; non-finite values (and non-positive ones on a log axis) break the line.
        public var y: [Double]
        /// Line colour; nil takes the next colour of `PlotColor.palette`.
        public var color: PlotColor?
        /// A marker drawn at every point, or nil for the line alone.
        public var marker: Marker?
        /// Draws the line dashed instead of solid.
        public var dashed: Bool
        /// Line width in points.
        public var lineWidth: Double

        /// A series through the points (x[i], y[i]).
        public init(_ name: String? = nil, x: [Double], y: [Double], color: PlotColor? = nil, marker: Marker? = nil,
                    dashed: Bool = false, lineWidth: Double = 1.75) {
            self.name = name; self.x = x; self.y = y; self.color = color; self.marker = marker
            self.dashed = dashed; self.lineWidth = lineWidth
        }

        /// y against 0, 1, 2, … (a loss curve against steps).
        public init(_ name: String? = nil, y: [Double], color: PlotColor? = nil, marker: Marker? = nil, dashed: Bool = false) {
            self.init(name, x: y.indices.map(Double.init), y: y, color: color, marker: marker, dashed: dashed)
        }
    }

    /// The lines, drawn in order (later ones on top).
    public var series: [Series]
    /// Title above the chart, or nil for none.
    public var title: String?
    /// The horizontal axis: label, scale and limits.
    public var x: Axis
    /// The vertical axis: label, scale and limits.
    public var y: Axis
    /// Where the legend goes; it lists the named series.
    public var legend: LegendPlacement
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// A line plot of `series`, 640 × 400 points by default.
    public init(_ series: [Series], title: String? = nil, x: Axis = Axis(), y: Axis = Axis(),
                legend: LegendPlacement = .best, width: Double = 640, height: Double = 400) {
        self.series = series; self.title = title; self.x = x; self.y = y; self.legend = legend
        self.width = width; self.height = height
    }

    /// Lays the lines out; throws when there is no series or a series' x and y differ in length.
    public func panel() throws -> Panel {
        guard !series.isEmpty else { throw ImagingError("a line plot needs at least one series") }
        var chart = Chart(title: title, x: x, y: y, legendPlacement: legend, summary: "")
        for (i, s) in series.enumerated() {
            guard s.x.count == s.y.count else { throw ImagingError("line series \(s.name ?? String(i)) has \(s.x.count) x values but \(s.y.count) y values") }
            let color = s.color ?? PlotColor.palette[i % PlotColor.palette.count]
            let dash: [Double] = s.dashed ? [5, 3] : []
            chart.layers.append(.line(x: s.x, y: s.y, color: color, width: s.lineWidth, dash: dash, marker: s.marker, markerSize: 5.5))
            if let name = s.name { chart.legend.append(LegendEntry(label: name, symbol: .line(color, dash: dash, marker: s.marker))) }
        }
        let points = series.reduce(0) { $0 + $1.y.count }
        chart.summary = "line plot: \(plural(series.count, "series").replacingOccurrences(of: "seriess", with: "series")), \(plural(points, "point")), y \(rangeText(series.flatMap(\.y), y.scale))"
        return Panel(content: .chart(chart))
    }
}

// MARK: Scatter

/// Points at (x, y), one marker per point and one colour per series: features of attacked images against their targets, say.
public struct ScatterPlot: Plot {
    /// One set of points and the marker drawn for them.
    public struct Series: Sendable {
        /// Legend label; nil leaves the series out of the legend.
        public var name: String?
        /// x coordinates, one per point.
        public var x: [Double]
        /// y coordinates, one per point.
        public var y: [Double]
        /// Marker colour; nil takes the next colour of `PlotColor.palette`.
        public var color: PlotColor?
        /// The marker's shape.
        public var marker: Marker
        /// A series of the points (x[i], y[i]).
        public init(_ name: String? = nil, x: [Double], y: [Double], color: PlotColor? = nil, marker: Marker = .circle) {
            self.name = name; self.x = x; self.y = y; self.color = color; self.marker = marker
        }
    }

    /// The point sets, drawn in order (later ones on top).
    public var series: [Series]
    /// Title above the chart, or nil for none.
    public var title: String?
    /// The horizontal axis: label, scale and limits.
    public var x: Axis
    /// The vertical axis: label, scale and limits.
    public var y: Axis
    /// Draw the line y = x (e.g. z_adv against z_in).
    public var identityLine: Bool
    /// Where the legend goes; it lists the named series.
    public var legend: LegendPlacement
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// A scatter plot of `series`, 640 × 400 points by default; markers shrink and fade as the number of points grows.
    public init(_ series: [Series], title: String? = nil, x: Axis = Axis(), y: Axis = Axis(), identityLine: Bool = false,
                legend: LegendPlacement = .best, width: Double = 640, height: Double = 400) {
        self.series = series; self.title = title; self.x = x; self.y = y; self.identityLine = identityLine
        self.legend = legend; self.width = width; self.height = height
    }

    /// Lays the points out; throws when there is no series or a series' x and y differ in length.
    public func panel() throws -> Panel {
        guard !series.isEmpty else { throw ImagingError("a scatter plot needs at least one series") }
        var chart = Chart(title: title, x: x, y: y, legendPlacement: legend, summary: "")
        let total = series.reduce(0) { $0 + $1.x.count }
        let size = total > 5000 ? 3.0 : total > 500 ? 4.5 : 6.0
        let alpha = total > 5000 ? 0.45 : total > 500 ? 0.65 : 0.85
        for (i, s) in series.enumerated() {
            guard s.x.count == s.y.count else { throw ImagingError("scatter series \(s.name ?? String(i)) has \(s.x.count) x values but \(s.y.count) y values") }
            let color = s.color ?? PlotColor.palette[i % PlotColor.palette.count]
            chart.layers.append(.points(x: s.x, y: s.y, color: color, marker: s.marker, size: size, alpha: alpha))
            if let name = s.name { chart.legend.append(LegendEntry(label: name, symbol: .marker(color, s.marker))) }
        }
        if identityLine {
            let all = series.flatMap { $0.x + $0.y }.filter(\.isFinite)
            if let lo = all.min(), let hi = all.max() {
                chart.layers.insert(.line(x: [lo, hi], y: [lo, hi], color: .muted, width: 1, dash: [4, 3], marker: nil, markerSize: 0), at: 0)
            }
        }
        chart.summary = "scatter plot: \(series.count) series, \(plural(total, "point")), x \(rangeText(series.flatMap(\.x), x.scale)), y \(rangeText(series.flatMap(\.y), y.scale))"
        return Panel(content: .chart(chart))
    }
}

// MARK: Histogram

/// A named list of values: one histogram distribution, or one group of bars.
public struct ValueSeries: Sendable {
    /// Legend label; nil leaves the series out of the legend.
    public var name: String?
    /// The values; non-finite ones are skipped.
    public var values: [Double]
    /// Fill colour; nil takes the next colour of `PlotColor.palette`.
    public var color: PlotColor?
    /// A series of `values`, optionally named and coloured.
    public init(_ name: String? = nil, values: [Double], color: PlotColor? = nil) {
        self.name = name; self.values = values; self.color = color
    }
}

/// Step histograms of one or more value series over shared bins, translucent so that overlapping distributions stay visible: detector scores of in-distribution against OOD images, say.
public struct Histogram: Plot {
    /// A histogram's series: a named list of values.
    public typealias Series = ValueSeries

    /// The distributions, all binned over the same edges.
    public var series: [Series]
    /// Number of bins shared by all series; nil chooses (NumPy's "auto": the larger of Sturges and Freedman–Diaconis).
    public var bins: Int?
    /// Heights integrate to 1 instead of counting.
    public var density: Bool
    /// The span the bins cover; nil uses the finite values' minimum and maximum.
    public var range: ClosedRange<Double>?
    /// Title above the chart, or nil for none.
    public var title: String?
    /// The horizontal (value) axis.
    public var x: Axis
    /// The vertical axis: "Count", or "Density" with `density`, unless given.
    public var y: Axis
    /// Where the legend goes; it lists the named series.
    public var legend: LegendPlacement
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// A histogram of `series`, 640 × 400 points by default.
    public init(_ series: [Series], bins: Int? = nil, density: Bool = false, range: ClosedRange<Double>? = nil, title: String? = nil,
                x: Axis = Axis(), y: Axis? = nil, legend: LegendPlacement = .best, width: Double = 640, height: Double = 400) {
        self.series = series; self.bins = bins; self.density = density; self.range = range; self.title = title
        self.x = x; self.y = y ?? Axis(density ? "Density" : "Count"); self.legend = legend
        self.width = width; self.height = height
    }

    /// Shared bin edges.
    public func edges() -> [Double] {
        let all = series.flatMap(\.values).filter(\.isFinite)
        var lo = range?.lowerBound ?? all.min() ?? 0, hi = range?.upperBound ?? all.max() ?? 1
        if lo == hi { lo -= 0.5; hi += 0.5 }
        let n: Int
        if let bins { n = Swift.max(1, Swift.min(bins, 10_000)) } else {
            let count = Swift.max(1, series.map { $0.values.filter(\.isFinite).count }.max() ?? 1)
            let sturges = (hi - lo) / (log2(Double(count)) + 1)
            let sorted = all.sorted()
            func quantile(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[Swift.min(sorted.count - 1, Int(q * Double(sorted.count - 1)))] }
            let iqr = quantile(0.75) - quantile(0.25)
            let fd = 2 * iqr / pow(Double(count), 1.0 / 3)
            let width = fd > 0 ? Swift.min(sturges, fd) : sturges
            n = Swift.max(1, Swift.min(200, Int(((hi - lo) / width).rounded(.up))))
        }
        return (0...n).map { lo + (hi - lo) * Double($0) / Double(n) }
    }

    /// Counts (or densities) of one series over `edges` (the last bin includes its right edge, as NumPy).
    public static func heights(_ values: [Double], edges: [Double], density: Bool) -> [Double] {
        let n = edges.count - 1
        guard n >= 1 else { return [] }
        var counts = [Double](repeating: 0, count: n)
        let lo = edges[0], hi = edges[n]
        for v in values where v.isFinite && v >= lo && v <= hi {
            var i = Int((v - lo) / (hi - lo) * Double(n))
            if i == n { i -= 1 }
            while i > 0 && v < edges[i] { i -= 1 }
            while i < n - 1 && v >= edges[i + 1] { i += 1 }
            counts[i] += 1
        }
        if density {
            let total = counts.reduce(0, +)
            if total > 0 { for i in 0..<n { counts[i] /= total * (edges[i + 1] - edges[i]) } }
        }
        return counts
    }

    /// Lays the bins out; throws when there is no series.
    public func panel() throws -> Panel {
        guard !series.isEmpty else { throw ImagingError("a histogram needs at least one series") }
        let e = edges()
        var chart = Chart(title: title, x: x, y: y, legendPlacement: legend, stickyY0: true, summary: "")
        let alpha = series.count > 1 ? 0.35 : 0.6
        var outlines: [Layer] = []
        for (i, s) in series.enumerated() {
            let color = s.color ?? PlotColor.palette[i % PlotColor.palette.count]
            let h = Histogram.heights(s.values, edges: e, density: density)
            chart.layers.append(.stepFill(edges: e, heights: h, color: color, alpha: alpha))
            outlines.append(.steps(edges: e, heights: h, color: color, width: 1.5))
            if let name = s.name { chart.legend.append(LegendEntry(label: name, symbol: .patch(color, alpha: alpha))) }
        }
        chart.layers += outlines  // outlines above every fill, so none is hidden
        let count = series.reduce(0) { $0 + $1.values.count }
        chart.summary = "histogram: \(series.count) series, \(plural(count, "value")), \(e.count - 1) bins \(rangeText(series.flatMap(\.values), .linear))\(density ? ", density" : "")"
        return Panel(content: .chart(chart))
    }
}

// MARK: ROC

/// Receiver operating characteristic curves of detectors, each with its AUROC in the legend, against the chance diagonal.
public struct ROCPlot: Plot {
    /// One ROC curve: false against true positive rates, from the strictest threshold to the loosest.
    public struct Curve: Sendable {
        /// Legend label (the AUROC is appended).
        public var name: String
        /// False positive rates, rising from 0 to 1.
        public var falsePositiveRate: [Double]
        /// True positive rates at the same thresholds.
        public var truePositiveRate: [Double]
        /// Line colour; nil takes the next colour of `PlotColor.palette`.
        public var color: PlotColor?

        /// A curve through given rates (both arrays the same length, at least 2 points).
        public init(_ name: String, falsePositiveRate: [Double], truePositiveRate: [Double], color: PlotColor? = nil) {
            self.name = name; self.falsePositiveRate = falsePositiveRate; self.truePositiveRate = truePositiveRate; self.color = color
        }

        /// From detector scores: higher means "positive" (e.g. out-of-distribution).
        public init(_ name: String, positives: [Double], negatives: [Double], color: PlotColor? = nil) {
            let (f, t) = ROCPlot.curve(positives: positives, negatives: negatives)
            self.init(name, falsePositiveRate: f, truePositiveRate: t, color: color)
        }

        /// Area under the curve (trapezoids).
        public var auroc: Double {
            var area = 0.0
            for i in 1..<Swift.max(1, falsePositiveRate.count) {
                area += (falsePositiveRate[i] - falsePositiveRate[i - 1]) * (truePositiveRate[i] + truePositiveRate[i - 1]) / 2
            }
            return area
        }
    }

    /// ROC points from scores, sweeping the threshold down through the distinct scores (ties move diagonally,
    /// so the area equals the Mann–Whitney AUROC with ties counted half).
    public static func curve(positives: [Double], negatives: [Double]) -> (fpr: [Double], tpr: [Double]) {
        let p = positives.filter { !$0.isNaN }, n = negatives.filter { !$0.isNaN }
        guard !p.isEmpty, !n.isEmpty else { return ([0, 1], [0, 1]) }
        let all = (p.map { ($0, true) } + n.map { ($0, false) }).sorted { $0.0 > $1.0 }
        var fpr = [0.0], tpr = [0.0]
        var tp = 0, fp = 0, i = 0
        while i < all.count {
            let score = all[i].0
            while i < all.count && all[i].0 == score {
                if all[i].1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            fpr.append(Double(fp) / Double(n.count)); tpr.append(Double(tp) / Double(p.count))
        }
        return (fpr, tpr)
    }

    /// The area under the ROC curve of these scores (higher = positive), ties counted half.
    public static func auroc(positives: [Double], negatives: [Double]) -> Double {
        Curve("", positives: positives, negatives: negatives).auroc
    }

    /// The curves, drawn in order.
    public var curves: [Curve]
    /// Title above the chart, or nil for none.
    public var title: String?
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// A ROC plot of `curves`, 480 × 440 points by default (square axes).
    public init(_ curves: [Curve], title: String? = nil, width: Double = 480, height: Double = 440) {
        self.curves = curves; self.title = title; self.width = width; self.height = height
    }

    /// Lays the curves out; throws when there is no curve or a curve's rates do not match.
    public func panel() throws -> Panel {
        guard !curves.isEmpty else { throw ImagingError("a ROC plot needs at least one curve") }
        var chart = Chart(title: title, x: Axis("False positive rate", limits: -0.01...1.01), y: Axis("True positive rate", limits: -0.01...1.01),
                          legendPlacement: .lowerRight, equalAspect: true, summary: "")
        chart.layers.append(.line(x: [0, 1], y: [0, 1], color: .muted, width: 1, dash: [4, 3], marker: nil, markerSize: 0))
        for (i, c) in curves.enumerated() {
            guard c.falsePositiveRate.count == c.truePositiveRate.count, c.falsePositiveRate.count >= 2 else {
                throw ImagingError("ROC curve \(c.name) needs matching false and true positive rates (at least 2 points)")
            }
            let color = c.color ?? PlotColor.palette[i % PlotColor.palette.count]
            chart.layers.append(.line(x: c.falsePositiveRate, y: c.truePositiveRate, color: color, width: 2, dash: [], marker: nil, markerSize: 0))
            chart.legend.append(LegendEntry(label: "\(c.name) (AUROC = \(String(format: "%.3f", c.auroc)))", symbol: .line(color, dash: [], marker: nil)))
        }
        chart.legend.append(LegendEntry(label: "chance", symbol: .line(.muted, dash: [4, 3], marker: nil)))
        chart.summary = "ROC plot: " + curves.map { "\($0.name) AUROC \(String(format: "%.3f", $0.auroc))" }.joined(separator: ", ")
        return Panel(content: .chart(chart))
    }
}

// MARK: Bar

/// Bars, one per category, grouped side by side when there are several series: detector AUROC per attack, say.
public struct BarPlot: Plot {
    /// A bar plot's series: one value per category.
    public typealias Series = ValueSeries

    /// The category labels along the x axis.
    public var categories: [String]
    /// Several series are drawn as grouped bars.
    public var series: [Series]
    /// Title above the chart, or nil for none.
    public var title: String?
    /// The vertical (value) axis; its limits default to the data with 0 included.
    public var y: Axis
    /// Label under the categories, or nil for none.
    public var xLabel: String?
    /// Where the legend goes; it lists the named series.
    public var legend: LegendPlacement
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// A bar plot of `series` over `categories`, 640 × 400 points by default.
    public init(categories: [String], _ series: [Series], title: String? = nil, xLabel: String? = nil, y: Axis = Axis(),
                legend: LegendPlacement = .best, width: Double = 640, height: Double = 400) {
        self.categories = categories; self.series = series; self.title = title; self.xLabel = xLabel; self.y = y
        self.legend = legend; self.width = width; self.height = height
    }

    /// Lays the bars out; throws when there are no categories or series, or a series has a value count other than the category count.
    public func panel() throws -> Panel {
        guard !series.isEmpty, !categories.isEmpty else { throw ImagingError("a bar plot needs categories and at least one series") }
        for s in series where s.values.count != categories.count {
            throw ImagingError("bar series \(s.name ?? "") has \(s.values.count) values for \(categories.count) categories")
        }
        var chart = Chart(title: title, x: Axis(xLabel, limits: -0.6...(Double(categories.count) - 0.4)), y: y,
                          legendPlacement: legend, xCategories: categories, stickyY0: true, grid: true, summary: "")
        let groupWidth = 0.8, barWidth = groupWidth / Double(series.count)
        for (i, s) in series.enumerated() {
            let color = s.color ?? PlotColor.palette[i % PlotColor.palette.count]
            let rects = s.values.enumerated().map { (k, v) -> (Double, Double, Double, Double) in
                let x0 = Double(k) - groupWidth / 2 + Double(i) * barWidth
                return (x0, x0 + barWidth * 0.94, 0, v)
            }
            chart.layers.append(.rects(rects, fill: color, alpha: 1, edge: nil))
            if let name = s.name { chart.legend.append(LegendEntry(label: name, symbol: .patch(color, alpha: 1))) }
        }
        if chart.y.limits == nil, let e = chart.extent(xAxis: false) {
            let lo = Swift.min(0, e.lowerBound), hi = Swift.max(0, e.upperBound)
            let m = (hi - lo) * 0.05
            chart.y.limits = (lo < 0 ? lo - m : 0)...(hi > 0 ? hi + m : 0 + m)
        }
        chart.summary = "bar plot: \(plural(categories.count, "category").replacingOccurrences(of: "categorys", with: "categories")), \(series.count) series, values \(rangeText(series.flatMap(\.values), .linear))"
        return Panel(content: .chart(chart))
    }
}

// MARK: Heat map

/// A matrix of values drawn as coloured cells with a colour bar: a perturbation δ, say.
public struct HeatMap: Plot {
    /// Values, [H, W] (or [1, H, W]); row 0 is drawn at the top.
    public var values: Tensor
    /// How values map to colours.
    public var colorMap: ColorMap
    /// Colour range; nil uses the data range, or ±max|v| for the diverging map.
    public var range: ClosedRange<Double>?
    /// Title above the chart, or nil for none.
    public var title: String?
    /// Label beside the colour bar, or nil for none.
    public var colorBarLabel: String?
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// A heat map of `values`, 520 × 440 points by default.
    public init(_ values: Tensor, colorMap: ColorMap = .viridis, range: ClosedRange<Double>? = nil, title: String? = nil,
                colorBarLabel: String? = nil, width: Double = 520, height: Double = 440) {
        self.values = values; self.colorMap = colorMap; self.range = range; self.title = title
        self.colorBarLabel = colorBarLabel; self.width = width; self.height = height
    }

    /// A signed perturbation map (δ = x_adv − x averaged over channels when given [C, H, W]), diverging colours around 0.
    public static func perturbation(_ delta: Tensor, title: String? = "δ = x_adv − x", width: Double = 520, height: Double = 440) throws -> HeatMap {
        var d = delta
        if d.rank == 3 {
            let (c, h, w) = (d.shape[0], d.shape[1], d.shape[2])
            var mean = [Float](repeating: 0, count: h * w)
            for k in 0..<c { for p in 0..<(h * w) { mean[p] += d.data[k * h * w + p] / Float(c) } }
            d = Tensor(shape: [h, w], data: mean)
        }
        return HeatMap(d, colorMap: .diverging, title: title, colorBarLabel: "δ", width: width, height: height)
    }

    /// Lays the cells out; throws when the values are not [H, W] (or [1, H, W]) or have more than 2²⁴ cells.
    public func panel() throws -> Panel {
        var v = values
        if v.rank == 3 && v.shape[0] == 1 { v = Tensor(shape: Array(v.shape.dropFirst()), data: v.data) }
        guard v.rank == 2, v.count > 0 else { throw ImagingError("a heat map needs [H, W] values, got shape \(values.shape)") }
        let (h, w) = (v.shape[0], v.shape[1])
        guard h * w <= 1 << 24 else { throw ImagingError("heat map of \(h)x\(w) is too large") }
        let finite = v.data.filter(\.isFinite).map(Double.init)
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        if let range { lo = range.lowerBound; hi = range.upperBound } else if colorMap == .diverging {
            let m = Swift.max(abs(lo), abs(hi)); lo = -m; hi = m
        }
        if lo == hi { lo -= 0.5; hi += 0.5 }
        let table = colorMap.table()
        var rgb = [UInt8](repeating: 0, count: h * w * 3)
        for (i, value) in v.data.enumerated() {
            let t = value.isFinite ? Swift.max(0, Swift.min(1, (Double(value) - lo) / (hi - lo))) : 0
            let (r, g, b) = table[Int((t * 255).rounded())]
            rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b
        }
        var chart = Chart(title: title, x: Axis(limits: 0...Double(w)), y: Axis(limits: 0...Double(h)),
                          legendPlacement: .none, yInverted: true, grid: false, summary: "")
        chart.equalAspect = h == w
        chart.layers = [.image(rgb: rgb, width: w, height: h, x: 0...Double(w), y: 0...Double(h))]
        chart.colorBar = ColorBarSpec(map: colorMap, range: lo...hi, label: colorBarLabel)
        chart.summary = "heat map: \(h)x\(w), values \(rangeText(finite, .linear)), colour map \(colorMap.name)"
        return Panel(content: .chart(chart))
    }
}
