import Foundation
import Testing
import Tensor
@testable import Imaging

/// Fixtures written by scripts/imaging/make_fixtures.py: each file comes with `<name>.npy`, Pillow's decoding
/// as float32 [C, H, W] in [0, 1].
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }
    static func reference(_ name: String) throws -> Tensor { try NPY.decode(bytes(name + ".npy")) }
}

@Suite struct CodecFixtureTests {
    @Test(arguments: ["gray8.png", "rgb8.png", "rgba8.png", "palette.png", "gray16.png", "rgb16.png", "interlaced.png"])
    func pngMatchesPillow(name: String) throws {
        let decoded = try PNG.decode(Fixtures.bytes(name))
        let reference = try Fixtures.reference(name)
        #expect(decoded.shape == reference.shape)
        let tolerance: Float = name.contains("16") ? 0.5 / 65535 : 0.5 / 255
        let worst = zip(decoded.data, reference.data).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= tolerance, "\(name): largest difference \(worst)")
    }

    @Test(arguments: ["baseline.jpg", "progressive.jpg", "gray.jpg", "exif6.jpg", "cmyk.jpg"])
    func jpegMatchesPillowWithinTwoLevels(name: String) throws {
        let decoded = try JPEG.decode(Fixtures.bytes(name))
        let reference = try Fixtures.reference(name)
        #expect(decoded.shape == reference.shape, "\(name)")
        guard decoded.shape == reference.shape else { return }
        let worst = zip(decoded.data, reference.data).map { abs($0 - $1) * 255 }.max() ?? 255
        #expect(worst <= 2.01, "\(name): largest difference \(worst) levels")
    }

    @Test func exifOrientationIsParsedAndApplied() throws {
        #expect(JPEG.exifOrientation(try Fixtures.bytes("exif6.jpg")) == 6)
        #expect(JPEG.exifOrientation(try Fixtures.bytes("baseline.jpg")) == 1)
        // Stored 24 wide, 16 high; displayed turned clockwise: 16 wide, 24 high.
        #expect(try JPEG.decode(Fixtures.bytes("exif6.jpg")).shape == [3, 24, 16])
        #expect(try JPEG.decode(Fixtures.bytes("exif6.jpg"), applyOrientation: false).shape == [3, 16, 24])
    }

    @Test func orientationsAreTheEightSymmetries() {
        // 2x3 picture with distinct values; orientation 6 rotates clockwise, 8 counter-clockwise.
        let t = Tensor(shape: [1, 2, 3], data: [1, 2, 3, 4, 5, 6])
        #expect(JPEG.orient(t, orientation: 2).data == [3, 2, 1, 6, 5, 4])
        #expect(JPEG.orient(t, orientation: 3).data == [6, 5, 4, 3, 2, 1])
        #expect(JPEG.orient(t, orientation: 4).data == [4, 5, 6, 1, 2, 3])
        #expect(JPEG.orient(t, orientation: 5).data == [1, 4, 2, 5, 3, 6])
        #expect(JPEG.orient(t, orientation: 6).data == [4, 1, 5, 2, 6, 3])
        #expect(JPEG.orient(t, orientation: 7).data == [6, 3, 5, 2, 4, 1])
        #expect(JPEG.orient(t, orientation: 8).data == [3, 6, 2, 5, 1, 4])
        #expect(JPEG.orient(t, orientation: 6).shape == [1, 3, 2])
    }

    @Test func imageFileSniffsTheFormat() throws {
        #expect(try ImageFile.decode(Fixtures.bytes("rgb8.png")).shape == [3, 16, 24])
        #expect(try ImageFile.decode(Fixtures.bytes("gray.jpg")).shape == [1, 16, 24])
        #expect(throws: ImagingError.self) { try ImageFile.decode(Array("GIF89a".utf8)) }
    }

    @Test(arguments: [1, 2, 3, 4])
    func sixteenBitRoundTrip(channels: Int) throws {
        var g = SeededGenerator(seed: UInt64(channels))
        let samples = (0..<(7 * 5 * channels)).map { _ in UInt16(truncatingIfNeeded: g.next()) | (channels % 2 == 0 ? 0x8000 : 0) }
        let png = try PNG.encode16(samples: samples, width: 7, height: 5, channels: channels)
        let t = try PNG.decode(png)
        #expect(t.shape == [channels, 5, 7])
        var worst = 0
        for c in 0..<channels {
            for p in 0..<35 {
                worst = max(worst, abs(Int((t.data[c * 35 + p] * 65535).rounded()) - Int(samples[p * channels + c])))
            }
        }
        // Colour under alpha goes through libpng's premultiplication; exact without alpha.
        #expect(worst <= (channels % 2 == 0 ? 2 : 0))
    }

    @Test func physicalDensityChunkIsInsertedAfterIHDR() throws {
        let png = try PNG.encode(pixels: [0, 128, 255, 64], width: 2, height: 2, channels: 1)
        let dense = try PNG.settingPhysicalDensity(png, pixelsPerMeter: 5669)
        #expect(Array(dense[37..<41]) == Array("pHYs".utf8))
        #expect(Array(dense[41..<50]) == [0, 0, 0x16, 0x25, 0, 0, 0x16, 0x25, 1])
        #expect(try PNG.decode(dense) == (try PNG.decode(png)))
        // Replacing keeps one chunk.
        let twice = try PNG.settingPhysicalDensity(dense, pixelsPerMeter: 2835)
        #expect(twice.count == dense.count)
        #expect(PNG.crc32(Array("IEND".utf8)) == 0xAE42_6082)
    }
}

