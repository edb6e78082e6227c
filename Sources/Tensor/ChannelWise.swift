// Per-channel affine maps (an inference BatchNormalization, with its ReLU) and joins along the channel axis, on [N, C, spatial…] tensors in their own layout.
import CDNNL

/// Work on [N, C, spatial…] tensors that goes channel by channel, done where the tensor is — row-major,
/// or channels in oneDNN's blocks (nChw16c, or nChw8c on AVX2 machines) — so that a network whose
/// convolutions write blocked activations (DenseNet: BatchNormalization, ReLU and Concat between its
/// convolutions) never reorders them to row-major and back. Every function returns nil for a layout
/// it does not read (padded blocks, other blockings, parts in different layouts); callers then take
/// the row-major path. Loops are vectorised and split over two threads; each element's arithmetic is
/// the row-major loop's (x·a + b, then max(·, 0)), so results are the same bits in every layout.
public enum ChannelWise {
    /// max(0, x·scale[c] + shift[c]) (without `relu`: x·scale[c] + shift[c]) for every element of channel c,
    /// in a new tensor of x's layout.
    public static func affine(_ x: DNNLTensor, scale: [Float], shift: [Float], relu: Bool) throws -> DNNLTensor? {
        guard let arrangement = ChannelReduction.arrangement(x.shape, x.layout) else { return nil }
        try checkChannels(x.shape, scale.count, shift.count)
        let y = try DNNLTensor(shape: x.shape, layout: x.layout)
        let source = UnsafePointer(x.memory.pointer!.assumingMemoryBound(to: Float.self))
        let target = y.memory.pointer!.assumingMemoryBound(to: Float.self)
        run(arrangement, channels: x.shape[1], scale, shift,
            rows: { count, a, b, offset in
                for i in 0..<count { let v = source[offset + i] * a + b; target[offset + i] = relu ? max(v, 0) : v }
            },
            blocks: { width, count, offset, a, b in
                if width == 16 {
                    blockLoop(SIMD16<Float>.self, source, nil, target, offset, count, a, b) { v, _ in relu ? v.replacing(with: 0, where: v .< 0) : v }
                } else {
                    blockLoop(SIMD8<Float>.self, source, nil, target, offset, count, a, b) { v, _ in relu ? v.replacing(with: 0, where: v .< 0) : v }
                }
            })
        return y
    }

    /// The gradient of `affine` with respect to x: dy·scale[c], zero where `output` (the affine's result,
    /// given when it had a ReLU) is not positive; in a new tensor of dy's layout. Nil unless dy and
    /// `output` share a layout this reads.
    public static func affineGradient(_ dy: DNNLTensor, scale: [Float], output: DNNLTensor?) throws -> DNNLTensor? {
        guard let arrangement = ChannelReduction.arrangement(dy.shape, dy.layout), output.map({ $0.sharesLayout(with: dy) }) ?? true else { return nil }
        try checkChannels(dy.shape, scale.count, scale.count)
        let dx = try DNNLTensor(shape: dy.shape, layout: dy.layout)
        let source = UnsafePointer(dy.memory.pointer!.assumingMemoryBound(to: Float.self))
        let mask = output.map { UnsafePointer($0.memory.pointer!.assumingMemoryBound(to: Float.self)) }
        let target = dx.memory.pointer!.assumingMemoryBound(to: Float.self)
        run(arrangement, channels: dy.shape[1], scale, nil,
            rows: { count, a, _, offset in
                if let mask {
                    for i in 0..<count { target[offset + i] = mask[offset + i] > 0 ? source[offset + i] * a : 0 }
                } else {
                    for i in 0..<count { target[offset + i] = source[offset + i] * a }
                }
            },
            blocks: { width, count, offset, a, _ in
                if width == 16 {
                    blockLoop(SIMD16<Float>.self, source, mask, target, offset, count, a, nil) { v, m in m.map { v.replacing(with: 0, where: .!($0 .> 0)) } ?? v }
                } else {
                    blockLoop(SIMD8<Float>.self, source, mask, target, offset, count, a, nil) { v, m in m.map { v.replacing(with: 0, where: .!($0 .> 0)) } ?? v }
                }
            })
        return dx
    }

