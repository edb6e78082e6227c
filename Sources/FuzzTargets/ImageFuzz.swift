/// The picture targets: PNG, JPEG and NPY decoding.
import Imaging
import Tensor

enum ImageFuzz {
    /// Pixels a fuzzed picture may claim (the decoders refuse more before allocating).
    static let maximumPixels = 1 << 20

    static let png = FuzzTarget("png", "PNG bytes through PNG.decode (libpng)") { bytes in
        if let tensor = try? PNG.decode(bytes, maximumPixels: maximumPixels) { check("png", tensor) }
    }

    static let jpeg = FuzzTarget("jpeg", "JPEG bytes through JPEG.decode (libjpeg, EXIF orientation)") { bytes in
        if let tensor = try? JPEG.decode(bytes, maximumPixels: maximumPixels) { check("jpeg", tensor) }
        _ = JPEG.exifOrientation(bytes)
    }

    static let npy = FuzzTarget("npy", "NPY bytes through NPY.decode, and the result encoded and decoded again") { bytes in
        guard let tensor = try? NPY.decode(bytes) else { return }
        guard let again = try? NPY.decode(NPY.encode(tensor)) else { FuzzTargets.violated("npy", "re-encoded array does not decode") }
        guard again.shape == tensor.shape, again.data.elementsEqual(tensor.data, by: { $0 == $1 || ($0.isNaN && $1.isNaN) }) else {
            FuzzTargets.violated("npy", "re-encoded array differs")
        }
    }

    /// A decoded picture is [C, H, W] or [H, W, …] with values in [0, 1].
    static func check(_ name: String, _ tensor: Tensor) {
        guard tensor.count == Tensor.elementCount(tensor.shape), tensor.data.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
            FuzzTargets.violated(name, "decoded pixels outside [0, 1] or a shape that does not match the data")
        }
    }
}
