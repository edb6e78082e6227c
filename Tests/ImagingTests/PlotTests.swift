import Foundation
import Testing
import Tensor
@testable import Imaging

@Suite struct TickTests {
    @Test func niceStepsAreOneTwoFive() {
        #expect(Ticks.niceStep(span: 1, target: 5) == 0.2)
        #expect(Ticks.niceStep(span: 10, target: 5) == 2)
        #expect(Ticks.niceStep(span: 7, target: 6) == 1)
        #expect(Ticks.niceStep(span: 0.03, target: 6) == 0.005)
        #expect(Ticks.niceStep(span: 3500, target: 5) == 500)
    }

    @Test func linearTicksAreLabelledExactly() {
        let t = Ticks.linear(0, 1, target: 10)
        #expect(t.map(\.label) == ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"])
        #expect(!t.map(\.label).contains("0.30000000000000004"))
        #expect(Ticks.linear(-3.58, 6.43, target: 5).map(\.label) == ["−2", "0", "2", "4", "6"])
        #expect(Ticks.linear(0.0012, 0.0031, target: 4).map(\.label) == ["0.0015", "0.0020", "0.0025", "0.0030"])
        #expect(Ticks.linear(1e6, 5e6, target: 4).map(\.label) == ["10⁶", "2×10⁶", "3×10⁶", "4×10⁶", "5×10⁶"])
        #expect(Ticks.linear(0, 2e-5, target: 2).map(\.label) == ["0", "10⁻⁵", "2×10⁻⁵"])
        #expect(Ticks.linear(5, 5).count == 1)
        #expect(Ticks.linear(.nan, 1).isEmpty)
    }

    @Test func logTicksAreDecades() {
        let (major, minor) = Ticks.log(0.0012, 3.4)
        #expect(major.map(\.label) == ["10⁻²", "10⁻¹", "1"])
        #expect(minor.contains(0.002) && minor.contains(3) && !minor.contains(0.001))
        // Many decades: every third decade labelled (multiples of 3).
        #expect(Ticks.log(1e-8, 1e4, target: 6).major.map(\.value) == [1e-6, 1e-3, 1, 1e3])
        // Less than a decade: 1-2-5 multiples.
        #expect(Ticks.log(1.5, 12).major.map(\.label) == ["2", "5", "10"])
    }

    @Test func shortNumbers() {
        #expect(Ticks.shortNumber(0.0012) == "0.0012")
        #expect(Ticks.shortNumber(3.4) == "3.4")
        #expect(Ticks.shortNumber(0.1 + 0.2) == "0.3")
        #expect(Ticks.shortNumber(123456) == "123456")
        #expect(Ticks.shortNumber(2.5e7) == "2.5e+07")
        #expect(Ticks.shortNumber(-0.5) == "-0.5")
        #expect(Ticks.format(-0.0, step: 0.1) == "0")
    }
}

/// Checks on rendered pixels: size, background, palette colours where the data are, legend box.
@Suite struct PlotStructureTests {
    struct Picture {
        let rgb: [UInt8], width: Int, height: Int
        init(_ r: RenderedPlot) throws {
            let t = try PNG.decode(r.png)
            (width, height) = (t.shape[2], t.shape[1])
            var out = [UInt8](repeating: 0, count: width * height * 3)
            for p in 0..<(width * height) { for c in 0..<3 { out[p * 3 + c] = UInt8((t.data[c * width * height + p] * 255).rounded()) } }
            rgb = out
        }
        func pixel(_ x: Int, _ y: Int) -> (Int, Int, Int) {
            let i = (y * width + x) * 3
            return (Int(rgb[i]), Int(rgb[i + 1]), Int(rgb[i + 2]))
        }
        /// Pixels within `tolerance` of a colour, optionally inside a region (fractions of the size).
        func count(_ color: PlotColor, tolerance: Int = 12, x: ClosedRange<Double> = 0...1, y: ClosedRange<Double> = 0...1) -> Int {
            let (r, g, b) = color.bytes
            var n = 0
            for py in Int(y.lowerBound * Double(height - 1))...Int(y.upperBound * Double(height - 1)) {
                for px in Int(x.lowerBound * Double(width - 1))...Int(x.upperBound * Double(width - 1)) {
                    let (pr, pg, pb) = pixel(px, py)
                    if abs(pr - Int(r)) <= tolerance && abs(pg - Int(g)) <= tolerance && abs(pb - Int(b)) <= tolerance { n += 1 }
                }
            }
            return n
        }
    }

