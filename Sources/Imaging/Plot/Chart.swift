import CCairo
import Foundation

/// Marker shapes for line and scatter plots.
public enum Marker: String, Sendable, Equatable, CaseIterable {
    case circle, square, triangle, diamond, plus, cross
    var filled: Bool { self != .plus && self != .cross }
}

/// Where a legend goes; `.best` picks the corner covering the fewest data points.
public enum LegendPlacement: String, Sendable, Equatable {
    case best, upperRight, upperLeft, lowerRight, lowerLeft, outside, none
}

/// One axis of a chart.
public struct Axis: Sendable, Equatable {
    /// Axis label, or nil for none.
    public var label: String?
    /// Linear or logarithmic; a log axis skips non-positive values.
    public var scale: AxisScale
    /// Fixed limits; nil fits the data with a 5 % margin.
    public var limits: ClosedRange<Double>?

    /// An axis with an optional label, scale and fixed limits.
    public init(_ label: String? = nil, scale: AxisScale = .linear, limits: ClosedRange<Double>? = nil) {
        self.label = label; self.scale = scale; self.limits = limits
    }
}

/// What a chart draws, in data coordinates (internal model shared by all axes-based plots).
enum Layer: Sendable {
    case line(x: [Double], y: [Double], color: PlotColor, width: Double, dash: [Double], marker: Marker?, markerSize: Double)
    case points(x: [Double], y: [Double], color: PlotColor, marker: Marker, size: Double, alpha: Double)
    /// Rectangles (x0, x1, y0, y1): bars and histogram bins.
    case rects([(Double, Double, Double, Double)], fill: PlotColor, alpha: Double, edge: PlotColor?)
    /// The outline of a histogram: a step path through bin tops.
    case steps(edges: [Double], heights: [Double], color: PlotColor, width: Double)
    /// The area under a histogram's step outline, filled as one shape (no seams between bins).
    case stepFill(edges: [Double], heights: [Double], color: PlotColor, alpha: Double)
    /// RGB pixels covering [x0, x1] × [y0, y1] (row 0 at y0).
    case image(rgb: [UInt8], width: Int, height: Int, x: ClosedRange<Double>, y: ClosedRange<Double>)
}

enum LegendSymbol: Sendable {
    case line(PlotColor, dash: [Double], marker: Marker?)
    case marker(PlotColor, Marker)
    case patch(PlotColor, alpha: Double)
}

struct LegendEntry: Sendable {
    var label: String
    var symbol: LegendSymbol
}

struct ColorBarSpec: Sendable {
    var map: ColorMap
    var range: ClosedRange<Double>
    var label: String?
}

/// An axes panel: layers, axes, legend, optional colour bar.
struct Chart: Sendable {
    var title: String?
    var x = Axis()
    var y = Axis()
    var layers: [Layer] = []
    var legend: [LegendEntry] = []
    var legendPlacement: LegendPlacement = .best
    /// Categorical ticks (bar charts).
    var xCategories: [String]? = nil
    /// Ranges that must start exactly at the data (no margin), e.g. histogram and bar bottoms at 0.
    var stickyY0 = false
    var stickyX = false
    var yInverted = false
    var equalAspect = false
    var grid = true
    var colorBar: ColorBarSpec? = nil
    var summary: String
}

/// A scale from data to logical coordinates along one axis.
struct AxisMap {
    var low, high: Double  // data limits (for log: the values, not logarithms)
    var start, end: Double // logical coordinates
    var log: Bool
    func callAsFunction(_ v: Double) -> Double {
        let t = log ? (log10(v) - log10(low)) / (log10(high) - log10(low)) : (v - low) / (high - low)
        return start + (end - start) * t
    }
}

