import Tensor

/// Picture transforms. Pictures are CxHxW tensors; batches are NxCxHxW.
public enum Transforms {
    // MARK: Resizing

    /// The resampling filter of `resize`.
    public enum Filter: Sendable, Equatable {
        /// Bilinear interpolation (pixel centres aligned): right for enlarging, aliases when shrinking a lot.
        case bilinear
        /// Area averaging (a box filter over each output pixel's footprint): antialiased shrinking,
        /// as OpenCV's INTER_AREA or Pillow's `reduce`. Falls back to bilinear along an axis that grows.
        case area
    }

    /// Resizes a CxHxW picture or an NxCxHxW batch. `.area` (the default) when shrinking, bilinear when enlarging.
    public static func resize(_ tensor: Tensor, height: Int, width: Int, filter: Filter? = nil) throws -> Tensor {
        if tensor.rank == 4 {
            return try stack((0..<tensor.shape[0]).map { try resize(tensor.slice($0), height: height, width: width, filter: filter) })
        }
        guard tensor.rank == 3, tensor.count > 0 else {
            throw ImagingError("resizing needs a [C, H, W] picture or an [N, C, H, W] batch, got shape \(tensor.shape)")
        }
        let chosen = filter ?? (height <= tensor.shape[1] && width <= tensor.shape[2] ? .area : .bilinear)
        switch chosen {
        case .bilinear: return try Resize.bilinear(tensor, height: height, width: width)
        case .area: return try area(tensor, height: height, width: width)
        }
    }

    /// Box-filter resampling: each output pixel is the exact area-weighted mean of the input pixels it covers.
    /// Axes that grow are interpolated bilinearly instead.
    public static func area(_ tensor: Tensor, height: Int, width: Int) throws -> Tensor {
        guard tensor.rank == 3, tensor.count > 0 else { throw ImagingError("resizing needs a [C, H, W] tensor, got shape \(tensor.shape)") }
        guard height > 0, width > 0, height * width <= ImageLimits.maximumPixels else { throw ImagingError("cannot resize to \(height)x\(width)") }
        let (c, h, w) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
        // Weights per output index: (input index, weight) pairs summing to 1.
        func weights(_ out: Int, _ input: Int) -> [[(Int, Float)]] {
            if out > input {
                return (0..<out).map { i in
                    let x = Swift.max(0, Swift.min(Double(input - 1), (Double(i) + 0.5) * Double(input) / Double(out) - 0.5))
                    let x0 = Int(x), x1 = Swift.min(Int(x) + 1, input - 1)
                    let f = Float(x - Double(x0))
                    return x0 == x1 ? [(x0, Float(1))] : [(x0, 1 - f), (x1, f)]
                }
            }
            let scale = Double(input) / Double(out)
            return (0..<out).map { i in
                let start = Double(i) * scale, end = Double(i + 1) * scale
                var taps: [(Int, Float)] = []
                var j = Int(start)
                while Double(j) < end && j < input {
                    let overlap = Swift.min(end, Double(j + 1)) - Swift.max(start, Double(j))
                    if overlap > 1e-12 { taps.append((j, Float(overlap / scale))) }
                    j += 1
                }
                return taps
            }
        }
        let wy = weights(height, h), wx = weights(width, w)
        var rows = [Float](repeating: 0, count: c * h * width)  // horizontal pass
        var out = [Float](repeating: 0, count: c * height * width)
        tensor.data.withUnsafeBufferPointer { src in
            for k in 0..<c {
                for y in 0..<h {
                    let base = (k * h + y) * w
                    for (ox, taps) in wx.enumerated() {
                        var s: Float = 0
                        for (j, f) in taps { s += src[base + j] * f }
                        rows[(k * h + y) * width + ox] = s
                    }
                }
            }
        }
        for k in 0..<c {
            for (oy, taps) in wy.enumerated() {
                for ox in 0..<width {
                    var s: Float = 0
                    for (j, f) in taps { s += rows[(k * h + j) * width + ox] * f }
                    out[(k * height + oy) * width + ox] = s
                }
            }
        }
        return Tensor(shape: [c, height, width], data: out)
    }

