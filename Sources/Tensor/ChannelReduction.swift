// Per-channel sums over the spatial axes of [N, C, spatial…] tensors, read in their own layout, and their backward.
import CDNNL

/// Sums over the axes after the first two of an [N, C, spatial…] tensor, one per (n, c): a global average
/// pool, a squeeze-and-excitation block's squeeze and the gradient of its per-channel scale. They read the
/// tensor where it is — row-major, or channels in blocks of 16 (oneDNN's nChw16c) — instead of reordering
/// it first, and run vectorised on two threads.
///
/// Each sum adds its values in order of spatial position, starting from 0: the same bits as a sequential
/// row-major loop, whatever the layout, the split between threads or how many sums run side by side.
public enum ChannelReduction {
    /// How a tensor's buffer holds its (n, c) rows: `rows` of `length` contiguous floats (row-major), or
    /// `blocks` of 16 channels × `length` positions, each position's 16 channels contiguous.
    private enum Arrangement {
        case rows(count: Int, length: Int)
        case blocks(count: Int, length: Int)
    }

    private static func arrangement(_ shape: [Int], _ layout: dnnl_memory_desc_t) -> Arrangement? {
        guard shape.count >= 2 else { return nil }
        let rows = shape[0] * shape[1], length = shape.dropFirst(2).reduce(1, *)
        if let plain = try? DNNLLayout.plain(shape), DNNLLayout.equal(plain, layout) { return .rows(count: rows, length: length) }
        if let blocked = try? DNNLLayout.channelBlocked(shape), DNNLLayout.equal(blocked, layout) {
            return .blocks(count: rows / 16, length: length)
        }
        return nil
    }

    /// The N·C sums of `x` over its axes after the first two, in (n, c) order; nil for a layout other
    /// than row-major or channels in blocks of 16.
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
    /// than row-major or channels in blocks of 16.
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
                Parallel.split(count * length) { range in
                    for r in rowRange(range, length, count) { (out + r * length).update(repeating: v[r], count: length) }
                }
            case .blocks(let count, let length):
                Parallel.split(count * length * 16) { range in
                    for j in rowRange(range, length * 16, count) {
                        let value = UnsafeRawPointer(v.baseAddress! + j * 16).loadUnaligned(as: SIMD16<Float>.self)
                        let base = UnsafeMutableRawPointer(out + j * length * 16)
                        for s in 0..<length { base.storeBytes(of: value, toByteOffset: s * 64, as: SIMD16<Float>.self) }
                    }
                }
            }
        }
        return result
    }

    /// The rows (or blocks) of `size` floats each whose first element falls in `range`, a range of
    /// elements from `Parallel.split`.
    private static func rowRange(_ range: Range<Int>, _ size: Int, _ count: Int) -> Range<Int> {
        guard size > 0 else { return range.lowerBound == 0 ? 0..<count : 0..<0 }
        return min((range.lowerBound + size - 1) / size, count)..<min((range.upperBound + size - 1) / size, count)
    }

    private static func sums(_ arrangement: Arrangement, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?) -> [Float] {
        switch arrangement {
        case .rows(let count, let length):
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                let target = out.baseAddress!
                Parallel.split(count * length) { range in rowSums(a, b, rows: rowRange(range, length, count), length: length, into: target) }
                initialized = count
            }
        case .blocks(let count, let length):
            return [Float](unsafeUninitializedCapacity: count * 16) { out, initialized in
                let target = UnsafeMutableRawPointer(out.baseAddress!)
                Parallel.split(count * length * 16) { range in
                    for j in rowRange(range, length * 16, count) {
                        let x = UnsafeRawPointer(a + j * length * 16), y = b.map { UnsafeRawPointer($0 + j * length * 16) }
                        var total = SIMD16<Float>(repeating: 0)
                        if let y {
                            for s in 0..<length {
                                let product = x.load(fromByteOffset: s * 64, as: SIMD16<Float>.self) * y.load(fromByteOffset: s * 64, as: SIMD16<Float>.self)
                                total += product
                            }
                        } else {
                            for s in 0..<length { total += x.load(fromByteOffset: s * 64, as: SIMD16<Float>.self) }
                        }
                        target.storeBytes(of: total, toByteOffset: j * 64, as: SIMD16<Float>.self)
                    }
                }
                initialized = count * 16
            }
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