extension Chart {
    /// Finite data extent along x or y over all layers (positive values only on log axes).
    func extent(xAxis: Bool) -> ClosedRange<Double>? {
        let positiveOnly = (xAxis ? x.scale : y.scale) == .log
        var lo = Double.infinity, hi = -Double.infinity
        func take(_ v: Double) {
            guard v.isFinite, !positiveOnly || v > 0 else { return }
            lo = Swift.min(lo, v); hi = Swift.max(hi, v)
        }
        for layer in layers {
            switch layer {
            case let .line(xs, ys, _, _, _, _, _), let .points(xs, ys, _, _, _, _):
                for (a, b) in zip(xs, ys) where a.isFinite && b.isFinite { take(xAxis ? a : b) }
            case let .rects(rs, _, _, _):
                for r in rs { if xAxis { take(r.0); take(r.1) } else { take(r.2); take(r.3) } }
            case let .steps(edges, heights, _, _), let .stepFill(edges, heights, _, _):
                if xAxis { edges.forEach(take) } else { heights.forEach(take); if !positiveOnly { take(0) } }
            case let .image(_, _, _, xr, yr):
                if xAxis { take(xr.lowerBound); take(xr.upperBound) } else { take(yr.lowerBound); take(yr.upperBound) }
            }
        }
        return lo <= hi ? lo...hi : nil
    }

    func limits(xAxis: Bool) -> ClosedRange<Double> {
        let axis = xAxis ? x : y
        if let l = axis.limits, l.upperBound > l.lowerBound, axis.scale == .linear || l.lowerBound > 0 { return l }
        let log = axis.scale == .log
        guard let e = extent(xAxis: xAxis) else { return log ? 1...10 : 0...1 }
        var (lo, hi) = (e.lowerBound, e.upperBound)
        if log {
            if lo == hi { lo /= 2; hi *= 2 }
            let (a, b) = (log10(lo), log10(hi))
            let m = (b - a) * 0.05
            return pow(10, a - m)...pow(10, b + m)
        }
        if lo == hi { let d = lo == 0 ? 1 : abs(lo) * 0.1; lo -= d; hi += d }
        let margin = (hi - lo) * 0.05
        let sticky = xAxis ? stickyX : stickyY0
        if sticky && !xAxis && lo >= 0 { return lo...(hi + margin) }
        if sticky && xAxis { return lo...hi }
        return (lo - margin)...(hi + margin)
    }
}

// MARK: Rendering

enum ChartRenderer {
    static let tickFont = 10.0, labelFont = 11.0, titleFont = 12.5, legendFont = 10.0
    static let tickLength = 4.0

    /// Where everything of a chart goes in its frame: limits, ticks, the plot area and its data-to-point maps,
    /// and the sizes of the text, legend and colour bar around it.
    struct Layout {
        var xl: ClosedRange<Double>, yl: ClosedRange<Double>
        var xTicks: (major: [Ticks.Tick], minor: [Double]), yTicks: (major: [Ticks.Tick], minor: [Double])
        /// The labelled x ticks: the category names for a bar plot, else `xTicks.major`.
        var xMajor: [Ticks.Tick]
        var yTickWidth: Double
        var colorBarWidth: Double
        var legendOutside: Bool
        var legendSize: (width: Double, height: Double)
        var area: Rect
        var mx: AxisMap, my: AxisMap
    }

    static func draw(_ chart: Chart, in frame: Rect, canvas c: Canvas) {
        let layout = self.layout(chart, in: frame, canvas: c)
        if chart.grid { drawGrid(chart, layout, c) }
        // Layers, clipped to the plot area.
        c.save(); c.clip(layout.area)
        for layer in chart.layers { drawLayer(layer, layout.mx, layout.my, c) }
        c.restore()
        drawAxes(chart, layout, c)
        drawAnnotations(chart, layout, frame: frame, c)
    }

