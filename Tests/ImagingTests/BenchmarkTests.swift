import Foundation
import Testing
import Tensor
@testable import Imaging

/// Timings for scripts/bench_imaging.sh; runs only with MIRAGE_BENCH=1 (use a release build:
/// `MIRAGE_BENCH=1 swift test -c release --filter BenchmarkTests`). Prints `BENCH <name> <median ms>` lines.
/// The data are formulas that scripts/bench_imaging.py reproduces for matplotlib and Pillow.
@Suite struct BenchmarkTests {
    static func median(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()  // warm-up (fonts, caches)
        var times: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            try body()
            let d = ContinuousClock.now - start
            times.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
        }
        return times.sorted()[runs / 2]
    }

    static func picture224() -> Tensor {
        var data = [Float](repeating: 0, count: 3 * 224 * 224)
        for y in 0..<224 {
            for x in 0..<224 {
                data[y * 224 + x] = Float(x) / 223
                data[224 * 224 + y * 224 + x] = Float(y) / 223
                data[2 * 224 * 224 + y * 224 + x] = 0.5 + 0.5 * sin(Float(x * y) / 500)
            }
        }
        return Tensor(shape: [3, 224, 224], data: data)
    }

    static func grid64() -> [Tensor] {
        (0..<64).map { k in
            var data = [Float](repeating: 0, count: 3 * 28 * 28)
            for c in 0..<3 {
                for y in 0..<28 {
                    for x in 0..<28 {
                        data[(c * 28 + y) * 28 + x] = 0.5 + 0.5 * sin((Float(x * (k + 1)) + Float(y * (c + 1)) * 0.7) / 5)
                    }
                }
            }
            return Tensor(shape: [3, 28, 28], data: data)
        }
    }

    @Test func benchmark() throws {
        guard ProcessInfo.processInfo.environment["MIRAGE_BENCH"] == "1" else { return }
        let n = 10_000
        let xs = (0..<n).map(Double.init)
        let ys = xs.map { sin($0 / 50) + 0.1 * sin($0 * 1.3) }
        let line = LinePlot([.init("signal", x: xs, y: ys)], title: "10,000 points", x: Axis("x"), y: Axis("y"))
        var bytes = 0
        let lineMs = try Self.median(21) { bytes = try line.render().png.count }
        print("BENCH line10k_png \(lineMs) \(bytes)")

        let picture = Self.picture224()
        let pictureMs = try Self.median(51) { bytes = try PNG.encode(picture).count }
        print("BENCH image224_png \(pictureMs) \(bytes)")

        let pictures = Self.grid64()
        let grid = ImageGrid(pictures.enumerated().map { ImageGrid.Item($0.element, caption: "#\($0.offset)") }, columns: 8, title: "64 pictures")
        let gridMs = try Self.median(11) { bytes = try grid.render().png.count }
        print("BENCH grid64_plot \(gridMs) \(bytes)")

        let batch = try Transforms.stack(pictures)
        let tileMs = try Self.median(21) { bytes = try PictureDisplay.render(batch).png.count }
        print("BENCH grid64_tiles \(tileMs) \(bytes)")
    }
}