    @Test func linePlotSizeDensityAndColours() throws {
        let xs = (0..<100).map(Double.init)
        let plot = LinePlot([.init("rising", x: xs, y: xs.map { $0 * $0 + 1 }), .init("falling", x: xs, y: xs.map { 10_000 - $0 * $0 })],
                            title: "t", x: Axis("x"), y: Axis("y", scale: .log))
        let r = try plot.render()
        #expect((r.pixelWidth, r.pixelHeight, r.logicalWidth, r.logicalHeight) == (1280, 800, 640, 400))
        #expect(r.summary == "line plot: 2 series, 200 points, y from 1 to 10000 (log)")
        // pHYs: 144 dpi = 5669 px/m, right after IHDR.
        #expect(Array(r.png[37..<41]) == Array("pHYs".utf8))
        #expect(Array(r.png[41..<45]) == [0, 0, 0x16, 0x25])
        let p = try Picture(r)
        #expect(p.pixel(2, 2) == (255, 255, 255))
        let blue = PlotColor.palette[0], vermillion = PlotColor.palette[1]
        #expect(p.count(blue) > 500 && p.count(vermillion) > 500)
        // On a log axis the rising curve climbs steeply at first: blue in the lower left, vermillion along the top.
        #expect(p.count(blue, x: 0.05...0.3, y: 0.5...0.95) > 50)
        #expect(p.count(vermillion, x: 0.3...0.9, y: 0.05...0.25) > 50)
        // Anti-aliased: intermediate shades exist next to the lines.
        #expect(Set(stride(from: 0, to: p.rgb.count, by: 3).map { p.rgb[$0] }).count > 50)
        // Scale 1 gives the logical size.
        let small = try plot.render(scale: 1)
        #expect((small.pixelWidth, small.pixelHeight) == (640, 400))
    }

    @Test func legendIsDrawnInTheEmptiestCorner() throws {
        // Data only in the top band: the legend goes to a lower corner.
        let xs = (0..<200).map { Double($0) / 199 }
        let r = try ScatterPlot([.init("points", x: xs, y: xs.map { 0.91 + 0.06 * sin($0 * 40) })], y: Axis(limits: 0...1), legend: .best).render()
        let p = try Picture(r)
        // The legend's border colour (#D0D0D0) appears; and not in the upper right, where the data are.
        let border = PlotColor(hex: "#D0D0D0")
        #expect(p.count(border, tolerance: 6) > 100)
        #expect(p.count(border, tolerance: 6, x: 0.05...0.95, y: 0.5...0.98) > 50)
        #expect(p.count(border, tolerance: 6, x: 0.05...0.95, y: 0.02...0.45) < 10)
        #expect(try LinePlot([.init(y: [1, 2, 3])]).render().summary.contains("1 series"))
    }

    @Test func histogramROCAndBar() throws {
        let h = Histogram([.init("a", values: [1, 2, 2, 3, 3, 3]), .init("b", values: [3, 4])], bins: 3, density: true)
        #expect(h.edges() == [1, 2, 3, 4])
        #expect(Histogram.heights([1, 2, 2, 3, 3, 3], edges: [1, 2, 3, 4], density: false) == [1, 2, 3])
        let d = Histogram.heights([1, 2, 2, 3, 3, 3], edges: [1, 2, 3, 4], density: true)
        #expect(abs(d.reduce(0, +) - 1) < 1e-12)
        #expect(try h.render().summary.hasPrefix("histogram: 2 series, 8 values, 3 bins"))

        #expect(ROCPlot.auroc(positives: [3, 4, 5], negatives: [0, 1, 2]) == 1)
        #expect(ROCPlot.auroc(positives: [1, 1], negatives: [1, 1]) == 0.5)
        #expect(abs(ROCPlot.auroc(positives: [0.8, 0.4, 0.6], negatives: [0.5, 0.2, 0.7]) - 6.0 / 9) < 1e-12)
        let roc = try ROCPlot([.init("det", positives: [0.8, 0.4, 0.6], negatives: [0.5, 0.2, 0.7])]).render()
        #expect(roc.summary == "ROC plot: det AUROC 0.667")
        let p = try Picture(roc)
        #expect(p.count(PlotColor.palette[0]) > 200)
        #expect(p.count(PlotColor.muted, tolerance: 20) > 100)  // the diagonal

        let bar = try BarPlot(categories: ["a", "b"], [.init("s", values: [1, -2])]).render()
        #expect(try Picture(bar).count(PlotColor.palette[0]) > 20_000)
        #expect(throws: ImagingError.self) { try BarPlot(categories: ["a"], [.init(values: [1, 2])]).render() }
    }