    /// Measures ticks, labels, colour bar and legend to find the plot area (margins from the text around it).
    static func layout(_ chart: Chart, in frame: Rect, canvas c: Canvas) -> Layout {
        let xl = chart.limits(xAxis: true), yl = chart.limits(xAxis: false)
        let xTicks = ticks(for: chart.x.scale, xl, target: Swift.max(3, Int(frame.width / 90)))
        let yTicks = ticks(for: chart.y.scale, yl, target: Swift.max(3, Int(frame.height / 60)))
        var xMajor = xTicks.major
        if let categories = chart.xCategories {
            xMajor = categories.enumerated().map { Ticks.Tick(value: Double($0.offset), label: $0.element) }
        }

        c.font(size: tickFont)
        let yTickWidth = yTicks.major.map { c.textWidth($0.label) }.max() ?? 0
        var left = 8 + yTickWidth + 5 + tickLength
        if chart.y.label != nil { left += labelFont * 1.25 + 4 }
        var bottom = tickLength + 4 + tickFont * 0.95 + 8
        if chart.x.label != nil { bottom += labelFont * 1.2 + 4 }
        let top = chart.title != nil ? titleFont * 1.25 + 14 : 10.0
        var right = 14.0
        if let last = xMajor.last { c.font(size: tickFont); right = Swift.max(right, c.textWidth(last.label) / 2 + 4) }
        var colorBarWidth = 0.0
        if let bar = chart.colorBar {
            c.font(size: tickFont)
            let barTicks = Ticks.linear(bar.range.lowerBound, bar.range.upperBound, target: 5)
            colorBarWidth = 12 + 12 + tickLength + 4 + (barTicks.map { c.textWidth($0.label) }.max() ?? 0) + (bar.label != nil ? labelFont * 1.25 + 4 : 0)
            right = colorBarWidth + 8
        }
        let legendOutside = chart.legendPlacement == .outside && !chart.legend.isEmpty
        var legendSize = (width: 0.0, height: 0.0)
        if !chart.legend.isEmpty && chart.legendPlacement != .none {
            legendSize = measureLegend(chart.legend, canvas: c)
            if legendOutside { right += legendSize.width + 10 }
        }
        var area = Rect(x: frame.x + left, y: frame.y + top, width: frame.width - left - right, height: frame.height - top - bottom)
        if area.width < 20 || area.height < 20 { area = frame.inset(Swift.min(frame.width, frame.height) * 0.1) }
        if chart.equalAspect {
            let side = Swift.min(area.width, area.height)
            area = Rect(x: area.x + (area.width - side) / 2, y: area.y, width: side, height: side)
        }
        let mx = AxisMap(low: xl.lowerBound, high: xl.upperBound, start: area.x, end: area.maxX, log: chart.x.scale == .log)
        let my = chart.yInverted
            ? AxisMap(low: yl.lowerBound, high: yl.upperBound, start: area.y, end: area.maxY, log: chart.y.scale == .log)
            : AxisMap(low: yl.lowerBound, high: yl.upperBound, start: area.maxY, end: area.y, log: chart.y.scale == .log)
        return Layout(xl: xl, yl: yl, xTicks: xTicks, yTicks: yTicks, xMajor: xMajor, yTickWidth: yTickWidth,
                      colorBarWidth: colorBarWidth, legendOutside: legendOutside, legendSize: legendSize, area: area, mx: mx, my: my)
    }

    /// Grid lines at the major ticks (vertical ones only for numeric x axes).
    static func drawGrid(_ chart: Chart, _ l: Layout, _ c: Canvas) {
        c.setColor(.gridLine); c.lineWidth(0.8); c.dash([])
        for t in l.yTicks.major where l.yl.contains(t.value) { let v = c.snap(l.my(t.value), width: 0.8); c.line(l.area.x, v, l.area.maxX, v) }
        if chart.xCategories == nil {
            for t in l.xMajor where l.xl.contains(t.value) { let v = c.snap(l.mx(t.value), width: 0.8); c.line(v, l.area.y, v, l.area.maxY) }
        }
    }

    /// The frame around the plot area, major ticks with their labels, and minor ticks.
    static func drawAxes(_ chart: Chart, _ l: Layout, _ c: Canvas) {
        c.setColor(.spine); c.lineWidth(0.8); c.dash([])
        let (left, right) = (c.snap(l.area.x, width: 0.8), c.snap(l.area.maxX, width: 0.8))
        let (top, bottom) = (c.snap(l.area.y, width: 0.8), c.snap(l.area.maxY, width: 0.8))
        c.moveTo(left, top); c.lineTo(right, top); c.lineTo(right, bottom); c.lineTo(left, bottom); cairo_close_path(c.cr); c.stroke()
        c.font(size: tickFont)
        for tick in l.xMajor where l.xl.contains(tick.value) || chart.xCategories != nil {
            let v = c.snap(l.mx(tick.value), width: 0.8)
            c.setColor(.spine); c.line(v, bottom, v, bottom + tickLength)
            c.setColor(.ink); c.text(tick.label, v, bottom + tickLength + 3, h: .center, v: .top)
        }
        for tick in l.yTicks.major where l.yl.contains(tick.value) {
            let v = c.snap(l.my(tick.value), width: 0.8)
            c.setColor(.spine); c.line(left - tickLength, v, left, v)
            c.setColor(.ink); c.text(tick.label, left - tickLength - 3, v, h: .right, v: .middle)
        }
        c.setColor(.spine); c.lineWidth(0.6)
        for v in l.xTicks.minor where l.xl.contains(v) { let p = c.snap(l.mx(v), width: 0.6); c.line(p, bottom, p, bottom + tickLength * 0.55) }
        for v in l.yTicks.minor where l.yl.contains(v) { let p = c.snap(l.my(v), width: 0.6); c.line(left - tickLength * 0.55, p, left, p) }
    }

