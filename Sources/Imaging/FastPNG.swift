import CZlib

/// A fast PNG writer for rendered plots: Up-filtered RGB rows deflated at level 3 (measured on the gallery:
/// level 3 is as fast as level 1 and within 10–20 % of level 6's size at half its time; Up beats Sub and no filter
/// on plots and picture grids), without libpng's per-row adaptive filter search.
enum FastPNG {
    /// zlib-compresses `data` (default strategy); nil if zlib fails.
    static func compress(_ data: [UInt8], level: Int32 = 3) -> [UInt8]? {
        guard data.count < Int(UInt32.max) else { return nil }
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))))
        let result = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output -> Int32 in
                stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = output.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(clamping: output.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { return nil }
        out.removeSubrange(Int(stream.total_out)...)
        return out
    }

    /// Builds an 8-bit RGB PNG from filtered scanlines (each starting with its filter byte), with a pHYs chunk.
    static func png(filteredScanlines: [UInt8], width: Int, height: Int, channels: Int = 3, pixelsPerMeter: Int?,
                    level: Int32 = 3) -> [UInt8]? {
        guard let compressed = compress(filteredScanlines, level: level) else { return nil }
        let colorType: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][channels] ?? 2
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return be32(body.count) + typed + be32(Int(PNG.crc32(typed)))
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out.reserveCapacity(compressed.count + 128)
        out += chunk("IHDR", be32(width) + be32(height) + [8, colorType, 0, 0, 0])
        if let pixelsPerMeter { out += chunk("pHYs", be32(pixelsPerMeter) + be32(pixelsPerMeter) + [1]) }
        out += chunk("IDAT", compressed)
        out += chunk("IEND", [])
        return out
    }

    /// Interleaved 8-bit samples (1 to 4 channels) → PNG with Up-filtered rows at zlib `level` (6 by default).
    static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int, level: Int32 = 6) -> [UInt8]? {
        let stride = width * channels, rowBytes = 1 + stride
        var filtered = [UInt8](repeating: 0, count: rowBytes * height)
        pixels.withUnsafeBufferPointer { src in
            filtered.withUnsafeMutableBufferPointer { out in
                for y in 0..<height {
                    let o = y * rowBytes, r = y * stride
                    out[o] = 2  // Up
                    if y == 0 {
                        for i in 0..<stride { out[o + 1 + i] = src[i] }
                    } else {
                        for i in 0..<stride { out[o + 1 + i] = src[r + i] &- src[r - stride + i] }
                    }
                }
            }
        }
        return png(filteredScanlines: filtered, width: width, height: height, channels: channels, pixelsPerMeter: nil, level: level)
    }
}
