// A ReLU's backward from one byte per element: where its output was positive.
import CDNNL

/// Where a ReLU's output was positive, one byte per element of the output's buffer and in the output's
/// layout: all the backward pass needs (dx = dy where y > 0), in a quarter of the output's memory, so
/// the output itself can go once the forward is past its readers. DenseNet's ReLU after each
/// concatenation's BatchNorm otherwise keeps a float copy of every concatenation for the backward.
/// Element-wise work does not care about layout: a blocked buffer is read flat (its padding holds
/// zeros, so the mask and the gradient's padding are zero). Both passes run on two threads; every
/// element is computed the same way whatever the split, so results are bit-identical between runs
/// and thread counts.
public final class ReLUMask {
    /// The latest output's logical shape (nil before the first).
    public private(set) var shape: [Int]?
    /// The latest output's layout when it was laid out (nil: row-major), and what brings a gradient in
    /// another layout into it (kept while the layout stays, so its reorders are made once).
    private var laidOut: LayoutConformer?
    private var positive: [UInt8] = []

    /// An empty mask: `record` a forward's output first.
    public init() {}

    /// Keeps where `y`, a ReLU's output in whichever layout, is positive (replacing the previous output's mask).
    public func record(_ y: KernelInput) throws {
        switch y {
        case .plain(let t):
            laidOut = nil
            positive = t.data.withUnsafeBufferPointer { Self.mask($0) }
        case .laidOut(let t):
            if laidOut.map({ $0.shape != t.shape || !DNNLLayout.equal($0.layout, t.layout) }) ?? true {
                laidOut = LayoutConformer(shape: t.shape, layout: t.layout)
            }
            positive = Self.mask(UnsafeBufferPointer(start: t.memory.pointer!.assumingMemoryBound(to: Float.self),
                                                     count: t.memory.byteCount / MemoryLayout<Float>.stride))
        }
        shape = y.shape
    }

    /// ∂L/∂x from ∂L/∂y: dy where the latest output was positive, else 0; laid out as that output was
    /// (dy in another layout is reordered into the result's buffer first, then masked in place),
    /// row-major if it was row-major.
    public func gradient(_ dy: KernelInput) throws -> KernelInput {
        guard let shape, dy.shape == shape else { throw KernelError("a ReLU's gradient of shape \(dy.shape) for an output of shape \(self.shape ?? [])") }
        guard let laidOut else {
            let g: Tensor
            switch dy { case .plain(let t): g = t; case .laidOut(let t): g = t.plain() }
            return .plain(try filledTensor(shape) { out in
                g.data.withUnsafeBufferPointer { Self.apply(positive, $0, out.assumingMemoryBound(to: Float.self)) }
            })
        }
        let result = try DNNLTensor(shape: shape, layout: laidOut.layout)
        let dx = result.memory.pointer!.assumingMemoryBound(to: Float.self)
        if case .laidOut(let g) = dy, DNNLLayout.equal(g.layout, laidOut.layout) {
            Self.apply(positive, UnsafeBufferPointer(start: g.memory.pointer!.assumingMemoryBound(to: Float.self), count: positive.count), dx)
        } else {
            try laidOut.write(dy, into: result.memory)
            Self.apply(positive, UnsafeBufferPointer(start: dx, count: positive.count), dx)
        }
        return .laidOut(result)
    }

    private static func mask(_ y: UnsafeBufferPointer<Float>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: y.count) { out, initialized in
            let base = out.baseAddress!
            Parallel.split(y.count) { range in for i in range { base[i] = y[i] > 0 ? 1 : 0 } }
            initialized = y.count
        }
    }

    private static func apply(_ positive: [UInt8], _ dy: UnsafeBufferPointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        positive.withUnsafeBufferPointer { m in
            // Branch-free (a ReLU's signs are as random as its inputs): the bits of dy, anded with all ones
            // where the mask is set and with zero (+0) elsewhere.
            Parallel.split(dy.count) { range in for i in range { dx[i] = Float(bitPattern: dy[i].bitPattern & (0 &- UInt32(m[i]))) } }
        }
    }
}
