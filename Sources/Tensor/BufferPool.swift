/// The pool oneDNN-layout buffers return to when their tensor dies, so the next tensor of that size reuses one.
import CDNNL
import Synchronization

/// Buffers of dead oneDNN tensors, kept for the next tensor of the same byte size: an attack step
/// allocates the same activations and gradients every time, so after the first step a buffer comes
/// back from the pool instead of from the system (no page faults, no zeroing). A buffer goes back
/// the moment nothing holds its tensor, so memory follows what is live: the pool never lets the
/// buffers it keeps plus those in use exceed by more than an eighth the most that was ever in use at
/// once (the peak of one step), freeing the least recently returned ones first. (Buffers are sorted
/// by size, so serving a step needs a little more than its peak; with no slack, ResNet-50 at batch 8
/// freed and reallocated 30 buffers every step, 8 % of its time.)
public final class BufferPool: Sendable {
    /// The process's pool (oneDNN tensors of every encoder).
    public static let shared = BufferPool()

    private struct Entry {
        let pointer: UnsafeMutableRawPointer
        let size: Int
        /// The layout the buffer last held: a buffer reused for another layout is zeroed first, so
        /// blocked layouts' padding starts at zero as in a fresh one.
        let layout: dnnl_memory_desc_t
        let returned: Int
    }

    private struct State: @unchecked Sendable {
        var free: [Int: [Entry]] = [:]
        var pooled = 0
        var live = 0
        var peak = 0
        var clock = 0
    }

    private let state = Mutex(State())

    /// A 64-byte aligned buffer of `size` bytes for a tensor of `layout`: a pooled one of that size
    /// when there is one (zeroed unless it last held the same layout), else a new zeroed one.
    func take(size requested: Int, layout: dnnl_memory_desc_t) -> UnsafeMutableRawPointer {
        let size = Self.sizeClass(requested)
        let reused: Entry? = state.withLock { s in
            s.live += size
            s.peak = max(s.peak, s.live)
            guard var list = s.free[size], let entry = list.popLast() else { return nil }
            s.free[size] = list.isEmpty ? nil : list
            s.pooled -= size
            return entry
        }
        if let reused {
            if !DNNLLayout.equal(reused.layout, layout), Self.hasPadding(layout) { reused.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: size) }
            return reused.pointer
        }
        evict()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return buffer
    }

    /// Hands a buffer from `take` back (its tensor is gone).
    func give(_ pointer: UnsafeMutableRawPointer, size requested: Int, layout: dnnl_memory_desc_t) {
        let size = Self.sizeClass(requested)
        state.withLock { s in
            s.live -= size
            s.clock += 1
            s.free[size, default: []].append(Entry(pointer: pointer, size: size, layout: layout, returned: s.clock))
            s.pooled += size
        }
        evict()
    }

    /// The size a request is served with: rounded up to one of eight steps per power of two (at most
    /// 12.5 % more), so tensors of nearly the same size share buffers.
    static func sizeClass(_ size: Int) -> Int {
        guard size > 64 else { return 64 }
        let step = 1 << max(6, (Int.bitWidth - 1 - size.leadingZeroBitCount) - 3)
        return (size + step - 1) / step * step
    }

    /// Whether a layout stores more than its elements (blocked channels padded to the block):
    /// oneDNN expects that padding to be zero.
    static func hasPadding(_ layout: dnnl_memory_desc_t) -> Bool {
        var md = layout
        let elements = (0..<Int(md.ndims)).reduce(1) { product, axis in
            withUnsafeBytes(of: md.dims) { product * Int($0.load(fromByteOffset: axis * MemoryLayout<dnnl_dim_t>.stride, as: dnnl_dim_t.self)) }
        }
        return dnnl_memory_desc_get_size(&md) != elements * 4
    }

    /// Frees pooled buffers, least recently returned first, while pooled + live exceeds the peak and its slack.
    private func evict() {
        let freed: [UnsafeMutableRawPointer] = state.withLock { s in
            var freed: [UnsafeMutableRawPointer] = []
            while s.pooled > 0, s.pooled + s.live > s.peak + s.peak / 8 {
                guard let (size, index) = s.free.flatMap({ size, list in list.indices.map { (size, $0) } })
                    .min(by: { s.free[$0.0]![$0.1].returned < s.free[$1.0]![$1.1].returned }) else { break }
                let entry = s.free[size]!.remove(at: index)
                if s.free[size]!.isEmpty { s.free[size] = nil }
                s.pooled -= size
                freed.append(entry.pointer)
            }
            return freed
        }
        for pointer in freed { pointer.deallocate() }
    }

    /// Frees every pooled buffer and forgets the peak (an encoder going away: the next one may need
    /// other sizes, and until it runs the memory is the system's).
    public func drain() {
        let freed: [UnsafeMutableRawPointer] = state.withLock { s in
            let all = s.free.values.flatMap { $0.map(\.pointer) }
            s.free = [:]
            s.pooled = 0
            s.peak = s.live
            return all
        }
        for pointer in freed { pointer.deallocate() }
    }

    /// Bytes held by pooled (unused) buffers and by buffers in use.
    var bytes: (pooled: Int, live: Int) { state.withLock { ($0.pooled, $0.live) } }
}
