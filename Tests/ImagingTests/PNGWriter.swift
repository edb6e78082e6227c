/// A tiny PNG writer for tests: uncompressed ("stored") deflate blocks, any bit depth, colour type and
/// Adam7 interlacing — so the decoder is tested on files the simplified libpng writer cannot produce.
struct TestPNG {
    var width: Int
    var height: Int
    var bitDepth: Int
    var colorType: Int          // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    var interlaced = false
    var palette: [UInt8]? = nil  // RGB triples
    var transparency: [UInt8]? = nil
    /// The sample of channel `c` at (x, y), in 0..<(1 << bitDepth).
    var sample: (Int, Int, Int) -> Int

    var channels: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]! }

    func encode() -> [UInt8] {
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [UInt8(bitDepth), UInt8(colorType), 0, 0, interlaced ? 1 : 0]
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", header)
        if let palette { out += chunk("PLTE", palette) }
        if let transparency { out += chunk("tRNS", transparency) }
        out += chunk("IDAT", zlibStored(rawScanlines()))
        out += chunk("IEND", [])
        return out
    }

    private func rawScanlines() -> [UInt8] {
        let passes: [(Int, Int, Int, Int)] = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        var data: [UInt8] = []
        for (x0, y0, dx, dy) in passes {
            let xs = Array(stride(from: x0, to: width, by: dx))
            let ys = Array(stride(from: y0, to: height, by: dy))
            if xs.isEmpty || ys.isEmpty { continue }
            for y in ys {
                data.append(0)  // filter: none
                var bits: [Int] = []
                for x in xs { for c in 0..<channels { bits.append(sample(x, y, c)) } }
                data += pack(bits)
            }
        }
        return data
    }

    private func pack(_ samples: [Int]) -> [UInt8] {
        if bitDepth == 16 { return samples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }
        if bitDepth == 8 { return samples.map { UInt8($0) } }
        var bytes: [UInt8] = []
        var current = 0, used = 0
        for s in samples {
            current = (current << bitDepth) | s
            used += bitDepth
            if used == 8 { bytes.append(UInt8(current)); current = 0; used = 0 }
        }
        if used > 0 { bytes.append(UInt8(current << (8 - used))) }
        return bytes
    }
}

func bigEndian(_ x: UInt32) -> [UInt8] {
    [UInt8(x >> 24), UInt8((x >> 16) & 0xFF), UInt8((x >> 8) & 0xFF), UInt8(x & 0xFF)]
}

func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
}

func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

func zlibStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
        let length = min(65_535, data.count - offset)
        let final: UInt8 = offset + length == data.count ? 1 : 0
        out += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
        out += data[offset..<(offset + length)]
        offset += length
    } while offset < data.count
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in data { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
    return out + bigEndian(b << 16 | a)
}