    /// Axis labels, title, colour bar and legend.
    static func drawAnnotations(_ chart: Chart, _ l: Layout, frame: Rect, _ c: Canvas) {
        let area = l.area
        let bottom = c.snap(area.maxY, width: 0.8)
        c.setColor(.ink)
        if let label = chart.x.label {
            c.font(size: labelFont)
            c.text(label, area.x + area.width / 2, bottom + tickLength + 4 + tickFont * 0.95 + 6, h: .center, v: .top)
        }
        if let label = chart.y.label {
            c.font(size: labelFont)
            c.text(label, area.x - tickLength - 3 - l.yTickWidth - 8 - labelFont * 0.3, area.y + area.height / 2, h: .center, v: .bottom, rotated: true)
        }
        if let title = chart.title {
            c.font(size: titleFont)
            c.text(title, area.x + area.width / 2, frame.y + 8 + titleFont * 0.75, h: .center, v: .middle)
        }
        if let bar = chart.colorBar {
            drawColorBar(bar, Rect(x: area.maxX + 12, y: area.y, width: 12, height: area.height), c)
        }
        if !chart.legend.isEmpty && chart.legendPlacement != .none {
            let origin: (Double, Double)
            if l.legendOutside {
                origin = (frame.maxX - l.legendSize.width - 6 - (chart.colorBar != nil ? l.colorBarWidth + 8 : 0), area.y)
            } else {
                origin = legendOrigin(chart, area: area, size: l.legendSize, mx: l.mx, my: l.my)
            }
            drawLegend(chart.legend, at: origin, size: l.legendSize, c)
        }
    }

    static func ticks(for scale: AxisScale, _ limits: ClosedRange<Double>, target: Int) -> (major: [Ticks.Tick], minor: [Double]) {
        scale == .log ? Ticks.log(limits.lowerBound, limits.upperBound, target: target)
            : (Ticks.linear(limits.lowerBound, limits.upperBound, target: target), [])
    }

