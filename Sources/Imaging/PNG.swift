import CPNG
import Tensor

/// PNG through libpng's simplified API. It reports failures through return values and `image.message`
/// instead of libpng's default longjmp error handling, which would be unsafe to unwind through Swift frames.
public enum PNG {
    /// Encodes 8-bit interleaved pixels (`channels`: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int, fast: Bool = false) throws -> [UInt8] {
        guard (1...4).contains(channels) else { throw ImagingError("PNG needs 1 to 4 channels, got \(channels)") }
        guard width > 0, height > 0, width <= 1 << 24, height <= 1 << 24 else {
            throw ImagingError("PNG needs a positive size, got \(width)x\(height)")
        }
        guard pixels.count == width * height * channels else {
            throw ImagingError("expected \(width * height * channels) bytes of pixels, got \(pixels.count)")
        }
        // zlib directly (Up filter, level 6) is about twice as fast as libpng's adaptive filtering, similar size.
        if !fast, let png = FastPNG.encode(pixels: pixels, width: width, height: height, channels: channels) { return png }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = formatFlags(channels: channels)
        if fast { image.flags = UInt32(PNG_IMAGE_FLAG_FAST) }
        var size: png_alloc_size_t = 0
        let stride = Int32(width * channels)
        // First call measures, second call writes.
        guard pixels.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }) != 0 else {
            throw ImagingError("PNG encoding failed: \(message(of: &image))")
        }
        var output = [UInt8](repeating: 0, count: Int(size))
        let ok = output.withUnsafeMutableBytes { out in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard ok != 0 else { throw ImagingError("PNG encoding failed: \(message(of: &image))") }
        output.removeSubrange(Int(size)...)
        return output
    }

    /// Encodes a picture tensor (HxW, or CxHxW with C from 1 to 4) at its own size; values are clamped to [0, 1]
    /// and rounded to 8 bits.
    public static func encode(_ tensor: Tensor) throws -> [UInt8] {
        let (channels, height, width) = try pictureLayout(tensor)
        return try encode(pixels: interleaved8Bit(tensor, channels: channels, height: height, width: width),
                          width: width, height: height, channels: channels)
    }

    /// The length in bytes of a picture tensor's PNG (8-bit, Up-filtered rows, zlib at its highest level 9, no
    /// ancillary chunks): the lossless code length the complexity-corrected likelihood of Serrà et al. (2020) uses.
    public static func codeLength(_ tensor: Tensor) throws -> Int {
        let (channels, height, width) = try pictureLayout(tensor)
        let pixels = interleaved8Bit(tensor, channels: channels, height: height, width: width)
        guard let png = FastPNG.encode(pixels: pixels, width: width, height: height, channels: channels, level: 9) else {
            throw ImagingError("PNG compression failed for a \(width)x\(height) picture")
        }
        return png.count
    }

    /// Decodes any PNG (1 to 16 bits, gray, RGB, palette, with or without alpha or transparency, interlaced or not)
    /// into a CxHxW tensor in [0, 1]; C is 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) as stored in the file.
    /// Files with more than `maximumPixels` pixels are refused after reading the header, before pixel memory is allocated.
    public static func decode(_ bytes: [UInt8], maximumPixels: Int = ImageLimits.maximumPixels) throws -> Tensor {
        guard !bytes.isEmpty else { throw ImagingError("not a PNG file: it is empty") }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw ImagingError("cannot read PNG: \(message(of: &image))") }
        defer { png_image_free(&image) }

        // Keep the file's own channels and depth; a palette becomes direct colour. Files with 16-bit samples read
        // as 16-bit linear, which libpng leaves unconverted when the file has no gamma information.
        let linear = image.format & PNG_FORMAT_FLAG_LINEAR != 0
        let hasAlpha = image.format & PNG_FORMAT_FLAG_ALPHA != 0
        let hasColor = image.format & PNG_FORMAT_FLAG_COLOR != 0
        image.format = (linear ? PNG_FORMAT_FLAG_LINEAR : 0) | (hasAlpha ? PNG_FORMAT_FLAG_ALPHA : 0) | (hasColor ? PNG_FORMAT_FLAG_COLOR : 0)
        let channels = (hasColor ? 3 : 1) + (hasAlpha ? 1 : 0)
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width * height <= maximumPixels else {
            throw ImagingError("PNG is too large to read: \(width)x\(height) (at most \(maximumPixels) pixels)")
        }
        let count = width * height * channels
        var planes = [Float](repeating: 0, count: count)
        if linear {
            var samples = [UInt16](repeating: 0, count: count)
            let ok = samples.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw ImagingError("cannot read PNG: \(message(of: &image))") }
            // Linear output premultiplies colour by alpha; undo that so colour channels match the file.
            for pixel in 0..<(width * height) {
                let alpha = hasAlpha ? Float(samples[pixel * channels + channels - 1]) / 65535 : 1
                for c in 0..<channels {
                    var value = Float(samples[pixel * channels + c]) / 65535
                    if hasAlpha && c < channels - 1 { value = alpha > 0 ? Swift.min(1, value / alpha) : 0 }
                    planes[c * width * height + pixel] = value
                }
            }
        } else {
            var samples = [UInt8](repeating: 0, count: count)
            let ok = samples.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw ImagingError("cannot read PNG: \(message(of: &image))") }
            for pixel in 0..<(width * height) {
                for c in 0..<channels {
                    planes[c * width * height + pixel] = Float(samples[pixel * channels + c]) / 255
                }
            }
        }
        return Tensor(shape: [channels, height, width], data: planes)
    }

    /// Encodes 16-bit interleaved samples (`channels` 1 to 4, as for 8 bits). Colour with alpha is stored straight
    /// (not premultiplied), as PNG requires.
    public static func encode16(samples: [UInt16], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        guard (1...4).contains(channels) else { throw ImagingError("PNG needs 1 to 4 channels, got \(channels)") }
        guard width > 0, height > 0, width <= 1 << 24, height <= 1 << 24 else {
            throw ImagingError("PNG needs a positive size, got \(width)x\(height)")
        }
        guard samples.count == width * height * channels else {
            throw ImagingError("expected \(width * height * channels) samples, got \(samples.count)")
        }
        // libpng's simplified writer takes premultiplied linear samples and divides by alpha when writing.
        var input = samples
        if channels == 2 || channels == 4 {
            for p in 0..<(width * height) {
                let alpha = UInt32(samples[p * channels + channels - 1])
                for c in 0..<(channels - 1) {
                    input[p * channels + c] = UInt16((UInt32(samples[p * channels + c]) * alpha + 32767) / 65535)
                }
            }
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = formatFlags(channels: channels) | PNG_FORMAT_FLAG_LINEAR
        var size: png_alloc_size_t = 0
        let stride = Int32(width * channels)
        guard input.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }) != 0 else {
            throw ImagingError("PNG encoding failed: \(message(of: &image))")
        }
        var output = [UInt8](repeating: 0, count: Int(size))
        let ok = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard ok != 0 else { throw ImagingError("PNG encoding failed: \(message(of: &image))") }
        output.removeSubrange(Int(size)...)
        return output
    }

    /// Encodes a picture tensor with 16-bit samples.
    public static func encode16(_ tensor: Tensor) throws -> [UInt8] {
        let (channels, height, width) = try pictureLayout(tensor)
        let plane = height * width
        var samples = [UInt16](repeating: 0, count: plane * channels)
        for c in 0..<channels {
            for p in 0..<plane {
                let v = tensor.data[c * plane + p]
                samples[p * channels + c] = v > 0 ? (v >= 1 ? 65535 : UInt16((v * 65535).rounded())) : 0
            }
        }
        return try encode16(samples: samples, width: width, height: height, channels: channels)
    }

    /// Inserts (or replaces) a pHYs chunk right after IHDR: the pixel density, so viewers that honour it show
    /// a picture rendered at 2× at its logical size. `pixelsPerMeter` 5669 is 144 dpi.
    public static func settingPhysicalDensity(_ png: [UInt8], pixelsPerMeter: Int) throws -> [UInt8] {
        guard png.count >= 33, png[12..<16].elementsEqual(Array("IHDR".utf8)) else { throw ImagingError("not a PNG with an IHDR chunk") }
        var body: [UInt8] = Array("pHYs".utf8)
        let ppm = UInt32(clamping: pixelsPerMeter)
        for _ in 0..<2 { body += [UInt8(ppm >> 24), UInt8(ppm >> 16 & 0xFF), UInt8(ppm >> 8 & 0xFF), UInt8(ppm & 0xFF)] }
        body.append(1)  // unit: metre
        let crc = crc32(body)
        var chunk: [UInt8] = [0, 0, 0, 9] + body
        chunk += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        // Drop existing pHYs chunks, then insert after IHDR (8 signature + 25 IHDR).
        var out = Array(png[0..<33])
        out += chunk
        var i = 33
        while i + 12 <= png.count {
            let length = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
            let end = i + 12 + length
            guard end <= png.count else { throw ImagingError("truncated PNG chunk") }
            if !png[(i + 4)..<(i + 8)].elementsEqual(Array("pHYs".utf8)) { out += png[i..<end] }
            i = end
        }
        return out
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    private static func formatFlags(channels: Int) -> UInt32 {
        switch channels {
        case 1: return 0
        case 2: return PNG_FORMAT_FLAG_ALPHA
        case 3: return PNG_FORMAT_FLAG_COLOR
        default: return PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA
        }
    }

    private static func message(of image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw -> String in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
        return text.isEmpty ? "unknown libpng error" : text
    }
}

