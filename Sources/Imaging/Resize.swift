import Tensor

/// Resampling kernels for [C, H, W] pictures; `Transforms.resize` chooses between them.
public enum Resize {
    /// Bilinear resampling of a CxHxW tensor to CxheightXwidth (pixel centres aligned, as in most image libraries).
    public static func bilinear(_ tensor: Tensor, height: Int, width: Int) throws -> Tensor {
        guard tensor.rank == 3, tensor.count > 0 else {
            throw ImagingError("resizing needs a [C, H, W] tensor, got shape \(tensor.shape)")
        }
        guard height > 0, width > 0, height * width <= 1 << 26 else {
            throw ImagingError("cannot resize to \(height)x\(width)")
        }
        let (c, h, w) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
        if h == height && w == width { return tensor }
        func taps(_ out: Int, _ input: Int) -> [(Int, Int, Float)] {
            (0..<out).map { i in
                let x = Swift.max(0, Swift.min(Float(input - 1), (Float(i) + 0.5) * Float(input) / Float(out) - 0.5))
                let x0 = Int(x)
                return (x0, Swift.min(x0 + 1, input - 1), x - Float(x0))
            }
        }
        let ys = taps(height, h), xs = taps(width, w)
        var out = [Float](repeating: 0, count: c * height * width)
        for k in 0..<c {
            let plane = k * h * w
            for (oy, (y0, y1, fy)) in ys.enumerated() {
                for (ox, (x0, x1, fx)) in xs.enumerated() {
                    let top = tensor.data[plane + y0 * w + x0] * (1 - fx) + tensor.data[plane + y0 * w + x1] * fx
                    let bottom = tensor.data[plane + y1 * w + x0] * (1 - fx) + tensor.data[plane + y1 * w + x1] * fx
                    out[(k * height + oy) * width + ox] = top * (1 - fy) + bottom * fy
                }
            }
        }
        return Tensor(shape: [c, height, width], data: out)
    }
}
