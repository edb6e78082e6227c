import CJPEG
import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// JPEG decoding through libjpeg(-turbo)'s classic API.
///
/// libjpeg reports fatal errors by calling `error_exit`, which must not return into the library. The usual C answer
/// is `setjmp`/`longjmp`, which Swift cannot use. Instead each decode runs on its own short-lived POSIX thread whose
/// frames hold no Swift references (only raw pointers owned by the caller); `error_exit` records the message and
/// ends that thread with `pthread_exit`, so libjpeg's half-finished state is simply abandoned. The calling thread
/// then joins, destroys the decompressor (freeing all of libjpeg's memory, as after a longjmp) and throws.
/// Warnings (corrupt entropy data, premature end of data) are counted, never printed; libjpeg fills missing data
/// with grey, as other decoders do.
public enum JPEG {
    /// Whether `bytes` start like a JPEG file (SOI marker).
    public static func isJPEG(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
    }

    /// Decodes a baseline or progressive JPEG (gray, YCbCr/RGB, CMYK/YCCK) into a CxHxW tensor in [0, 1]
    /// with C = 1 (gray) or 3 (colour; CMYK is converted to RGB). The EXIF orientation tag, when present,
    /// is applied so the picture comes out upright. Files with more than `maximumPixels` pixels are refused
    /// before any pixel memory is allocated.
    public static func decode(_ bytes: [UInt8], applyOrientation: Bool = true,
                              maximumPixels: Int = ImageLimits.maximumPixels) throws -> Tensor {
        guard !bytes.isEmpty else { throw ImagingError("not a JPEG file: it is empty") }
        guard isJPEG(bytes) else { throw ImagingError("not a JPEG file (no SOI marker at the start)") }
        let raw = try decodeRaw(bytes, maximumPixels: maximumPixels)
        let orientation = applyOrientation ? exifOrientation(bytes) : 1
        return orient(raw, orientation: orientation)
    }

    // MARK: Decoding thread

    private struct Job {
        var cinfo = jpeg_decompress_struct()
        var err = jpeg_error_mgr()
        var input: UnsafePointer<UInt8>? = nil
        var inputCount = 0
        var maximumPixels = 0
        var failed = false
        var messageBuffer: UnsafeMutablePointer<CChar>? = nil
        var output: UnsafeMutablePointer<UInt8>? = nil
        var width = 0, height = 0, components = 0
        var inverted = false  // Adobe CMYK stores inverted samples
        var warnings = 0
    }

    private static func decodeRaw(_ bytes: [UInt8], maximumPixels: Int) throws -> Tensor {
        let job = UnsafeMutablePointer<Job>.allocate(capacity: 1)
        job.initialize(to: Job())
        let messageBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(JMSG_LENGTH_MAX) + 1)
        messageBuffer.initialize(repeating: 0, count: Int(JMSG_LENGTH_MAX) + 1)
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        _ = UnsafeMutableBufferPointer(start: input, count: bytes.count).initialize(from: bytes)
        defer {
            jpeg_destroy_decompress(cinfoPointer(job))
            free(job.pointee.output)
            job.deinitialize(count: 1)
            job.deallocate()
            messageBuffer.deallocate()
            input.deallocate()
        }
        job.pointee.input = UnsafePointer(input)
        job.pointee.inputCount = bytes.count
        job.pointee.maximumPixels = maximumPixels
        job.pointee.messageBuffer = messageBuffer

        let created = runDecodingThread(job)
        guard created == 0 else { throw ImagingError("cannot start a JPEG decoding thread (error \(created))") }

