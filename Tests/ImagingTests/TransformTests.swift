import Foundation
import Testing
import Tensor
@testable import Imaging

@Suite struct TransformTests {
    @Test func areaDownscaleAveragesBlocks() throws {
        let t = Tensor(shape: [1, 2, 4], data: [1, 3, 5, 7, 2, 4, 6, 8])
        let r = try Transforms.resize(t, height: 1, width: 2)
        #expect(r.data == [2.5, 6.5])
        // Non-integer ratio: 3 → 2 takes 1.5 pixels per output.
        let u = try Transforms.area(Tensor(shape: [1, 1, 3], data: [0, 3, 6]), height: 1, width: 2)
        #expect(abs(u.data[0] - 1) < 1e-6 && abs(u.data[1] - 5) < 1e-6)
        // A fine checkerboard averages to flat grey (bilinear would alias).
        let board = Tensor(shape: [1, 8, 8], data: (0..<64).map { Float(($0 % 8 + $0 / 8) % 2) })
        #expect(try Transforms.resize(board, height: 2, width: 2).data.allSatisfy { abs($0 - 0.5) < 1e-6 })
        // Batches resize item by item; enlarging falls back to bilinear.
        #expect(try Transforms.resize(Tensor.zeros([2, 3, 4, 4]), height: 8, width: 6).shape == [2, 3, 8, 6])
    }

    @Test func centerCropAndChannels() throws {
        let t = Tensor(shape: [1, 4, 5], data: (0..<20).map(Float.init))
        #expect(try Transforms.centerCrop(t, height: 2, width: 3).data == [6, 7, 8, 11, 12, 13])
        #expect(throws: ImagingError.self) { try Transforms.centerCrop(t, height: 5, width: 1) }
        let rgb = Tensor(shape: [3, 1, 2], data: [1, 0, 0, 1, 0, 0])
        let gray = try Transforms.toGray(rgb)
        #expect(gray.shape == [1, 1, 2])
        #expect(abs(gray.data[0] - 0.299) < 1e-6 && abs(gray.data[1] - 0.587) < 1e-6)
        #expect(try Transforms.toRGB(gray).shape == [3, 1, 2])
        let rgba = Tensor(shape: [4, 1, 1], data: [0.1, 0.2, 0.3, 0.5])
        #expect(try Transforms.toRGB(rgba).data == [0.1, 0.2, 0.3])
    }

    @Test func normalizationAppliesAndInverts() throws {
        let n = Normalization(mean: [0.5, 0.25], std: [0.5, 0.25])
        let t = Tensor(shape: [2, 1, 2], data: [0, 1, 0.25, 0.5])
        let a = try n.apply(t)
        #expect(a.data == [-1, 1, 0, 1])
        #expect(try n.invert(a) == t)
        #expect(throws: ImagingError.self) { try Normalization.imageNet.apply(t) }
        #expect(throws: ImagingError.self) { try Normalization(mean: [0], std: [0]).apply(t) }
        let batch = try Transforms.stack([t, t])
        #expect(try n.apply(batch).data == a.data + a.data)
    }

    @Test func layoutsAndBatches() throws {
        let t = Tensor(shape: [1, 2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8])  // N C H W
        let nhwc = try Transforms.toNHWC(t)
        #expect(nhwc.shape == [1, 2, 2, 2] && nhwc.data == [1, 5, 2, 6, 3, 7, 4, 8])
        #expect(try Transforms.toNCHW(nhwc) == t)
        let b = try Transforms.concat([t, t, t])
        #expect(b.shape == [3, 2, 2, 2])
        #expect(try Transforms.slice(b, 1..<3).shape == [2, 2, 2, 2])
        #expect(throws: ImagingError.self) { try Transforms.stack([t, Tensor.zeros([2])]) }
        #expect(throws: ImagingError.self) { try Transforms.slice(b, 2..<4) }
    }

    @Test func folderLoadingSortsAndNamesTheOddFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mirage-folder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(try Fixtures.bytes("rgb8.png")).write(to: dir.appendingPathComponent("b.png"))
        try Data(try Fixtures.bytes("baseline.jpg")).write(to: dir.appendingPathComponent("a.jpg"))
        try Data("notes".utf8).write(to: dir.appendingPathComponent("readme.txt"))
        let batch = try ImageFile.loadFolder(dir.path)
        #expect(batch.shape == [2, 3, 16, 24])
        #expect(batch.slice(1) == (try PNG.decode(Fixtures.bytes("rgb8.png"))))
        try Data(try Fixtures.bytes("exif6.jpg")).write(to: dir.appendingPathComponent("c.jpg"))
        let error = #expect(throws: ImagingError.self) { try ImageFile.loadFolder(dir.path) }
        #expect(error?.message.contains("c.jpg") == true)
        #expect(try ImageFile.loadFolder(dir.path, size: (8, 8)).shape == [3, 3, 8, 8])
        try Data(try Fixtures.bytes("gray8.png")).write(to: dir.appendingPathComponent("d.png"))
        #expect(try ImageFile.loadFolder(dir.path, size: (8, 8), channels: .gray).shape == [4, 1, 8, 8])
    }
}

@Suite struct GeneratorTests {
    /// Every generator, by the name of the built-in that calls it.
    static let generators: [String: @Sendable (inout SeededGenerator) throws -> Tensor] = [
        "spiral": { try Generators.spiral(channels: 3, height: 20, width: 30, using: &$0) },
        "checkerboard": { try Generators.checkerboard(channels: 3, height: 20, width: 30, using: &$0) },
        "linear": { try Generators.linearGradient(channels: 3, height: 20, width: 30, using: &$0) },
        "radial": { try Generators.radialGradient(channels: 3, height: 20, width: 30, using: &$0) },
    ]

    @Test(arguments: ["spiral", "checkerboard", "linear", "radial"])
    func generatorsAreSeededAndInRange(kind: String) throws {
        let make = try #require(Self.generators[kind])
        func picture(_ seed: UInt64) throws -> Tensor { var g = SeededGenerator(seed: seed); return try make(&g) }
        let a = try picture(7), b = try picture(7), c = try picture(8)
        #expect(a == b)
        #expect(a != c)
        #expect(a.shape == [3, 20, 30])
        #expect(a.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(Set(a.data).count > 1)
    }

    @Test func spiralIsAntialiasedStroke() throws {
        var g = SeededGenerator(seed: 1)
        let s = try Generators.spiral(channels: 1, height: 28, width: 28, using: &g)
        let lit = s.data.filter { $0 > 0 }.count
        #expect(lit > 60 && lit < 500)
        #expect(s.data.contains { $0 > 0.05 && $0 < 0.95 })  // partial coverage at the edges
        #expect(s.max() == 1)
    }

    @Test func gradientsRunBetweenTwoColours() throws {
        var g = SeededGenerator(seed: 3)
        let t = try Generators.linearGradient(channels: 1, height: 1, width: 64, using: &g)
        let d = zip(t.data.dropFirst(), t.data).map { $0 - $1 }
        #expect(d.allSatisfy { $0 >= -1e-6 } || d.allSatisfy { $0 <= 1e-6 })  // monotone along a row
    }
}
