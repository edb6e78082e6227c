import Tensor

/// Whether `reduced` is `full` with some trailing axes set to 1 and the others kept: each value of `reduced` then
/// stands for one contiguous block of `full` (a global pool's [N, C, 1, 1] in [N, C, H, W]).
func blocksOfTrailingAxes(_ full: [Int], _ reduced: [Int]) -> Bool {
    guard full.count == reduced.count else { return false }
    let kept = zip(reduced, full).prefix { $0 == $1 }.count
    return reduced[kept...].allSatisfy { $0 == 1 }
}

/// Whether `reduced` keeps the first two axes of `full` (rank ≥ 3) and has 1 on every other: a per-channel
/// value of an [N, C, spatial…] tensor (a global pool's result, an excitation's scale).
func keepsBatchAndChannels(_ full: [Int], _ reduced: [Int]) -> Bool {
    full.count >= 3 && reduced.count == full.count && reduced.prefix(2) == full.prefix(2) && reduced.dropFirst(2).allSatisfy { $0 == 1 }
}

extension Tensor {
    /// Sums a broadcast gradient back down to `shape`: the backward of broadcasting.
    func summed(to shape: [Int]) -> Tensor {
        if self.shape == shape { return self }
        let outShape = self.shape
        // Two common cases as tight loops, adding in the same order as the general walk (so bit for bit the
        // same): trailing axes summed away (a global average pool's [N, C, H, W] → [N, C, 1, 1]) and leading
        // ones (a bias gradient's [B, T, F] → [F]).
        let aligned = [Int](repeating: 1, count: Swift.max(outShape.count - shape.count, 0)) + shape
        if aligned.count == outShape.count, !outShape.contains(0) {
            if blocksOfTrailingAxes(outShape, aligned) {
                // Each row summed in order (ChannelReduction runs eight rows side by side, on two threads).
                return Tensor(shape: shape, data: data.withUnsafeBufferPointer { ChannelReduction.rowSums($0, rowCount: Tensor.elementCount(shape)) })
            }
        }
        var out = Tensor.zeros(shape)
        if aligned.count == outShape.count, !outShape.contains(0) {
            let dropped = aligned.prefix { $0 == 1 }.count
            if Array(aligned[dropped...]) == Array(outShape[dropped...]) {
                let width = out.count
                data.withUnsafeBufferPointer { source in
                    out.data.withUnsafeMutableBufferPointer { target in
                        for r in 0..<(count / Swift.max(width, 1)) { for f in 0..<width { target[f] += source[r * width + f] } }
                    }
                }
                return out
            }
        }
        // Strides of the target aligned right, 0 where it was broadcast.
        let strides = broadcastStrides(of: shape, into: outShape)
        data.withUnsafeBufferPointer { source in
            out.data.withUnsafeMutableBufferPointer { target in
                walk(outShape, strides: strides) { flat, offset in target[offset] += source[flat] }
            }
        }
        return out
    }

    /// Adds a same-shaped tensor into this one, in place (a gradient's accumulation: no new buffer when this
    /// tensor's storage is not shared).
    mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
        other.data.withUnsafeBufferPointer { b in
            data.withUnsafeMutableBufferPointer { a in
                for i in 0..<a.count { a[i] += b[i] }
            }
        }
    }

    /// Element-wise combination of same-shaped tensors (gradients), without the broadcasting machinery.
    func zipped(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "zipped: shapes \(shape) and \(other.shape) differ")
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for i in 0..<o.count { o[i] = f(a[i], b[i]) }
                }
            }
        }
        return Tensor(shape: shape, data: out)
    }
}

/// Visits every position of `shape` in row-major order with its flat index and its offset under
/// `strides` (an odometer over the outer axes, a tight loop along the last: no division per
/// element). Broadcasting uses stride 0, transposes permuted strides.
@inline(__always)
func walk(_ shape: [Int], strides: [Int], _ visit: (_ flat: Int, _ offset: Int) -> Void) {
    let count = shape.reduce(1, *)
    guard count > 0 else { return }
    guard let n = shape.last, let step = strides.last else { visit(0, 0); return }
    var index = [Int](repeating: 0, count: shape.count)
    var offset = 0, flat = 0
    while flat < count {
        for i in 0..<n { visit(flat + i, offset + i * step) }
        flat += n
        var axis = shape.count - 2
        while axis >= 0 {
            index[axis] += 1
            offset += strides[axis]
            if index[axis] < shape[axis] { break }
            offset -= strides[axis] * index[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

/// Broadcasting over integer arrays (shape arithmetic): each operand read through strides aligned right,
/// 0 on the axes it is broadcast along (integer offsets, exact at any size).
func broadcastIntegers(_ a: IntArray, _ b: IntArray, _ f: (Int64, Int64) -> Int64) throws -> IntArray {
    guard let shape = Tensor.broadcastShape(a.shape, b.shape) else {
        throw EngineError("integer shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    var offsets = [Int](repeating: 0, count: Tensor.elementCount(shape))
    walk(shape, strides: broadcastStrides(of: a.shape, into: shape)) { flat, offset in offsets[flat] = offset }
    var data = [Int64](repeating: 0, count: offsets.count)
    walk(shape, strides: broadcastStrides(of: b.shape, into: shape)) { flat, offset in data[flat] = f(a.data[offsets[flat]], b.data[offset]) }
    return IntArray(shape: shape, data: data)
}