    static func drawLayer(_ layer: Layer, _ mx: AxisMap, _ my: AxisMap, _ c: Canvas) {
        /// The outline of a histogram's bars as one path from the baseline and back; false if malformed.
        func traceSteps(_ edges: [Double], _ heights: [Double]) -> Bool {
            guard edges.count == heights.count + 1, !heights.isEmpty else { return false }
            let base = my.log ? my.start : my(0)
            c.moveTo(mx(edges[0]), base)
            for (i, h) in heights.enumerated() {
                let y = my.log && h <= 0 ? base : my(h)
                c.lineTo(mx(edges[i]), y); c.lineTo(mx(edges[i + 1]), y)
            }
            c.lineTo(mx(edges[edges.count - 1]), base)
            return true
        }
        switch layer {
        case let .line(xs, ys, color, width, dash, marker, markerSize):
            c.setColor(color); c.lineWidth(width); c.dash(dash)
            // Long solid lines are stroked in pieces of 32 segments: Cairo rasterises one huge self-overlapping
            // stroke far more slowly than many small ones, and with opaque colour and round caps and joins the
            // pieces are indistinguishable from one stroke. Dashed lines stay whole so the dash pattern runs on.
            let piece = dash.isEmpty && color.alpha >= 1 && xs.count > 64 ? 32 : Int.max
            if piece != Int.max { cairo_set_line_cap(c.cr, CAIRO_LINE_CAP_ROUND) }
            var drawing = false, segments = 0
            for (x, y) in zip(xs, ys) {
                guard x.isFinite, y.isFinite, !mx.log || x > 0, !my.log || y > 0 else { drawing = false; continue }
                let (px, py) = (mx(x), my(y))
                if drawing {
                    c.lineTo(px, py)
                    segments += 1
                    if segments == piece { c.stroke(); c.moveTo(px, py); segments = 0 }
                } else { c.moveTo(px, py); drawing = true }
            }
            c.stroke()
            c.dash([])
            cairo_set_line_cap(c.cr, CAIRO_LINE_CAP_BUTT)
            if let marker {
                for (x, y) in zip(xs, ys) where x.isFinite && y.isFinite && (!mx.log || x > 0) && (!my.log || y > 0) {
                    c.marker(marker, at: mx(x), my(y), size: markerSize)
                }
                if marker.filled { c.fill() } else { c.lineWidth(1.2); c.stroke() }
            }
        case let .points(xs, ys, color, marker, size, alpha):
            c.setColor(color, alpha: alpha)
            for (x, y) in zip(xs, ys) where x.isFinite && y.isFinite && (!mx.log || x > 0) && (!my.log || y > 0) {
                c.marker(marker, at: mx(x), my(y), size: size)
                if marker.filled { c.fill() } else { c.lineWidth(1); c.stroke() }
            }
        case let .rects(rs, fill, alpha, edge):
            for r in rs {
                let x0 = mx(r.0), x1 = mx(r.1)
                let y0 = my.log && r.2 <= 0 ? my.start : my(r.2), y1 = my(r.3)
                guard x0.isFinite, x1.isFinite, y0.isFinite, y1.isFinite else { continue }
                let rect = Rect(x: Swift.min(x0, x1), y: Swift.min(y0, y1), width: abs(x1 - x0), height: abs(y1 - y0))
                c.rect(rect)
                c.setColor(fill, alpha: alpha)
                if let edge { c.fillPreserve(); c.setColor(edge); c.lineWidth(0.6); c.stroke() } else { c.fill() }
            }
        case let .stepFill(edges, heights, color, alpha):
            guard traceSteps(edges, heights) else { return }
            cairo_close_path(c.cr)
            c.setColor(color, alpha: alpha); c.fill()
        case let .steps(edges, heights, color, width):
            c.setColor(color); c.lineWidth(width); c.dash([])
            guard traceSteps(edges, heights) else { return }
            c.stroke()
        case let .image(rgb, w, h, xr, yr):
            let x0 = mx(xr.lowerBound), x1 = mx(xr.upperBound), y0 = my(yr.lowerBound), y1 = my(yr.upperBound)
            let rect = Rect(x: Swift.min(x0, x1), y: Swift.min(y0, y1), width: abs(x1 - x0), height: abs(y1 - y0))
            c.image(rgb: rgb, width: w, height: h, in: rect, crisp: rect.width >= Double(w) * 1.5)
        }
    }

    // MARK: Legend

    static func measureLegend(_ entries: [LegendEntry], canvas c: Canvas) -> (width: Double, height: Double) {
        c.font(size: legendFont)
        let text = entries.map { c.textWidth($0.label) }.max() ?? 0
        return (8 + 22 + 6 + text + 8, 6 + Double(entries.count) * legendFont * 1.5 + 4)
    }

    static func legendOrigin(_ chart: Chart, area: Rect, size: (width: Double, height: Double), mx: AxisMap, my: AxisMap) -> (Double, Double) {
        let pad = 7.0
        let corners: [(placement: LegendPlacement, origin: (Double, Double))] = [
            (.upperRight, (area.maxX - size.width - pad, area.y + pad)),
            (.upperLeft, (area.x + pad, area.y + pad)),
            (.lowerRight, (area.maxX - size.width - pad, area.maxY - size.height - pad)),
            (.lowerLeft, (area.x + pad, area.maxY - size.height - pad)),
        ]
        if let fixed = corners.first(where: { $0.placement == chart.legendPlacement }) { return fixed.origin }
        // Best: the corner whose box covers the fewest (sampled) data points; ties keep the order below.
        var best = corners[0].origin, fewest = Int.max
        for (_, o) in corners {
            let box = Rect(x: o.0 - 4, y: o.1 - 4, width: size.width + 8, height: size.height + 8)
            var count = 0
            for layer in chart.layers {
                switch layer {
                case let .line(xs, ys, _, _, _, _, _), let .points(xs, ys, _, _, _, _):
                    let stride = Swift.max(1, xs.count / 2000)
                    var i = 0
                    while i < Swift.min(xs.count, ys.count) {
                        let (x, y) = (xs[i], ys[i])
                        if x.isFinite, y.isFinite, box.contains(mx(x), my(y)) { count += stride }
                        // Also sample along segments so lines crossing the box count.
                        if i + stride < xs.count, x.isFinite, y.isFinite, xs[i + stride].isFinite, ys[i + stride].isFinite,
                           box.contains((mx(x) + mx(xs[i + stride])) / 2, (my(y) + my(ys[i + stride])) / 2) { count += stride }
                        i += stride
                    }
                case let .rects(rs, _, _, _):
                    for r in rs where r.3 != r.2 {
                        for f in stride(from: 0.0, through: 1.0, by: 0.25) where box.contains(mx((r.0 + r.1) / 2), my(r.2 + (r.3 - r.2) * f)) { count += 1 }
                    }
                case let .steps(edges, heights, _, _), let .stepFill(edges, heights, _, _):
                    for (i, h) in heights.enumerated() where i + 1 < edges.count {
                        for f in stride(from: 0.0, through: 1.0, by: 0.25) where box.contains(mx((edges[i] + edges[i + 1]) / 2), my(h * f)) { count += 1 }
                    }
                case .image: break
                }
            }
            if count < fewest { fewest = count; best = o }
        }
        return best
    }

