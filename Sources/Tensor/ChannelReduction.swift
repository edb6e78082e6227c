// Per-channel sums over the spatial axes of [N, C, spatial…] tensors, read in their own layout, and their backward.
import CDNNL

/// Sums over the axes after the first two of an [N, C, spatial…] tensor, one per (n, c): a global average
/// pool, a squeeze-and-excitation block's squeeze and the gradient of its per-channel scale. They read the
/// tensor where it is — row-major, or channels in oneDNN's blocks (nChw16c, or nChw8c on AVX2 machines) —
/// instead of reordering it first, and run vectorised on two threads.
///
/// Each sum adds its values in order of spatial position, starting from 0: the same bits as a sequential
/// row-major loop, whatever the layout, the split between threads or how many sums run side by side.
public enum ChannelReduction {
    /// How a tensor's buffer holds its (n, c) rows: `rows` of `length` contiguous floats (row-major), or
    /// `blocks` of `width` (16 or 8) channels × `length` positions, each position's channels contiguous.
    enum Arrangement {
        case rows(count: Int, length: Int)
        case blocks(count: Int, length: Int, width: Int)
    }

    /// How `shape` is stored in `layout`, or nil for a layout other than row-major or unpadded channel blocks of 16 or 8.
    static func arrangement(_ shape: [Int], _ layout: dnnl_memory_desc_t) -> Arrangement? {
        guard shape.count >= 2 else { return nil }
        let rows = shape[0] * shape[1], length = shape.dropFirst(2).reduce(1, *)
        if let plain = try? DNNLLayout.plain(shape), DNNLLayout.equal(plain, layout) { return .rows(count: rows, length: length) }
        for width in [16, 8] {
            if let blocked = try? DNNLLayout.channelBlocked(shape, block: width), DNNLLayout.equal(blocked, layout) {
                return .blocks(count: rows / width, length: length, width: width)
            }
        }
        return nil
    }

    /// The N·C sums of `x` over its axes after the first two, in (n, c) order; nil for a layout other
    /// than row-major or oneDNN's channel blocks.
    public static func sums(_ x: DNNLTensor) -> [Float]? {
        guard let arrangement = arrangement(x.shape, x.layout) else { return nil }
        return sums(arrangement, x.memory.pointer!.assumingMemoryBound(to: Float.self), nil)
    }

    /// The N·C sums of a·b over the axes after the first two, in (n, c) order: each product rounded to
    /// float, then added in order (the bits of multiplying first and summing after); nil unless both
    /// share a layout `sums` reads.
    public static func productSums(_ a: DNNLTensor, _ b: DNNLTensor) -> [Float]? {
        guard a.sharesLayout(with: b), let arrangement = arrangement(a.shape, a.layout) else { return nil }
        return sums(arrangement, a.memory.pointer!.assumingMemoryBound(to: Float.self), b.memory.pointer!.assumingMemoryBound(to: Float.self))
    }

    /// The sums of `rowCount` contiguous rows of a row-major buffer (the same loop as `sums` for a
    /// row-major tensor).
    public static func rowSums(_ x: UnsafeBufferPointer<Float>, rowCount: Int) -> [Float] {
        guard rowCount > 0 else { return [] }
        return sums(.rows(count: rowCount, length: x.count / rowCount), x.baseAddress!, nil)
    }

    /// A tensor of `layout`'s shape and layout whose every (n, c) row holds `values[n·C + c]`: the
    /// backward of a per-channel sum (or mean, with the values divided first); nil for a layout other
    /// than row-major or oneDNN's channel blocks.
    public static func spread(_ values: [Float], over layout: TensorLayout) throws -> DNNLTensor? {
        guard let arrangement = arrangement(layout.shape, layout.descriptor) else { return nil }
        guard values.count == layout.shape[0] * layout.shape[1] else {
            throw KernelError("spreading \(values.count) values over a tensor of shape \(layout.shape)")
        }
        let result = try DNNLTensor(shape: layout.shape, layout: layout.descriptor)
        let out = result.memory.pointer!.assumingMemoryBound(to: Float.self)
        values.withUnsafeBufferPointer { v in
            switch arrangement {
            case .rows(let count, let length):
                Parallel.rows(count, size: length) { rows in
                    for r in rows { (out + r * length).update(repeating: v[r], count: length) }
                }
            case .blocks(let count, let length, let width):
                Parallel.rows(count, size: length * width) { blocks in
                    if width == 16 { spreadBlocks(SIMD16<Float>.self, v.baseAddress!, out, blocks, length) }
                    else { spreadBlocks(SIMD8<Float>.self, v.baseAddress!, out, blocks, length) }
                }
            }
        }
        return result
    }