    @Test func heatMapUsesItsColourMapAndBar() throws {
        let values = Tensor(shape: [8, 8], data: (0..<64).map { Float($0 % 8) - 3.5 })
        let r = try HeatMap(values, colorMap: .diverging, colorBarLabel: "δ").render()
        let p = try Picture(r)
        let lowest = ColorMap.diverging.color(at: 0), highest = ColorMap.diverging.color(at: 1)
        #expect(p.count(lowest, tolerance: 4) > 1000 && p.count(highest, tolerance: 4) > 1000)
        #expect(r.summary == "heat map: 8x8, values from -3.5 to 3.5, colour map diverging (RdBu)")
        #expect(ColorMap.viridis.color(at: 0).hex == "#440154" && ColorMap.viridis.color(at: 1).hex == "#FDE725")
        #expect(ColorMap.diverging.color(at: 0.5).hex == "#F7F7F7")
    }

    @Test func imageGridAndFigure() throws {
        let red = Tensor(shape: [3, 4, 4], data: [Float](repeating: 1, count: 16) + [Float](repeating: 0, count: 32))
        let grid = try ImageGrid.comparison(xOut: red, xAdv: red.map { $0 * 0.9 }, magnification: 10)
        #expect(grid.columns == 3)
        let r = try grid.render()
        let p = try Picture(r)
        #expect(p.count(PlotColor(red: 1, green: 0, blue: 0), tolerance: 2) > 5000)      // x_out and |δ|×10 (1.0)
        #expect(p.count(PlotColor(red: 0.9, green: 0, blue: 0), tolerance: 2) > 2000)    // x_adv
        #expect(r.summary == "image grid: 3 pictures in 3 columns, each [3, 4, 4]")
        let figure = Figure(rows: 1, columns: 2, [grid, LinePlot([.init(y: [1, 2])])])
        let f = try figure.render(scale: 1)
        #expect((f.pixelWidth, f.pixelHeight) == (840, 300))
        #expect(f.summary.hasPrefix("figure: 1x2, image grid"))
        #expect(throws: ImagingError.self) { try Figure(rows: 1, columns: 1, [grid, grid]).render() }
        #expect(throws: ImagingError.self) { try ImageGrid([ImageGrid.Item(Tensor.zeros([5, 2, 2]))]).render() }
    }

    @Test func badValuesAreSkippedAndBadPlotsThrow() throws {
        let r = try LinePlot([.init("gappy", x: [0, 1, 2, 3, 4, 5], y: [1, .nan, -1, 0, 10, .infinity])], y: Axis(scale: .log)).render()
        #expect(r.summary == "line plot: 1 series, 6 points, y from 1 to 10 (log)")
        #expect(try ScatterPlot([.init(x: [.nan], y: [.nan])]).render().summary.hasSuffix("no finite values"))
        #expect(throws: ImagingError.self) { try LinePlot([]).render() }
        #expect(throws: ImagingError.self) { try LinePlot([.init(x: [1, 2], y: [1])]).render() }
        #expect(throws: ImagingError.self) { try LinePlot([.init(y: [1])], width: 100_000).render() }
        #expect(throws: ImagingError.self) { try HeatMap(Tensor.zeros([2, 2, 2])).render() }
        // Constant data still gets a sensible range and ticks.
        #expect(try LinePlot([.init(y: [5, 5, 5])]).render().pixelWidth == 1280)
    }
}