/// (channels, height, width) of a picture tensor: HxW, or CxHxW with C from 1 to 4.
func pictureLayout(_ tensor: Tensor) throws -> (Int, Int, Int) {
    switch tensor.rank {
    case 2 where tensor.shape[0] > 0 && tensor.shape[1] > 0:
        return (1, tensor.shape[0], tensor.shape[1])
    case 3 where (1...4).contains(tensor.shape[0]) && tensor.shape[1] > 0 && tensor.shape[2] > 0:
        return (tensor.shape[0], tensor.shape[1], tensor.shape[2])
    default:
        throw ImagingError("a picture must have shape [H, W] or [C, H, W] with C from 1 to 4 and nonzero size, got \(tensor.shape)")
    }
}

/// CHW floats in [0, 1] → interleaved 8-bit samples (clamped; NaN becomes 0).
func interleaved8Bit(_ tensor: Tensor, channels: Int, height: Int, width: Int) -> [UInt8] {
    let plane = height * width
    var pixels = [UInt8](repeating: 0, count: plane * channels)
    tensor.data.withUnsafeBufferPointer { data in
        for c in 0..<channels {
            for p in 0..<plane {
                pixels[p * channels + c] = quantize(data[c * plane + p])
            }
        }
    }
    return pixels
}

@inline(__always) func quantize(_ value: Float) -> UInt8 {
    guard value > 0 else { return 0 }  // also catches NaN
    return value >= 1 ? 255 : UInt8((value * 255).rounded())
}