    /// The parts joined along the channel axis (axis 1), in a new tensor of their layout: row-major, or
    /// channel blocks when every part's channels fill whole blocks. Nil unless all parts share one such
    /// arrangement and agree off axis 1.
    public static func concatenated(_ parts: [DNNLTensor]) throws -> DNNLTensor? {
        guard let first = parts.first, let (layout, offsets) = try joined(parts.map(\.shape), parts.map(\.layout)) else { return nil }
        var shape = first.shape
        shape[1] = offsets.last!
        let y = try DNNLTensor(shape: shape, layout: layout)
        let whole = y.memory.pointer!.assumingMemoryBound(to: Float.self)
        for (i, part) in parts.enumerated() {
            copy(part: part.memory.pointer!.assumingMemoryBound(to: Float.self), shape: part.shape, whole: whole, wholeChannels: shape[1], offset: offsets[i], intoWhole: true)
        }
        return y
    }

    /// `x` cut along the channel axis into parts of `channels` channels each (the gradient of a Concat),
    /// each a new tensor in x's arrangement. Nil when x's layout is not one `concatenated` writes or a
    /// part's channels would not fill whole blocks.
    public static func split(_ x: DNNLTensor, channels: [Int]) throws -> [DNNLTensor]? {
        guard x.shape.count >= 2, channels.reduce(0, +) == x.shape[1] else { return nil }
        guard let width = blockWidth(x.shape, x.layout) else { return nil }
        var start = 0
        var parts: [DNNLTensor] = []
        for c in channels {
            var shape = x.shape
            shape[1] = c
            guard let layout = try layout(shape, width: width) else { return nil }
            let part = try DNNLTensor(shape: shape, layout: layout)
            copy(part: part.memory.pointer!.assumingMemoryBound(to: Float.self), shape: shape, whole: x.memory.pointer!.assumingMemoryBound(to: Float.self),
                 wholeChannels: x.shape[1], offset: start, intoWhole: false)
            parts.append(part)
            start += c
        }
        return parts
    }

    // MARK: - Helpers

    private static func checkChannels(_ shape: [Int], _ scales: Int, _ shifts: Int) throws {
        guard shape.count >= 2, shape[1] == scales, shifts == scales else {
            throw KernelError("a per-channel map of \(scales) scales and \(shifts) shifts on a tensor of shape \(shape)")
        }
    }

    /// 1 for a row-major layout, the block's width for channel blocks, nil otherwise.
    private static func blockWidth(_ shape: [Int], _ layout: dnnl_memory_desc_t) -> Int? {
        switch ChannelReduction.arrangement(shape, layout) {
        case .rows?: return 1
        case .blocks(_, _, let width)?: return width
        case nil: return nil
        }
    }

    /// Row-major (width 1) or channel blocks of `width`; nil where the channels do not fill whole blocks.
    private static func layout(_ shape: [Int], width: Int) throws -> dnnl_memory_desc_t? {
        try width == 1 ? DNNLLayout.plain(shape) : DNNLLayout.channelBlocked(shape, block: width)
    }

    /// The layout of the parts' join along axis 1 and each part's first channel in it (then the total),
    /// or nil when the parts differ in arrangement or off axis 1.
    private static func joined(_ shapes: [[Int]], _ layouts: [dnnl_memory_desc_t]) throws -> (dnnl_memory_desc_t, [Int])? {
        guard let first = shapes.first, first.count >= 2 else { return nil }
        let widths = zip(shapes, layouts).map { blockWidth($0, $1) }
        guard let width = widths[0], widths.allSatisfy({ $0 == width }),
              shapes.allSatisfy({ $0.count == first.count && $0[0] == first[0] && $0.dropFirst(2) == first.dropFirst(2) }) else { return nil }
        var offsets = [0]
        for s in shapes { offsets.append(offsets.last! + s[1]) }
        var shape = first
        shape[1] = offsets.last!
        guard let layout = try layout(shape, width: width) else { return nil }
        return (layout, offsets)
    }