        if job.pointee.failed {
            let text = String(cString: messageBuffer)
            throw ImagingError("cannot read JPEG: \(text.isEmpty ? "unknown libjpeg error" : text)")
        }
        guard let output = job.pointee.output else { throw ImagingError("cannot read JPEG: no pixels decoded") }
        let (w, h, k) = (job.pointee.width, job.pointee.height, job.pointee.components)
        let plane = w * h
        if k == 4 {
            // CMYK → RGB (multiplicative, as Pillow and most viewers do). Adobe files store inverted samples.
            let inverted = job.pointee.inverted
            var data = [Float](repeating: 0, count: 3 * plane)
            for p in 0..<plane {
                var s = (0..<4).map { Float(output[p * 4 + $0]) / 255 }
                if !inverted { s = s.map { 1 - $0 } }  // now s = 1 − ink
                for c in 0..<3 { data[c * plane + p] = s[c] * s[3] }
            }
            return Tensor(shape: [3, h, w], data: data)
        }
        var data = [Float](repeating: 0, count: k * plane)
        data.withUnsafeMutableBufferPointer { out in
            for p in 0..<plane {
                for c in 0..<k { out[c * plane + p] = Float(output[p * k + c]) * (1 / 255) }
            }
        }
        return Tensor(shape: [k, h, w], data: data)
    }

    private static func runDecodingThread(_ job: UnsafeMutablePointer<Job>) -> Int32 {
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 2 << 20)
        let created = pthread_create(&thread, &attributes, jpegThreadEntry, UnsafeMutableRawPointer(job))
        pthread_attr_destroy(&attributes)
        if created == 0 { pthread_join(thread, nil) }
        return created
    }

    fileprivate static func threadMain(_ argument: UnsafeMutableRawPointer) {
        decodeOnThread(argument.assumingMemoryBound(to: Job.self))
    }

    /// Runs on the decoding thread. Uses only raw pointers so that leaving through `pthread_exit` leaks nothing.
    private static func decodeOnThread(_ job: UnsafeMutablePointer<Job>) {
        let cinfo = cinfoPointer(job)
        let errorManager = (UnsafeMutableRawPointer(job) + MemoryLayout<Job>.offset(of: \Job.err)!)
            .assumingMemoryBound(to: jpeg_error_mgr.self)
        cinfo.pointee.err = jpeg_std_error(errorManager)
        errorManager.pointee.error_exit = { common in
            guard let common, let job = common.pointee.client_data?.assumingMemoryBound(to: Job.self) else {
                pthread_exit(nil)
            }
            job.pointee.failed = true
            if let format = common.pointee.err.pointee.format_message, let buffer = job.pointee.messageBuffer {
                format(common, buffer)
            }
            pthread_exit(nil)
        }
        errorManager.pointee.emit_message = { common, level in
            guard let common, level < 0, let job = common.pointee.client_data?.assumingMemoryBound(to: Job.self) else { return }
            job.pointee.warnings += 1
            common.pointee.err.pointee.num_warnings += 1
        }
        errorManager.pointee.output_message = { _ in }
        jpeg_CreateDecompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
        cinfo.pointee.client_data = UnsafeMutableRawPointer(job)
        jpeg_mem_src(cinfo, job.pointee.input, UInt(job.pointee.inputCount))
        _ = jpeg_read_header(cinfo, 1)

        let width = Int(cinfo.pointee.image_width), height = Int(cinfo.pointee.image_height)
        guard width > 0, height > 0, width * height <= job.pointee.maximumPixels else {
            fail(job, "JPEG is too large to read: \(width)x\(height) (at most \(job.pointee.maximumPixels) pixels)")
            return
        }
        switch cinfo.pointee.jpeg_color_space {
        case JCS_GRAYSCALE: cinfo.pointee.out_color_space = JCS_GRAYSCALE
        case JCS_CMYK, JCS_YCCK: cinfo.pointee.out_color_space = JCS_CMYK
        default: cinfo.pointee.out_color_space = JCS_RGB
        }
        job.pointee.inverted = cinfo.pointee.saw_Adobe_marker != 0
        cinfo.pointee.dct_method = JDCT_ISLOW
        guard jpeg_start_decompress(cinfo) != 0 else { fail(job, "JPEG decompression did not start"); return }
        let w = Int(cinfo.pointee.output_width), h = Int(cinfo.pointee.output_height)
        let k = Int(cinfo.pointee.output_components)
        guard [1, 3, 4].contains(k), w * h <= job.pointee.maximumPixels else {
            fail(job, "unsupported JPEG layout: \(k) components, \(w)x\(h)")
            return
        }
        guard let output = malloc(w * h * k)?.assumingMemoryBound(to: UInt8.self) else {
            fail(job, "out of memory for a \(w)x\(h) JPEG")
            return
        }
        job.pointee.output = output
        job.pointee.width = w; job.pointee.height = h; job.pointee.components = k
        while cinfo.pointee.output_scanline < cinfo.pointee.output_height {
            var row: JSAMPROW? = output + Int(cinfo.pointee.output_scanline) * w * k
            if jpeg_read_scanlines(cinfo, &row, 1) != 1 { break }
        }
        _ = jpeg_finish_decompress(cinfo)
    }

    private static func cinfoPointer(_ job: UnsafeMutablePointer<Job>) -> UnsafeMutablePointer<jpeg_decompress_struct> {
        (UnsafeMutableRawPointer(job) + MemoryLayout<Job>.offset(of: \Job.cinfo)!).assumingMemoryBound(to: jpeg_decompress_struct.self)
    }

    private static func fail(_ job: UnsafeMutablePointer<Job>, _ text: String) {
        job.pointee.failed = true
        guard let buffer = job.pointee.messageBuffer else { return }
        let utf8 = Array(text.utf8.prefix(Int(JMSG_LENGTH_MAX) - 1))
        for (i, b) in utf8.enumerated() { buffer[i] = CChar(bitPattern: b) }
        buffer[utf8.count] = 0
    }

    // MARK: EXIF orientation

    /// The EXIF orientation (1 to 8) stored in the first APP1 "Exif" segment, or 1 when there is none or it is unreadable.
    public static func exifOrientation(_ bytes: [UInt8]) -> Int {
        var i = 2
        while i + 4 <= bytes.count {
            guard bytes[i] == 0xFF else { return 1 }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }                 // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return 1 }      // start of scan / end of image: no EXIF before it
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 2, i + 2 + length <= bytes.count else { return 1 }
            if marker == 0xE1 {
                let start = i + 4, end = i + 2 + length
                if end - start >= 6 && Array(bytes[start..<(start + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                    return orientation(inTIFF: Array(bytes[(start + 6)..<end])) ?? 1
                }
            }
            i += 2 + length
        }
        return 1
    }

    static func orientation(inTIFF tiff: [UInt8]) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for entry in 0..<count {
            let at = ifd + 2 + entry * 12
            guard let tag = u16(at), let type = u16(at + 2) else { return nil }
            if tag == 0x0112 {
                guard type == 3, let value = u16(at + 8), (1...8).contains(value) else { return nil }
                return value
            }
        }
        return nil
    }

    /// Applies an EXIF orientation to a CxHxW tensor so that it displays upright.
    public static func orient(_ tensor: Tensor, orientation: Int) -> Tensor {
        guard (2...8).contains(orientation), tensor.rank == 3 else { return tensor }
        let (c, h, w) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
        let swaps = orientation >= 5
        let (oh, ow) = swaps ? (w, h) : (h, w)
        var out = [Float](repeating: 0, count: c * oh * ow)
        // For each output pixel (x, y), the stored pixel it comes from.
        func source(_ x: Int, _ y: Int) -> (Int, Int) {
            switch orientation {
            case 2: return (w - 1 - x, y)           // mirrored horizontally
            case 3: return (w - 1 - x, h - 1 - y)   // rotated 180°
            case 4: return (x, h - 1 - y)           // mirrored vertically
            case 5: return (y, x)                   // transposed
            case 6: return (y, h - 1 - x)           // stored rotated 90° counter-clockwise: turn clockwise
            case 7: return (w - 1 - y, h - 1 - x)   // transverse
            default: return (w - 1 - y, x)          // 8: turn counter-clockwise
            }
        }
        tensor.data.withUnsafeBufferPointer { data in
            for y in 0..<oh {
                for x in 0..<ow {
                    let (sx, sy) = source(x, y)
                    for k in 0..<c { out[(k * oh + y) * ow + x] = data[(k * h + sy) * w + sx] }
                }
            }
        }
        return Tensor(shape: [c, oh, ow], data: out)
    }
}

private func jpegThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    if let argument { JPEG.threadMain(argument) }
    return nil
}

/// Limits shared by the decoders.
public enum ImageLimits {
    /// Pictures with more pixels are refused before their pixels are allocated (64 Mpx: a 3-channel Float tensor
    /// of that size already takes 768 MB).
    public static let maximumPixels = 1 << 26
}