    private static func sums(_ arrangement: Arrangement, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?) -> [Float] {
        switch arrangement {
        case .rows(let count, let length):
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                let target = out.baseAddress!
                Parallel.rows(count, size: length) { rows in rowSums(a, b, rows: rows, length: length, into: target) }
                initialized = count
            }
        case .blocks(let count, let length, let width):
            return [Float](unsafeUninitializedCapacity: count * width) { out, initialized in
                let target = out.baseAddress!
                Parallel.rows(count, size: length * width) { blocks in
                    if width == 16 { blockSums(SIMD16<Float>.self, a, b, blocks, length, into: target) }
                    else { blockSums(SIMD8<Float>.self, a, b, blocks, length, into: target) }
                }
                initialized = count * width
            }
        }
    }

    /// The sums of `blocks` (of `V.scalarCount` channels × `length` positions each), one vector of
    /// channels at a time, each channel's values added in order of position.
    @inline(__always)
    private static func blockSums<V: SIMD>(_: V.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, _ blocks: Range<Int>, _ length: Int,
                                           into out: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        let width = V.scalarCount, stride = MemoryLayout<V>.stride
        for j in blocks {
            let x = UnsafeRawPointer(a + j * length * width), y = b.map { UnsafeRawPointer($0 + j * length * width) }
            var total = V()
            if let y {
                for s in 0..<length {
                    let product = x.load(fromByteOffset: s * stride, as: V.self) * y.load(fromByteOffset: s * stride, as: V.self)
                    total += product
                }
            } else {
                for s in 0..<length { total += x.load(fromByteOffset: s * stride, as: V.self) }
            }
            UnsafeMutableRawPointer(out + j * width).storeBytes(of: total, as: V.self)
        }
    }

    /// Writes `values[j·width + k]` over block j's channel k at every position, for j in `blocks`.
    @inline(__always)
    private static func spreadBlocks<V: SIMD>(_: V.Type, _ values: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ blocks: Range<Int>,
                                              _ length: Int) where V.Scalar == Float {
        let width = V.scalarCount, stride = MemoryLayout<V>.stride
        for j in blocks {
            let value = UnsafeRawPointer(values + j * width).loadUnaligned(as: V.self)
            let base = UnsafeMutableRawPointer(out + j * length * width)
            for s in 0..<length { base.storeBytes(of: value, toByteOffset: s * stride, as: V.self) }
        }
    }

    /// Row sums eight rows at a time: eight independent running sums instead of one chain of dependent
    /// additions, each still in order along its row.
    private static func rowSums(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, rows: Range<Int>, length: Int, into out: UnsafeMutablePointer<Float>) {
        @inline(__always) func eight(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
            SIMD8(p[i], p[i + length], p[i + 2 * length], p[i + 3 * length], p[i + 4 * length], p[i + 5 * length], p[i + 6 * length], p[i + 7 * length])
        }
        var r = rows.lowerBound
        while r + 8 <= rows.upperBound {
            var total = SIMD8<Float>(repeating: 0)
            let p = a + r * length
            if let q = b.map({ $0 + r * length }) {
                for i in 0..<length { let product = eight(p, i) * eight(q, i); total += product }
            } else {
                for i in 0..<length { total += eight(p, i) }
            }
            for k in 0..<8 { out[r + k] = total[k] }
            r += 8
        }
        while r < rows.upperBound {
            var total: Float = 0
            let p = a + r * length
            if let q = b.map({ $0 + r * length }) {
                for i in 0..<length { let product = p[i] * q[i]; total += product }
            } else {
                for i in 0..<length { total += p[i] }
            }
            out[r] = total
            r += 1
        }
    }
}