    /// Copies a part of `shape` between its own buffer and channels offset..<offset + shape[1] of a tensor of
    /// `wholeChannels` channels in the same arrangement. In both layouts a sample's channels c..<c + k
    /// (c and k whole blocks) are k·positions contiguous floats, so each sample's part is one run.
    private static func copy(part: UnsafeMutablePointer<Float>, shape: [Int], whole: UnsafeMutablePointer<Float>, wholeChannels: Int, offset: Int, intoWhole: Bool) {
        let positions = shape.dropFirst(2).reduce(1, *)
        let run = shape[1] * positions, count = shape[0] * run
        Parallel.split(count) { range in
            var e = range.lowerBound
            while e < range.upperBound {
                let (n, within) = e.quotientAndRemainder(dividingBy: max(run, 1))
                let length = min(run - within, range.upperBound - e)
                let w = whole + n * wholeChannels * positions + offset * positions + within
                if intoWhole { w.update(from: part + e, count: length) } else { (part + e).update(from: w, count: length) }
                e += length
            }
        }
    }

    /// Runs the per-channel loop over `arrangement`: `rows(count, a, b, offset)` for each row-major (n, c)
    /// row, `blocks(width, positions, offset, a, b)` for each block of channels (a and b pointing at the
    /// block's `width` scales and shifts), split over two threads. Without shifts, b is 0 or nil.
    private static func run(_ arrangement: ChannelReduction.Arrangement, channels: Int, _ scale: [Float], _ shift: [Float]?,
                            rows: (Int, Float, Float, Int) -> Void,
                            blocks: (Int, Int, Int, UnsafePointer<Float>, UnsafePointer<Float>?) -> Void) {
        scale.withUnsafeBufferPointer { a in
            (shift ?? []).withUnsafeBufferPointer { b in
                let shifts = shift == nil ? nil : b.baseAddress
                switch arrangement {
                case .rows(let count, let length):
                    Parallel.rows(count, size: length) { range in
                        for r in range { let c = r % channels; rows(length, a[c], shifts?[c] ?? 0, r * length) }
                    }
                case .blocks(let count, let length, let width):
                    let perSample = channels / width
                    Parallel.rows(count, size: length * width) { range in
                        for j in range {
                            let c = (j % perSample) * width
                            blocks(width, length, j * length * width, a.baseAddress! + c, shifts.map { $0 + c })
                        }
                    }
                }
            }
        }
    }

    /// One block of `V.scalarCount` channels × `positions`: out = finish(x·a + b, mask), vector by vector
    /// (b nil: x·a).
    @inline(__always)
    private static func blockLoop<V: SIMD>(_: V.Type, _ x: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>,
                                           _ offset: Int, _ positions: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?,
                                           _ finish: (V, V?) -> V) where V.Scalar == Float {
        let stride = MemoryLayout<V>.stride
        let scale = UnsafeRawPointer(a).loadUnaligned(as: V.self)
        let shift = b.map { UnsafeRawPointer($0).loadUnaligned(as: V.self) }
        let source = UnsafeRawPointer(x + offset), target = UnsafeMutableRawPointer(out + offset)
        let m = mask.map { UnsafeRawPointer($0 + offset) }
        for s in 0..<positions {
            let v = source.load(fromByteOffset: s * stride, as: V.self)
            let affine = shift.map { v * scale + $0 } ?? v * scale
            target.storeBytes(of: finish(affine, m.map { $0.load(fromByteOffset: s * stride, as: V.self) }), toByteOffset: s * stride, as: V.self)
        }
    }
}
