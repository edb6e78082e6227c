import Foundation
import Testing
import Tensor
@testable import Imaging

/// The demo data shared by the gallery (docs/plots/) and matplotlib's versions (scripts/imaging/compare_plots.py).
enum Gallery {

    struct Data {
        var steps: [Double]
        var lossAttack: [Double]
        var lossDetector: [Double]
        var zIn: [Double], zAdv: [Double], zOutX: [Double], zOutY: [Double]
        var scoresIn: [Double], scoresOut: [Double], scoresAdv: [Double]
        var delta: Tensor
        var xOut: Tensor, xAdv: Tensor, xIn: Tensor
    }

    static func data() throws -> Data {
        var g = SeededGenerator(seed: 42)
        func normal() -> Double { g.nextNormalPair().0 }
        let steps = (0..<200).map(Double.init)
        let lossAttack = steps.map { 3.4 * exp(-$0 / 25) + 0.0012 * (1 + 0.3 * sin($0 / 3)) }
        let lossDetector = steps.map { 1.8 * exp(-$0 / 60) + 0.05 + 0.01 * sin($0 / 5) }
        let zIn = (0..<300).map { _ in normal() }
        let zAdv = zIn.map { 0.9 * $0 + 0.25 * normal() }
        let zOutX = (0..<300).map { _ in 2.5 + 0.6 * normal() }
        let zOutY = zOutX.map { -0.5 * $0 + 0.5 * normal() }
        let scoresIn = (0..<2000).map { _ in normal() }
        let scoresOut = (0..<2000).map { _ in 2 + 1.2 * normal() }
        let scoresAdv = (0..<2000).map { _ in 0.6 + 1.1 * normal() }
        var g5 = SeededGenerator(seed: 5), g9 = SeededGenerator(seed: 9)
        let xOut = try Generators.spiral(channels: 3, height: 28, width: 28, using: &g5)
        var noise = Tensor.normal([3, 28, 28], std: 0.03, using: &g)
        noise = noise.map { Swift.max(-0.06, Swift.min(0.06, $0)) }
        let xAdv = (try xOut + noise).map { Swift.max(0, Swift.min(1, $0)) }
        let xIn = try Generators.radialGradient(channels: 3, height: 28, width: 28, using: &g9)
        let delta = try xAdv - xOut
        return Data(steps: steps, lossAttack: lossAttack, lossDetector: lossDetector, zIn: zIn, zAdv: zAdv, zOutX: zOutX, zOutY: zOutY,
                    scoresIn: scoresIn, scoresOut: scoresOut, scoresAdv: scoresAdv, delta: delta, xOut: xOut, xAdv: xAdv, xIn: xIn)
    }

    static func plots(_ d: Data) throws -> [(String, any Plot)] {
        let line = LinePlot([.init("attack loss", x: d.steps, y: d.lossAttack), .init("detector loss", x: d.steps, y: d.lossDetector, dashed: true)],
                            title: "Attack progress", x: Axis("Step"), y: Axis("Loss", scale: .log))
        let scatter = ScatterPlot([.init("z_in → z_adv", x: d.zIn, y: d.zAdv), .init("z_out", x: d.zOutX, y: d.zOutY, marker: .triangle)],
                                  title: "Features", x: Axis("z_in (feature 0)"), y: Axis("z_adv (feature 0)"), identityLine: true)
        let histogram = Histogram([.init("in-distribution", values: d.scoresIn), .init("OOD", values: d.scoresOut), .init("adversarial OOD", values: d.scoresAdv)],
                                  density: true, title: "Detector scores", x: Axis("Score"))
        let roc = ROCPlot([.init("OOD", positives: d.scoresOut, negatives: d.scoresIn),
                           .init("adversarial OOD", positives: d.scoresAdv, negatives: d.scoresIn)], title: "Detection")
        let bar = BarPlot(categories: ["clean", "FGSM", "PGD-10", "PGD-100", "CW"],
                          [.init("AUROC", values: [0.97, 0.81, 0.62, 0.55, 0.58]), .init("TPR@5%", values: [0.88, 0.52, 0.21, 0.12, 0.17])],
                          title: "Detector under attack", y: Axis("Score", limits: 0...1))
        let heat = try HeatMap.perturbation(d.delta, title: "Perturbation δ (channel mean)")
        let grid = try ImageGrid.comparison(xOut: d.xOut, xAdv: d.xAdv, xIn: d.xIn, magnification: 10, title: "Attack result")
        let figure = Figure(rows: 2, columns: 2, [line, histogram, roc, scatter], title: "Run summary", width: 960, height: 720)
        return [("line", line), ("scatter", scatter), ("histogram", histogram), ("roc", roc), ("bar", bar), ("heatmap", heat),
                ("imagegrid", grid), ("figure", figure)]
    }

    static var docs: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/plots")
    }
}

@Suite struct PlotGalleryTests {
    /// MIRAGE_WRITE_PLOTS=1 swift test --filter PlotGalleryTests writes docs/plots/<name>_mirage.png and the data
    /// (docs/plots/data/*.npy) that scripts/imaging/compare_plots.py draws with matplotlib.
    @Test func writeGallery() throws {
        let d = try Gallery.data()
        let plots = try Gallery.plots(d)
        for (name, plot) in plots {
            let r = try plot.render()
            #expect(r.pixelWidth == r.logicalWidth * 2 && r.pixelHeight == r.logicalHeight * 2, "\(name)")
            #expect(try PNG.decode(r.png).shape == [3, r.pixelHeight, r.pixelWidth])
        }
        guard ProcessInfo.processInfo.environment["MIRAGE_WRITE_PLOTS"] == "1" else { return }
        let dataDir = Gallery.docs.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        for (name, plot) in plots {
            let r = try plot.render()
            try Foundation.Data(r.png).write(to: Gallery.docs.appendingPathComponent("\(name)_mirage.png"))
            print("\(name): \(r.summary)")
        }
        func save(_ name: String, _ values: [Double]) throws {
            try Foundation.Data(NPY.encode(Tensor(shape: [values.count], data: values.map(Float.init)))).write(to: dataDir.appendingPathComponent(name + ".npy"))
        }
        try save("loss_attack", d.lossAttack); try save("loss_detector", d.lossDetector)
        try save("z_in", d.zIn); try save("z_adv", d.zAdv); try save("z_out_x", d.zOutX); try save("z_out_y", d.zOutY)
        try save("scores_in", d.scoresIn); try save("scores_out", d.scoresOut); try save("scores_adv", d.scoresAdv)
        for (name, t) in [("delta", d.delta), ("x_out", d.xOut), ("x_adv", d.xAdv), ("x_in", d.xIn)] {
            try Foundation.Data(NPY.encode(t)).write(to: dataDir.appendingPathComponent(name + ".npy"))
        }
    }
}
