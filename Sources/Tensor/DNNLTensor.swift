import CDNNL

/// A float32 tensor held in oneDNN memory, in the layout the primitive that made it chose — often
/// blocked (nChw16c: channels in blocks of 16, innermost), which is what oneDNN's fast convolution,
/// pooling and eltwise kernels read and write. Activations stay in these layouts from kernel to
/// kernel; `plain()` reorders to a row-major `Tensor` where an operator needs one.
public final class DNNLTensor: @unchecked Sendable {
    /// The logical (row-major) shape, whatever the memory layout.
    public let shape: [Int]
    let memory: DNNLMemory
    /// Bytes counted against `MemoryLimit` while this tensor lives.
    private let reserved: Int

    init(shape: [Int], layout: dnnl_memory_desc_t) throws {
        self.shape = shape
        var descriptor = layout
        reserved = dnnl_memory_desc_get_size(&descriptor)
        try MemoryLimit.reserve(reserved, what: "an activation of shape \(shape)")
        do { memory = try DNNLMemory(layout, owning: true) } catch {
            MemoryLimit.release(reserved)
            throw error
        }
    }

    deinit { MemoryLimit.release(reserved) }

    var layout: dnnl_memory_desc_t { memory.descriptor }

    /// Whether the elements are stored row-major (no blocking, no padding).
    public var isPlain: Bool {
        guard let plain = try? DNNLLayout.plain(shape.isEmpty ? [1] : shape) else { return false }
        return DNNLLayout.equal(plain, layout)
    }

    /// The elements in row-major order. A reorder between two layouts of one tensor fails only
    /// when memory runs out, so failure stops the process rather than every caller handling it.
    public func plain() -> Tensor {
        do {
            return try filledTensor(shape) { target in
                if isPlain {
                    target.copyMemory(from: memory.pointer!, byteCount: Tensor.elementCount(shape) * 4)
                } else {
                    let plainLayout = try DNNLLayout.plain(shape)
                    let view = try DNNLMemory(plainLayout, owning: false)
                    view.point(at: target)
                    try DNNLReorder(from: layout, to: plainLayout).run(from: memory, to: view)
                }
            }
        } catch {
            fatalError("reordering a \(shape) tensor to plain layout failed: \(error)")
        }
    }

    /// The shape and layout, without the buffer.
    public var tensorLayout: TensorLayout { TensorLayout(shape: shape, descriptor: layout) }

    /// Whether both are stored in the same layout (so element-wise work can run on the buffers).
    public func sharesLayout(with other: DNNLTensor) -> Bool {
        shape == other.shape && DNNLLayout.equal(layout, other.layout)
    }
}

/// A `DNNLTensor`'s shape and oneDNN layout, kept where the tensor itself (and its buffer) need not be.
public struct TensorLayout: @unchecked Sendable {
    /// The logical (row-major) shape.
    public let shape: [Int]
    let descriptor: dnnl_memory_desc_t
}

/// Where a kernel's outputs come from: a new tensor per call, its buffer from `BufferPool` (so repeated
/// steps allocate nothing, yet a kernel holds no buffer between calls), plus the cached oneDNN
/// kernel for sums and products of two tensors in one layout.
public struct OutputAllocator {
    private var addition: AdditionKernel?

    /// No kernel yet.
    public init() {}

    /// The sum a + b (same shape and layout) in a pooled buffer of that layout.
    public mutating func sum(_ a: DNNLTensor, _ b: DNNLTensor) throws -> DNNLTensor {
        try combine(a, b, multiplying: false)
    }

    /// The product a · b (same shape and layout) in a pooled buffer of that layout.
    public mutating func product(_ a: DNNLTensor, _ b: DNNLTensor) throws -> DNNLTensor {
        try combine(a, b, multiplying: true)
    }

    private mutating func combine(_ a: DNNLTensor, _ b: DNNLTensor, multiplying: Bool) throws -> DNNLTensor {
        guard a.sharesLayout(with: b) else { throw KernelError("combining tensors of different shapes or layouts: \(a.shape) and \(b.shape)") }
        if addition == nil || !DNNLLayout.equal(addition!.layout, a.layout) || addition!.multiplies != multiplying {
            addition = try AdditionKernel(layout: a.layout, multiplying: multiplying)
        }
        let result = try DNNLTensor(shape: a.shape, layout: a.layout)
        try addition!.primitive.execute([(DNNL_ARG_SRC_0, a.memory), (DNNL_ARG_SRC_1, b.memory), (DNNL_ARG_DST, result.memory)])
        return result
    }
}