    /// The centred height×width window of a picture or batch (the larger margin is at the bottom/right
    /// when the difference is odd, as torchvision's CenterCrop).
    public static func centerCrop(_ tensor: Tensor, height: Int, width: Int) throws -> Tensor {
        guard tensor.rank == 3 || tensor.rank == 4 else { throw ImagingError("cropping needs [C, H, W] or [N, C, H, W], got \(tensor.shape)") }
        let h = tensor.shape[tensor.rank - 2], w = tensor.shape[tensor.rank - 1]
        guard height > 0, width > 0, height <= h, width <= w else {
            throw ImagingError("cannot crop \(height)x\(width) out of \(h)x\(w)")
        }
        let top = Int((Double(h - height) / 2).rounded()), left = Int((Double(w - width) / 2).rounded())
        let planes = tensor.count / (h * w)
        var out = [Float](); out.reserveCapacity(planes * height * width)
        for p in 0..<planes {
            for y in 0..<height {
                let start = (p * h + top + y) * w + left
                out += tensor.data[start..<(start + width)]
            }
        }
        return Tensor(shape: Array(tensor.shape.dropLast(2)) + [height, width], data: out)
    }

    // MARK: Channels

    /// ITU-R BT.601 luma weights, as Pillow's convert("L").
    public static let lumaWeights: (Float, Float, Float) = (0.299, 0.587, 0.114)

    /// Drops the alpha channel of a gray+alpha (C = 2) or RGBA (C = 4) picture or batch.
    public static func droppingAlpha(_ tensor: Tensor) -> Tensor {
        guard tensor.rank >= 3 else { return tensor }
        let axis = tensor.rank - 3
        let c = tensor.shape[axis]
        guard c == 2 || c == 4 else { return tensor }
        return selectChannels(tensor, Array(0..<(c - 1)))
    }

    /// One gray channel: luma of RGB (alpha dropped); gray pictures are returned as they are.
    public static func toGray(_ tensor: Tensor) throws -> Tensor {
        let t = droppingAlpha(tensor)
        let (axis, c) = try channelAxis(t)
        if c == 1 { return t }
        guard c == 3 else { throw ImagingError("cannot turn \(c) channels into gray") }
        let plane = t.shape[(axis + 1)...].reduce(1, *)
        let outer = t.count / (3 * plane)
        var out = [Float](repeating: 0, count: outer * plane)
        let (wr, wg, wb) = lumaWeights
        for n in 0..<outer {
            let base = n * 3 * plane
            for p in 0..<plane {
                out[n * plane + p] = wr * t.data[base + p] + wg * t.data[base + plane + p] + wb * t.data[base + 2 * plane + p]
            }
        }
        var shape = t.shape; shape[axis] = 1
        return Tensor(shape: shape, data: out)
    }

    /// Three channels: gray is repeated, alpha dropped.
    public static func toRGB(_ tensor: Tensor) throws -> Tensor {
        let t = droppingAlpha(tensor)
        let (_, c) = try channelAxis(t)
        if c == 3 { return t }
        guard c == 1 else { throw ImagingError("cannot turn \(c) channels into RGB") }
        return selectChannels(t, [0, 0, 0])
    }

    private static func channelAxis(_ t: Tensor) throws -> (Int, Int) {
        guard t.rank == 3 || t.rank == 4 else { throw ImagingError("expected [C, H, W] or [N, C, H, W], got \(t.shape)") }
        return (t.rank - 3, t.shape[t.rank - 3])
    }

    static func selectChannels(_ t: Tensor, _ channels: [Int]) -> Tensor {
        let axis = t.rank - 3
        let c = t.shape[axis]
        let plane = t.shape[(axis + 1)...].reduce(1, *)
        let outer = t.count / (c * plane)
        var out = [Float](); out.reserveCapacity(outer * channels.count * plane)
        for n in 0..<outer {
            for k in channels { out += t.data[((n * c + k) * plane)..<((n * c + k + 1) * plane)] }
        }
        var shape = t.shape; shape[axis] = channels.count
        return Tensor(shape: shape, data: out)
    }

    // MARK: Layout

    /// [N, C, H, W] → [N, H, W, C] (also [C, H, W] → [H, W, C]).
    public static func toNHWC(_ t: Tensor) throws -> Tensor {
        guard t.rank == 3 || t.rank == 4 else { throw ImagingError("expected [C, H, W] or [N, C, H, W], got \(t.shape)") }
        let s = t.rank == 3 ? [1] + t.shape : t.shape
        let (n, c, h, w) = (s[0], s[1], s[2], s[3])
        var out = [Float](repeating: 0, count: t.count)
        for b in 0..<n { for k in 0..<c { for p in 0..<(h * w) { out[(b * h * w + p) * c + k] = t.data[(b * c + k) * h * w + p] } } }
        return Tensor(shape: t.rank == 3 ? [h, w, c] : [n, h, w, c], data: out)
    }

