import Foundation
import Tensor

/// Pictures in a grid with captions, e.g. x_out | x_adv | x_in | |δ| ×10 for each attacked example.
public struct ImageGrid: Plot {
    /// How an item's values become grey levels or colours.
    public enum Scaling: Sendable, Equatable {
        /// Values clamped to [0, 1].
        case clamp
        /// Stretched so the minimum is black and the maximum white.
        case stretch
        /// Absolute value times a factor, clamped (|δ| magnified).
        case magnify(Float)
    }

    /// One picture of the grid and its caption.
    public struct Item: Sendable {
        /// The picture: [H, W], or [C, H, W] with C = 1 or 3.
        public var image: Tensor
        /// Text under the picture, or nil for none.
        public var caption: String?
        /// How values map to pixel intensities.
        public var scaling: Scaling
        /// An item showing `image`, clamped to [0, 1] unless `scaling` says otherwise.
        public init(_ image: Tensor, caption: String? = nil, scaling: Scaling = .clamp) {
            self.image = image; self.caption = caption; self.scaling = scaling
        }
    }

    /// The pictures, row by row.
    public var items: [Item]
    /// Pictures per row.
    public var columns: Int
    /// Title above the grid, or nil for none.
    public var title: String?
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// `columns` nil: all in one row up to 8, else about square. Size nil: about 150 points per cell.
    public init(_ items: [Item], columns: Int? = nil, title: String? = nil, width: Double? = nil, height: Double? = nil) {
        self.items = items
        let n = Swift.max(1, items.count)
        let cols = Swift.max(1, columns ?? (n <= 8 ? n : Int(Double(n).squareRoot().rounded(.up))))
        self.columns = cols
        self.title = title
        let rows = (n + cols - 1) / cols
        let captions = items.contains { $0.caption != nil }
        let aspect: Double = items.first.map { t -> Double in
            let s = t.image.shape
            return s.count >= 2 ? Double(s[s.count - 2]) / Double(Swift.max(1, s[s.count - 1])) : 1
        } ?? 1
        let cell = cols > 8 ? 80.0 : 150.0
        self.width = width ?? Double(cols) * (cell + 8) + 16
        self.height = height ?? Double(rows) * (cell * aspect + (captions ? 20 : 0) + 8) + (title != nil ? 30 : 12)
    }

    /// One row per example: x_out | x_adv | x_in (if given) | |x_adv − x_out| × `magnification`.
    /// Tensors are [C, H, W] for one example or [N, C, H, W] for several.
    public static func comparison(xOut: Tensor, xAdv: Tensor, xIn: Tensor? = nil, magnification: Float = 10,
                                  title: String? = nil) throws -> ImageGrid {
        func batch(_ t: Tensor) -> [Tensor] { t.rank == 4 ? (0..<t.shape[0]).map { t.slice($0) } : [t] }
        let outs = batch(xOut), advs = batch(xAdv), ins = xIn.map(batch)
        guard outs.count == advs.count, (ins?.count ?? outs.count) == outs.count else {
            throw ImagingError("comparison needs as many x_out, x_adv (and x_in) pictures")
        }
        var items: [Item] = []
        for i in outs.indices {
            guard outs[i].shape == advs[i].shape else { throw ImagingError("x_out \(outs[i].shape) and x_adv \(advs[i].shape) differ in shape") }
            let delta = try outs[i] - advs[i]
            let linf = delta.data.map { abs($0) }.max() ?? 0
            items.append(Item(outs[i], caption: "x_out"))
            items.append(Item(advs[i], caption: "x_adv"))
            if let ins { items.append(Item(ins[i], caption: "x_in")) }
            items.append(Item(delta, caption: "|δ| ×\(Ticks.shortNumber(Double(magnification))) (max \(Ticks.shortNumber(Double(linf), significant: 2)))",
                              scaling: .magnify(magnification)))
        }
        return ImageGrid(items, columns: ins == nil ? 3 : 4, title: title)
    }

    var summary: String {
        let shapes = Set(items.map { $0.image.shape.description })
        return "image grid: \(items.count) picture\(items.count == 1 ? "" : "s") in \(columns) column\(columns == 1 ? "" : "s")"
            + (shapes.count == 1 ? shapes.map { ", each \($0)" }.joined() : "")
    }

    /// Lays the grid out; throws when there is no picture or one is not [H, W] or [C, H, W] with C = 1 or 3.
    public func panel() throws -> Panel {
        guard !items.isEmpty else { throw ImagingError("an image grid needs at least one picture") }
        for item in items {
            let s = item.image.shape
            guard (s.count == 2 || (s.count == 3 && [1, 3, 4].contains(s[0]))) && item.image.count > 0 else {
                throw ImagingError("an image grid shows [H, W] or [C, H, W] pictures (C = 1, 3 or 4), got \(s)")
            }
        }
        return Panel(content: .images(self))
    }