/// oneDNN's binary add (or multiply) of two tensors in one layout (a residual connection, a
/// gradient sum, SiLU's x·σ(x)), multi-threaded and in the blocked layout as it is.
final class AdditionKernel {
    let layout: dnnl_memory_desc_t
    let multiplies: Bool
    let primitive: DNNLPrimitive

    init(layout: dnnl_memory_desc_t, multiplying: Bool = false) throws {
        self.layout = layout
        multiplies = multiplying
        var a = layout, b = layout, sum = layout
        var descriptor = dnnl_binary_desc_t()
        try check(dnnl_binary_desc_init(&descriptor, multiplying ? dnnl_binary_mul : dnnl_binary_add, &a, &b, &sum), "describing an addition")
        primitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(dnnl_memory_desc_get_size(&a) / 4), what: "an addition") }
    }
}

/// Brings an argument into the layout a primitive was made for: a tensor already in it is used as
/// is; any other (a plain `Tensor` at a graph edge, another kernel's layout) is reordered into a
/// buffer kept for the purpose.
final class LayoutConformer {
    let layout: dnnl_memory_desc_t
    let shape: [Int]
    private var staging: DNNLMemory?
    private var reorders: [(from: dnnl_memory_desc_t, reorder: DNNLReorder)] = []
    private var plainView: DNNLMemory?

    init(shape: [Int], layout: dnnl_memory_desc_t) {
        self.shape = shape
        self.layout = layout
    }

    private func reorder(from source: dnnl_memory_desc_t) throws -> DNNLReorder {
        if let known = reorders.first(where: { DNNLLayout.equal($0.from, source) }) { return known.reorder }
        let made = try DNNLReorder(from: source, to: layout)
        reorders.append((source, made))
        return made
    }

    private func stagingMemory() throws -> DNNLMemory {
        if let staging { return staging }
        let made = try DNNLMemory(layout, owning: true)
        staging = made
        return made
    }

    func memory(for tensor: DNNLTensor) throws -> DNNLMemory {
        guard tensor.shape == shape else { throw KernelError("expected a tensor of shape \(shape), got \(tensor.shape)") }
        if DNNLLayout.equal(tensor.layout, layout) { return tensor.memory }
        let target = try stagingMemory()
        try reorder(from: tensor.layout).run(from: tensor.memory, to: target)
        return target
    }

    /// For a row-major buffer the caller keeps valid while the primitive runs.
    func memory(forPlain pointer: UnsafeMutableRawPointer) throws -> DNNLMemory {
        let view = try plain(at: pointer)
        if DNNLLayout.equal(view.descriptor, layout) { return view }
        let target = try stagingMemory()
        try reorder(from: view.descriptor).run(from: view, to: target)
        return target
    }

    /// Writes `x` into `target`, a buffer in this conformer's layout (a copy if `x` already is in it),
    /// with no staging buffer.
    func write(_ x: KernelInput, into target: DNNLMemory) throws {
        guard x.shape == shape else { throw KernelError("expected a tensor of shape \(shape), got \(x.shape)") }
        switch x {
        case .laidOut(let t):
            try reorder(from: t.layout).run(from: t.memory, to: target)
        case .plain(let t):
            try t.data.withUnsafeBytes { bytes in
                let view = try plain(at: UnsafeMutableRawPointer(mutating: bytes.baseAddress!))
                try reorder(from: view.descriptor).run(from: view, to: target)
            }
        }
    }

    /// The row-major view of this shape, pointed at `pointer`.
    private func plain(at pointer: UnsafeMutableRawPointer) throws -> DNNLMemory {
        if plainView == nil { plainView = try DNNLMemory(try DNNLLayout.plain(shape), owning: false) }
        plainView!.point(at: pointer)
        return plainView!
    }
}

/// A primitive's input given either way: a plain `Tensor` or a `DNNLTensor` in some layout.
public enum KernelInput {
    case plain(Tensor)
    case laidOut(DNNLTensor)

    /// The input's logical shape.
    public var shape: [Int] {
        switch self {
        case .plain(let t): return t.shape
        case .laidOut(let t): return t.shape
        }
    }

    /// Runs `body` with this input as memory in `conformer`'s layout.
    func withMemory<R>(_ conformer: LayoutConformer, _ body: (DNNLMemory) throws -> R) throws -> R {
        switch self {
        case .laidOut(let t):
            return try body(try conformer.memory(for: t))
        case .plain(let t):
            guard t.shape == conformer.shape else { throw KernelError("expected a tensor of shape \(conformer.shape), got \(t.shape)") }
            // Sources are only read; borrowing the array's storage avoids a copy-on-write copy.
            return try t.data.withUnsafeBytes { try body(try conformer.memory(forPlain: UnsafeMutableRawPointer(mutating: $0.baseAddress!))) }
        }
    }
}
