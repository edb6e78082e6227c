/// The pool oneDNN-layout buffers return to when their tensor dies, so the next tensor of that size reuses one.
import CDNNL
import CMalloc
import Synchronization

/// Buffers of dead oneDNN tensors, kept for the next tensor of the same size class: an attack step
/// allocates the same activations and gradients every time, so after the first step every buffer
/// comes back from the pool instead of from the system (no page faults, no zeroing). A buffer goes
/// back the moment nothing holds its tensor, so memory follows what is live, not what every kernel
/// ever made. A pooled buffer no request took during a whole step (see `newStep`) is freed: the pool
/// holds what one step needs, per size class. (A pool bounded by the peak of live bytes instead kept
/// freeing and reallocating buffers every step, since a step needs more than its peak once buffers
/// are sorted by size: MobileNetV3 at batch 8 lost 25 % of its time to the page faults.)
public final class BufferPool: Sendable {
    /// The process's pool (oneDNN tensors of every encoder).
    public static let shared = BufferPool()

    private struct Entry {
        let pointer: UnsafeMutableRawPointer
        /// The layout the buffer last held: a buffer reused for another padded layout is zeroed
        /// first, so blocked layouts' padding starts at zero as in a fresh one.
        let layout: dnnl_memory_desc_t
        /// The step during which it came back.
        let step: Int
    }

    private struct State: @unchecked Sendable {
        var free: [Int: [Entry]] = [:]
        var pooled = 0
        var live = 0
        var step = 0
    }

    private let state = Mutex(State())

    /// A 64-byte aligned buffer of at least `size` bytes for a tensor of `layout`: a pooled one of its
    /// size class when there is one (the latest that last held this layout, else the latest; zeroed
    /// if the layout has padding and changed), else a new zeroed one.
    func take(size requested: Int, layout: dnnl_memory_desc_t) -> UnsafeMutableRawPointer {
        let size = Self.sizeClass(requested)
        let reused: Entry? = state.withLock { s in
            s.live += size
            guard var list = s.free[size], !list.isEmpty else { return nil }
            let entry = list.remove(at: list.lastIndex { DNNLLayout.equal($0.layout, layout) } ?? list.count - 1)
            s.free[size] = list.isEmpty ? nil : list
            s.pooled -= size
            return entry
        }
        if let reused {
            if !DNNLLayout.equal(reused.layout, layout), Self.hasPadding(layout) { reused.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: size) }
            return reused.pointer
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return buffer
    }

    /// Hands a buffer from `take` back (its tensor is gone).
    func give(_ pointer: UnsafeMutableRawPointer, size requested: Int, layout: dnnl_memory_desc_t) {
        let size = Self.sizeClass(requested)
        state.withLock { s in
            s.live -= size
            s.free[size, default: []].append(Entry(pointer: pointer, layout: layout, step: s.step))
            s.pooled += size
        }
    }

    /// Marks the start of a step (an encoder's forward): buffers that came back before the previous
    /// step began and were not taken since are freed.
    public func newStep() {
        let freed: [UnsafeMutableRawPointer] = state.withLock { s in
            s.step += 1
            let stale = s.step - 2
            var freed: [UnsafeMutableRawPointer] = []
            for (size, list) in s.free {
                let kept = list.filter { $0.step > stale }
                guard kept.count < list.count else { continue }
                freed += list.filter { $0.step <= stale }.map(\.pointer)
                s.pooled -= (list.count - kept.count) * size
                s.free[size] = kept.isEmpty ? nil : kept
            }
            return freed
        }
        for pointer in freed { pointer.deallocate() }
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
        let elementSize: Int
        switch md.data_type {
        case dnnl_u8, dnnl_s8: elementSize = 1
        case dnnl_f16, dnnl_bf16: elementSize = 2
        default: elementSize = 4
        }
        return dnnl_memory_desc_get_size(&md) != elements * elementSize
    }

    /// Frees every pooled buffer (an encoder going away: the next one may need other sizes, and until
    /// it runs the memory is the system's).
    public func drain() {
        let freed: [UnsafeMutableRawPointer] = state.withLock { s in
            let all = s.free.values.flatMap { $0.map(\.pointer) }
            s.free = [:]
            s.pooled = 0
            return all
        }
        for pointer in freed { pointer.deallocate() }
    }

    /// Bytes held by pooled (unused) buffers and by buffers in use.
    var bytes: (pooled: Int, live: Int) { state.withLock { ($0.pooled, $0.live) } }
}

/// The C library's allocator, tuned for attack steps: row-major tensors (Swift arrays) are freed and
/// allocated again at every step, and glibc by default serves those over 32 MiB (and, on threads
/// other than the main one, over 64 MiB) from fresh mappings, which the kernel zero-fills page by
/// page on every step. With `keepFreedMemory` they come from one heap that keeps up to 256 MiB of
/// freed memory at its top; ConvNeXt-T at batch 8 took 15 % less time, at the same peak RSS.
public enum Allocator {
    /// Serves every allocation from the main heap (no per-thread arenas, no mappings per allocation)
    /// and returns free memory at the heap's top to the system only past 256 MiB. Call once, early,
    /// before other threads start; `mirage` does at launch.
    public static func keepFreedMemory() {
        _ = mallopt(M_ARENA_MAX, 1)
        _ = mallopt(M_MMAP_MAX, 0)
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
    }
}