    /// [N, H, W, C] → [N, C, H, W] (also [H, W, C] → [C, H, W]).
    public static func toNCHW(_ t: Tensor) throws -> Tensor {
        guard t.rank == 3 || t.rank == 4 else { throw ImagingError("expected [H, W, C] or [N, H, W, C], got \(t.shape)") }
        let s = t.rank == 3 ? [1] + t.shape : t.shape
        let (n, h, w, c) = (s[0], s[1], s[2], s[3])
        var out = [Float](repeating: 0, count: t.count)
        for b in 0..<n { for k in 0..<c { for p in 0..<(h * w) { out[(b * c + k) * h * w + p] = t.data[(b * h * w + p) * c + k] } } }
        return Tensor(shape: t.rank == 3 ? [c, h, w] : [n, c, h, w], data: out)
    }

    // MARK: Batches

    /// Stacks same-shaped tensors along a new first axis.
    public static func stack(_ tensors: [Tensor]) throws -> Tensor {
        guard let first = tensors.first else { throw ImagingError("cannot stack an empty list") }
        if let odd = tensors.firstIndex(where: { $0.shape != first.shape }) {
            throw ImagingError("cannot stack: item \(odd) has shape \(tensors[odd].shape), item 0 has \(first.shape)")
        }
        var data = [Float](); data.reserveCapacity(first.count * tensors.count)
        for t in tensors { data += t.data }
        return Tensor(shape: [tensors.count] + first.shape, data: data)
    }

    /// Items `range` of a batch (along the first axis).
    public static func slice(_ batch: Tensor, _ range: Range<Int>) throws -> Tensor {
        guard batch.rank >= 1, range.lowerBound >= 0, range.upperBound <= batch.shape[0] else {
            throw ImagingError("cannot take items \(range.lowerBound)..<\(range.upperBound) of shape \(batch.shape)")
        }
        let n = batch.shape.dropFirst().reduce(1, *)
        return Tensor(shape: [range.count] + batch.shape.dropFirst(), data: Array(batch.data[(range.lowerBound * n)..<(range.upperBound * n)]))
    }

    /// Concatenates batches along the first axis.
    public static func concat(_ batches: [Tensor]) throws -> Tensor {
        guard let first = batches.first, first.rank >= 1 else { throw ImagingError("cannot concatenate an empty list") }
        let rest = Array(first.shape.dropFirst())
        if let odd = batches.firstIndex(where: { $0.rank < 1 || Array($0.shape.dropFirst()) != rest }) {
            throw ImagingError("cannot concatenate: item \(odd) has shape \(batches[odd].shape), item 0 has \(first.shape)")
        }
        var data = [Float](); data.reserveCapacity(batches.reduce(0) { $0 + $1.count })
        for b in batches { data += b.data }
        return Tensor(shape: [batches.reduce(0) { $0 + $1.shape[0] }] + rest, data: data)
    }
}

/// Per-channel normalisation x ↦ (x − mean) / std, e.g. ImageNet's.
public struct Normalization: Sendable, Equatable, CustomStringConvertible {
    /// Per-channel means (one value applies to every channel).
    public var mean: [Float]
    /// Per-channel standard deviations (one value applies to every channel).
    public var std: [Float]

    /// ImageNet's RGB statistics, which torchvision and timm models expect.
    public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// A normalisation by `mean` and `std`, per channel or one value for all.
    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// "Normalization(mean: …, std: …)".
    public var description: String { "Normalization(mean: \(mean), std: \(std))" }

    /// Normalises a [C, H, W] picture or [N, C, H, W] batch. One mean/std value applies to every channel.
    public func apply(_ t: Tensor) throws -> Tensor { try transform(t) { ($0 - $1) / $2 } }

    /// Undoes `apply`.
    public func invert(_ t: Tensor) throws -> Tensor { try transform(t) { $0 * $2 + $1 } }

    private func transform(_ t: Tensor, _ f: (Float, Float, Float) -> Float) throws -> Tensor {
        guard t.rank == 3 || t.rank == 4 else { throw ImagingError("normalisation needs [C, H, W] or [N, C, H, W], got \(t.shape)") }
        guard mean.count == std.count, !mean.isEmpty else { throw ImagingError("\(self): mean and std need the same, nonzero length") }
        if let zero = std.firstIndex(where: { $0 == 0 || !$0.isFinite }) { throw ImagingError("\(self): std[\(zero)] must be finite and nonzero") }
        let c = t.shape[t.rank - 3]
        guard mean.count == c || mean.count == 1 else {
            throw ImagingError("\(self) has \(mean.count) channels but the tensor has \(c) (shape \(t.shape))")
        }
        let plane = t.shape[t.rank - 2] * t.shape[t.rank - 1]
        var out = t.data
        for i in 0..<out.count {
            let k = mean.count == 1 ? 0 : (i / plane) % c
            out[i] = f(out[i], mean[k], std[k])
        }
        return Tensor(shape: t.shape, data: out)
    }
}