    /// RGB bytes of an item.
    static func rgb(_ item: Item) -> (bytes: [UInt8], width: Int, height: Int) {
        let s = item.image.shape
        let (c, h, w) = s.count == 2 ? (1, s[0], s[1]) : (s[0], s[1], s[2])
        var data = item.image.data
        switch item.scaling {
        case .clamp: break
        case .stretch:
            let finite = data.filter(\.isFinite)
            let lo = finite.min() ?? 0, hi = finite.max() ?? 1
            data = data.map { hi > lo ? ($0 - lo) / (hi - lo) : 0.5 }
        case .magnify(let f): data = data.map { abs($0) * f }
        }
        let plane = h * w
        var bytes = [UInt8](repeating: 0, count: plane * 3)
        for p in 0..<plane {
            for k in 0..<3 { bytes[p * 3 + k] = quantize(data[(c >= 3 ? k : 0) * plane + p]) }
        }
        return (bytes, w, h)
    }

    func draw(in frame: Rect, _ c: Canvas) {
        let n = items.count
        let rows = (n + columns - 1) / columns
        let top = title != nil ? 30.0 : 8.0
        let captions = items.contains { $0.caption != nil }
        let captionHeight = captions ? 18.0 : 0
        let cellW = (frame.width - 8) / Double(columns)
        let cellH = (frame.height - top - 4) / Double(rows)
        c.setColor(.ink)
        if let title {
            c.font(size: ChartRenderer.titleFont)
            c.text(title, frame.x + frame.width / 2, frame.y + 16, h: .center, v: .middle)
        }
        c.font(size: 10.5)
        for (i, item) in items.enumerated() {
            let col = i % columns, row = i / columns
            let cell = Rect(x: frame.x + 4 + Double(col) * cellW, y: frame.y + top + Double(row) * cellH, width: cellW, height: cellH)
            let (bytes, w, h) = ImageGrid.rgb(item)
            let boxW = cell.width - 8, boxH = cell.height - 8 - captionHeight
            guard boxW > 2, boxH > 2 else { continue }
            let fit = Swift.min(boxW / Double(w), boxH / Double(h))
            let r = Rect(x: cell.x + (cell.width - Double(w) * fit) / 2, y: cell.y + 4 + (boxH - Double(h) * fit) / 2,
                         width: Double(w) * fit, height: Double(h) * fit)
            c.image(rgb: bytes, width: w, height: h, in: r, crisp: fit * c.scale >= 2)
            c.setColor(PlotColor(hex: "#BFBFBF")); c.lineWidth(0.6); c.rect(r); c.stroke()
            if let caption = item.caption {
                c.setColor(.ink)
                c.text(caption, cell.x + cell.width / 2, r.maxY + 6, h: .center, v: .top)
            }
        }
    }
}

/// Several plots in a grid of rows × columns (row-major; missing cells stay empty).
public struct Figure: Plot {
    /// Rows of the layout.
    public var rows: Int
    /// Columns of the layout.
    public var columns: Int
    /// The plots, row by row; fewer than rows × columns leaves the last cells empty.
    public var plots: [any Plot]
    /// Title above the whole figure, or nil for none.
    public var title: String?
    /// Logical width in points.
    public var width: Double
    /// Logical height in points.
    public var height: Double

    /// A figure of `plots`; without a size, 420 × 300 points per cell (plus the title).
    public init(rows: Int, columns: Int, _ plots: [any Plot], title: String? = nil, width: Double? = nil, height: Double? = nil) {
        self.rows = Swift.max(1, rows); self.columns = Swift.max(1, columns); self.plots = plots; self.title = title
        self.width = width ?? Double(self.columns) * 420
        self.height = height ?? Double(self.rows) * 300 + (title != nil ? 28 : 0)
    }

    var summary: String {
        "figure: \(rows)x\(columns), " + plots.map { ($0.summary) }.joined(separator: "; ")
    }

    /// Lays the figure out; throws when it has no plot, more plots than cells, or a plot that cannot be drawn.
    public func panel() throws -> Panel {
        guard plots.count <= rows * columns else { throw ImagingError("\(plots.count) plots do not fit \(rows)x\(columns)") }
        guard !plots.isEmpty else { throw ImagingError("a figure needs at least one plot") }
        _ = try panels()
        return Panel(content: .figure(self))
    }

    func panels() throws -> [Panel] { try plots.map { try $0.panel() } }

    func draw(in frame: Rect, _ c: Canvas) {
        guard let panels = try? panels() else { return }
        let top = title != nil ? 28.0 : 0
        if let title {
            c.setColor(.ink); c.font(size: 14)
            c.text(title, frame.x + frame.width / 2, frame.y + 15, h: .center, v: .middle)
        }
        let cw = frame.width / Double(columns), ch = (frame.height - top) / Double(rows)
        for (i, p) in panels.enumerated() {
            let cell = Rect(x: frame.x + Double(i % columns) * cw, y: frame.y + top + Double(i / columns) * ch, width: cw, height: ch)
            Imaging.draw(p, in: cell, c)
        }
    }
}
