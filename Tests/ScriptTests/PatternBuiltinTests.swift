// The pattern pictures (checkerboard, gradient) and the bar and heat-map plots, through the language.
import Foundation
import Imaging
import Tensor
import Testing
@testable import Script

/// A tensor the session holds, read back through `save(name, "….npy")`.
private func tensor(_ name: String, in session: Session) throws -> Tensor {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("mirage-pattern-\(UUID().uuidString).npy").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try run("save(\(name), \"\(path)\")", in: session)
    return try NPY.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
}

@Suite struct PatternBuiltinTests {
    @Test func checkerboardIsSeededTwoColouredAndSized() throws {
        let session = Session()
        try run("c = checkerboard(28, 28, seed=3)", in: session)
        #expect(try run("c.shape", in: session) == "[1, 28, 28]")
        #expect(try run("sum(c == checkerboard(28, 28, seed=3)) == 784", in: session) == "true")
        #expect(try run("sum(c == checkerboard(28, 28, seed=4)) < 784", in: session) == "true")
        #expect(try run("checkerboard(20, 24, channels=3, seed=1).shape", in: session) == "[3, 20, 24]")
        // The same pixels as Imaging's generator with that seed.
        var g = SeededGenerator(seed: 3)
        let expected = try Generators.checkerboard(channels: 1, height: 28, width: 28, using: &g)
        let c = try tensor("c", in: session)
        #expect(c == expected)
        #expect(Set(c.data).count == 2)
        #expect(error(of: "checkerboard(28, 28, channels=2)")?.message.contains("channels=1 or channels=3") == true)
    }

    @Test func gradientsAreLinearOrRadial() throws {
        let session = Session()
        try run("a = gradient(1, 64, seed=2)\nr = gradient(16, 16, kind=\"radial\", channels=3, seed=2)", in: session)
        let a = try tensor("a", in: session), r = try tensor("r", in: session)
        let steps = zip(a.data.dropFirst(), a.data).map { $0 - $1 }
        #expect(steps.allSatisfy { $0 >= -1e-6 } || steps.allSatisfy { $0 <= 1e-6 })  // monotone along a row
        var g = SeededGenerator(seed: 2)
        #expect(r == (try Generators.radialGradient(channels: 3, height: 16, width: 16, using: &g)))
        let bad = error(of: "gradient(8, 8, kind=\"spiral\")")
        #expect(bad?.message.contains("kind=\"linear\" or kind=\"radial\"") == true)
    }

    @Test func barsAndHeatmapDraw() throws {
        let session = Session()
        #expect(try run("bars([[0.97, 0.62], [0.88, 0.21]], [\"clean\", \"attacked\"], labels=[\"AUROC\", \"TPR\"])", in: session)
            == "bar plot: 2 categories, 2 series, values from 0.21 to 0.97")
        #expect(try run("bars([1, -2, 3], [\"a\", \"b\", \"c\"]).summary", in: session)?.contains("3 categories, 1 series") == true)
        #expect(error(of: "bars([1, 2], [\"a\"])")?.message.contains("2 values for 1 categories") == true)
        #expect(try run("heatmap(tensor([[0, 1], [2, 3]]))", in: session)
            == "heat map: 2x2, values from 0 to 3, colour map viridis")
        #expect(try run("heatmap(tensor([[-1, 1], [2, 3]]))", in: session)?.hasSuffix("colour map diverging (RdBu)") == true)
        // A [C, H, W] perturbation is averaged over channels.
        #expect(try run("heatmap(stack([ones(4, 5), -ones(4, 5) * 3]))", in: session)
            == "heat map: 4x5, values from -1 to -1, colour map viridis")
        #expect(error(of: "heatmap(zeros(2, 2, 2, 2))")?.message.contains("[H, W]") == true)
        #expect(error(of: "heatmap([1, 2])")?.message.contains("expects a tensor") == true)
    }
}
