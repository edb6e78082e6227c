import Testing
import Tensor
@testable import Imaging

@Suite struct PNGTests {
    /// Deterministic pseudo-random bytes.
    private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: g.next()) }
    }

    @Test(arguments: [1, 2, 3, 4])
    func eightBitRoundTripIsBitExact(channels: Int) throws {
        let (w, h) = (17, 9)
        let pixels = bytes(w * h * channels, seed: UInt64(channels))
        let png = try PNG.encode(pixels: pixels, width: w, height: h, channels: channels)
        #expect(Array(png.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
        let tensor = try PNG.decode(png)
        #expect(tensor.shape == [channels, h, w])
        var back = [UInt8](repeating: 0, count: pixels.count)
        for c in 0..<channels {
            for p in 0..<(w * h) { back[p * channels + c] = UInt8((tensor.data[c * w * h + p] * 255).rounded()) }
        }
        #expect(back == pixels)
        // And tensor → PNG → tensor is exact at 8 bits.
        #expect(try PNG.decode(try PNG.encode(tensor)) == tensor)
    }

    @Test func sixteenBitGray() throws {
        let png = TestPNG(width: 5, height: 3, bitDepth: 16, colorType: 0) { x, y, _ in (x * 3 + y) * 4099 }.encode()
        let t = try PNG.decode(png)
        #expect(t.shape == [1, 3, 5])
        for y in 0..<3 {
            for x in 0..<5 {
                #expect(abs(t.data[y * 5 + x] - Float((x * 3 + y) * 4099) / 65535) < 1e-6)
            }
        }
    }

    @Test func sixteenBitRGBAKeepsStraightColour() throws {
        let png = TestPNG(width: 4, height: 2, bitDepth: 16, colorType: 6) { x, y, c in
            c == 3 ? 40_000 + x * 5_000 : (x + y + c) * 9_000
        }.encode()
        let t = try PNG.decode(png)
        #expect(t.shape == [4, 2, 4])
        for y in 0..<2 { for x in 0..<4 { for c in 0..<3 {
            #expect(abs(t.data[(c * 2 + y) * 4 + x] - Float((x + y + c) * 9_000) / 65535) < 2e-3)
        } } }
    }

    @Test func paletteWithTransparencyBecomesRGBA() throws {
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
        let png = TestPNG(width: 6, height: 4, bitDepth: 4, colorType: 3, palette: palette, transparency: [255, 0]) { x, y, _ in
            (x + y) % 4
        }.encode()
        let t = try PNG.decode(png)
        #expect(t.shape == [4, 4, 6])
        let plane = 24
        for y in 0..<4 {
            for x in 0..<6 {
                let index = (x + y) % 4
                let p = y * 6 + x
                #expect(t.data[3 * plane + p] == (index == 1 ? 0 : 1))
                if index != 1 {
                    for c in 0..<3 { #expect(t.data[c * plane + p] == Float(palette[index * 3 + c]) / 255) }
                }
            }
        }
    }

    @Test func interlacedMatchesProgressive() throws {
        func image(_ interlaced: Bool) -> [UInt8] {
            TestPNG(width: 13, height: 11, bitDepth: 8, colorType: 2, interlaced: interlaced) { x, y, c in (x * 17 + y * 31 + c * 80) % 256 }.encode()
        }
        let progressive = try PNG.decode(image(false))
        let interlaced = try PNG.decode(image(true))
        #expect(progressive.shape == [3, 11, 13])
        #expect(interlaced == progressive)
        #expect(progressive.data[0] == 0 && progressive.data[1] == 17 / 255)
    }

    @Test func lowBitDepthGray() throws {
        let png = TestPNG(width: 9, height: 3, bitDepth: 1, colorType: 0) { x, y, _ in (x + y) % 2 }.encode()
        let t = try PNG.decode(png)
        #expect(t.shape == [1, 3, 9])
        let expected: [Float] = (0..<27).map { (i: Int) -> Float in Float((i % 9 + i / 9) % 2) }
        #expect(t.data == expected)
    }

    @Test func corruptInputThrows() throws {
        let good = try PNG.encode(pixels: bytes(64 * 64 * 3, seed: 9), width: 64, height: 64, channels: 3)
        #expect(throws: ImagingError.self) { try PNG.decode([]) }
        #expect(throws: ImagingError.self) { try PNG.decode(Array("not a png at all".utf8)) }
        #expect(throws: ImagingError.self) { try PNG.decode(Array(good.prefix(good.count / 2))) }
        #expect(throws: ImagingError.self) { try PNG.decode(Array(good.prefix(30))) }
        var flipped = good
        flipped[good.count / 2] ^= 0xFF  // inside IDAT: the CRC no longer matches
        #expect(throws: ImagingError.self) { try PNG.decode(flipped) }
        var seed = SeededGenerator(seed: 1)
        for _ in 0..<200 {
            var mutated = good
            for _ in 0..<3 { mutated[Int(seed.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: seed.next()) }
            _ = try? PNG.decode(mutated)  // must not crash
        }
    }

    @Test func encodingRejectsBadInput() {
        #expect(throws: ImagingError.self) { try PNG.encode(pixels: [1, 2, 3], width: 2, height: 2, channels: 1) }
        #expect(throws: ImagingError.self) { try PNG.encode(pixels: [], width: 0, height: 0, channels: 1) }
        #expect(throws: ImagingError.self) { try PNG.encode(Tensor.zeros([5, 2, 2])) }
    }
}