@Suite struct CorruptFileTests {
    @Test func truncatedAndCorruptFilesThrow() throws {
        for name in ["rgb8.png", "interlaced.png", "gray16.png"] {
            let bytes = try Fixtures.bytes(name)
            for cut in [1, 8, 20, 33, 40, bytes.count / 2, bytes.count - 13] {
                #expect(throws: ImagingError.self, "\(name) cut at \(cut)") { try PNG.decode(Array(bytes.prefix(cut))) }
            }
        }
        #expect(throws: ImagingError.self) { try PNG.decode([]) }
        #expect(throws: ImagingError.self) { try JPEG.decode([]) }
        #expect(throws: ImagingError.self) { try JPEG.decode([0xFF, 0xD8, 0xFF]) }
        #expect(throws: ImagingError.self) { try JPEG.decode([0xFF, 0xD8, 0xFF, 0xE0, 0, 2, 0xFF, 0xD9]) }
        // A JPEG cut inside the header throws; cut inside the scan data it decodes, grey-filled (as libjpeg does).
        let jpeg = try Fixtures.bytes("baseline.jpg")
        #expect(throws: ImagingError.self) { try JPEG.decode(Array(jpeg.prefix(100))) }
        #expect(try JPEG.decode(Array(jpeg.prefix(jpeg.count - 200))).shape == [3, 16, 24])
    }

    /// Rewrites the size in a file's header: both decoders must refuse before allocating.
    @Test func hugeDimensionsAreRefused() throws {
        var png = try Fixtures.bytes("rgb8.png")
        png.replaceSubrange(16..<24, with: [0, 0x0F, 0x42, 0x40, 0, 0x0F, 0x42, 0x40])  // 1,000,000 x 1,000,000
        let crc = PNG.crc32(Array(png[12..<29]))
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        #expect(throws: ImagingError.self) { try PNG.decode(png) }

        var jpeg = try Fixtures.bytes("baseline.jpg")
        let sof = (0..<(jpeg.count - 9)).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) }!
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xF0, 0x00, 0xF0, 0x00])  // 61440 x 61440
        let error = #expect(throws: ImagingError.self) { try JPEG.decode(jpeg) }
        #expect(error?.message.contains("too large") == true)
        #expect(throws: ImagingError.self) { try JPEG.decode(try Fixtures.bytes("baseline.jpg"), maximumPixels: 100) }
    }

    /// A few thousand seeded mutations (bit flips, byte overwrites, truncations, chunk duplications) of every
    /// fixture, through both decoders: each either decodes or throws — never crashes or hangs.
    @Test func mutationFuzzNeverCrashes() throws {
        var g = SeededGenerator(seed: 20_26)
        let names = ["rgb8.png", "rgba8.png", "palette.png", "interlaced.png", "gray16.png",
                     "baseline.jpg", "progressive.jpg", "gray.jpg", "exif6.jpg", "cmyk.jpg"]
        let originals = try names.map { try Fixtures.bytes($0) }
        var decoded = 0, refused = 0
        for round in 0..<3000 {
            var bytes = originals[round % originals.count]
            let mutations = 1 + Int(g.next() % 4)
            for _ in 0..<mutations {
                let at = Int(g.next() % UInt64(bytes.count))
                switch g.next() % 5 {
                case 0: bytes[at] ^= UInt8(1 << (g.next() % 8))
                case 1: bytes[at] = UInt8(truncatingIfNeeded: g.next())
                case 2: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][Int(g.next() % 4)]
                case 3: bytes = Array(bytes.prefix(Swift.max(1, at)))
                default:
                    let length = Swift.min(16, bytes.count - at)
                    bytes.insert(contentsOf: bytes[at..<(at + length)], at: at)
                }
            }
            do {
                let t = try ImageFile.decode(bytes, maximumPixels: 1 << 20)
                #expect(t.data.allSatisfy { $0 >= 0 && $0 <= 1 })
                decoded += 1
            } catch is ImagingError {
                refused += 1
            }
        }
        #expect(decoded + refused == 3000)
        #expect(decoded > 100 && refused > 100)
    }
}
