import CPNG
import Tensor

/// PNG through libpng's simplified API. It reports failures through return values and `image.message`
/// instead of libpng's default longjmp error handling, which would be unsafe to unwind through Swift frames.
public enum PNG {
    /// Encodes 8-bit interleaved pixels (`channels`: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        guard (1...4).contains(channels) else { throw ImagingError("PNG needs 1 to 4 channels, got \(channels)") }
        guard width > 0, height > 0, width <= 1 << 24, height <= 1 << 24 else {
            throw ImagingError("PNG needs a positive size, got \(width)x\(height)")
        }
        guard pixels.count == width * height * channels else {
            throw ImagingError("expected \(width * height * channels) bytes of pixels, got \(pixels.count)")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = formatFlags(channels: channels)
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

    /// Decodes any PNG (1 to 16 bits, gray, RGB, palette, with or without alpha or transparency, interlaced or not)
    /// into a CxHxW tensor in [0, 1]; C is 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) as stored in the file.
    public static func decode(_ bytes: [UInt8]) throws -> Tensor {
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
        guard width > 0, height > 0, width * height <= 1 << 28 else {
            throw ImagingError("PNG is too large to read: \(width)x\(height)")
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