    static func drawLegend(_ entries: [LegendEntry], at origin: (Double, Double), size: (width: Double, height: Double), _ c: Canvas) {
        let box = Rect(x: origin.0, y: origin.1, width: size.width, height: size.height)
        c.roundedRect(box, radius: 3)
        c.setColor(.white, alpha: 0.88); c.fillPreserve()
        c.setColor(PlotColor(hex: "#D0D0D0")); c.lineWidth(0.8); c.stroke()
        c.font(size: legendFont)
        for (i, entry) in entries.enumerated() {
            let cy = box.y + 6 + (Double(i) + 0.5) * legendFont * 1.5
            let sx = box.x + 8
            switch entry.symbol {
            case let .line(color, dash, marker):
                c.setColor(color); c.lineWidth(2); c.dash(dash); c.line(sx, cy, sx + 22, cy); c.dash([])
                if let marker {
                    c.marker(marker, at: sx + 11, cy, size: 6)
                    if marker.filled { c.fill() } else { c.lineWidth(1.2); c.stroke() }
                }
            case let .marker(color, marker):
                c.setColor(color)
                c.marker(marker, at: sx + 11, cy, size: 7)
                if marker.filled { c.fill() } else { c.lineWidth(1.2); c.stroke() }
            case let .patch(color, alpha):
                let r = Rect(x: sx + 2, y: cy - 5, width: 18, height: 10)
                c.rect(r); c.setColor(color, alpha: alpha); c.fillPreserve(); c.setColor(color); c.lineWidth(1); c.stroke()
            }
            c.setColor(.ink)
            c.text(entry.label, sx + 28, cy, h: .left, v: .middle)
        }
    }

    // MARK: Colour bar

    static func drawColorBar(_ bar: ColorBarSpec, _ r: Rect, _ c: Canvas) {
        // A 1-pixel-wide, 256-high image, top = high.
        var rgb = [UInt8](); rgb.reserveCapacity(256 * 3)
        for i in 0..<256 {
            let (red, green, blue) = bar.map.color(at: 1 - Double(i) / 255).bytes
            rgb += [red, green, blue]
        }
        c.image(rgb: rgb, width: 1, height: 256, in: r, crisp: false)
        c.setColor(.spine); c.lineWidth(0.8); c.rect(r); c.stroke()
        c.font(size: tickFont)
        let lo = bar.range.lowerBound, hi = bar.range.upperBound
        var widest = 0.0
        for t in Ticks.linear(lo, hi, target: Swift.max(3, Int(r.height / 50))) where hi > lo {
            let y = c.snap(r.maxY - (t.value - lo) / (hi - lo) * r.height, width: 0.8)
            c.setColor(.spine); c.line(r.maxX, y, r.maxX + tickLength, y)
            c.setColor(.ink); c.text(t.label, r.maxX + tickLength + 3, y, h: .left, v: .middle)
            widest = Swift.max(widest, c.textWidth(t.label))
        }
        if let label = bar.label {
            c.font(size: labelFont); c.setColor(.ink)
            c.text(label, r.maxX + tickLength + 3 + widest + 6 + labelFont * 0.75, r.y + r.height / 2, h: .center, v: .middle, rotated: true)
        }
    }
}
