import CDNNL

/// A failure inside the engine's kernels, with what was being done.
public struct KernelError: Error, CustomStringConvertible, Sendable {
    /// The message a user sees.
    public var description: String
    /// An error with this message.
    public init(_ description: String) { self.description = description }
}

/// oneDNN's CPU engine and stream, created once per process. oneDNN's CPU stream runs primitives
/// synchronously on the calling thread (with its OpenMP team), so one stream serves every kernel.
final class DNNLContext: @unchecked Sendable {
    static let shared: DNNLContext = {
        do { return try DNNLContext() } catch { fatalError("oneDNN could not start: \(error)") }
    }()

    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    private init() throws {
        var engine: dnnl_engine_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        var stream: dnnl_stream_t?
        try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        self.engine = engine!
        self.stream = stream!
    }
}

@inline(__always)
func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
    guard status == dnnl_success else { throw KernelError("oneDNN failed \(what()): status \(status.rawValue)") }
}

/// Memory descriptors: what oneDNN calls the shape, type and layout of a buffer.
enum DNNLLayout {
    /// Plain row-major float32 (a, ab, abc, …), the layout `Tensor` stores.
    static func plain(_ dims: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let tags: [dnnl_format_tag_t] = [dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef]
        guard dims.count >= 1, dims.count < tags.count else { throw KernelError("rank \(dims.count) is not supported by the kernels") }
        var d = dims.map { dnnl_dim_t($0) }
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), &d, dnnl_f32, tags[dims.count]), "describing \(dims)")
        return md
    }

    /// Plain float32 with explicit strides (in elements): transposed views without copies.
    static func strided(_ dims: [Int], strides: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        var d = dims.map { dnnl_dim_t($0) }
        var s = strides.map { dnnl_dim_t($0) }
        try check(dnnl_memory_desc_init_by_strides(&md, Int32(d.count), &d, dnnl_f32, &s), "describing \(dims) strides \(strides)")
        return md
    }

    /// "Let the primitive choose": oneDNN picks its fastest (usually blocked) layout.
    static func any(_ dims: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        var d = dims.map { dnnl_dim_t($0) }
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), &d, dnnl_f32, dnnl_format_tag_any), "describing \(dims)")
        return md
    }

    /// How many channels oneDNN's float32 convolutions put side by side on this machine: 16 where its
    /// JIT runs AVX-512 (one 512-bit register), 8 on AVX2 and older x86 (a 256-bit one).
    static let channelBlock: Int = {
        let avx512 = dnnl_cpu_isa_avx512_core.rawValue
        return dnnl_get_effective_cpu_isa().rawValue & avx512 == avx512 ? 16 : 8
    }()

    /// Channels (axis 1) in blocks of `block` (16 or 8; by default `channelBlock`), innermost (nChw16c or
    /// nChw8c, and their 1-D and 3-D kin): by default what oneDNN's float32 convolution, pooling and
    /// binary kernels read and write on this machine. Nil for other ranks and blocks, and for channel
    /// counts that would need padding.
    static func channelBlocked(_ dims: [Int], block: Int = channelBlock) throws -> dnnl_memory_desc_t? {
        let tags: [Int: dnnl_format_tag_t]
        switch block {
        case 16: tags = [3: dnnl_aBc16b, 4: dnnl_aBcd16b, 5: dnnl_aBcde16b]
        case 8: tags = [3: dnnl_aBc8b, 4: dnnl_aBcd8b, 5: dnnl_aBcde8b]
        default: return nil
        }
        guard let tag = tags[dims.count], dims[1] % block == 0 else { return nil }
        var md = dnnl_memory_desc_t()
        var d = dims.map { dnnl_dim_t($0) }
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), &d, dnnl_f32, tag), "describing \(dims) in channel blocks")
        return md
    }

    /// The same bytes described with the axes renumbered: axis i of `layout` becomes axis `axes[i]`.
    static func permuted(_ layout: dnnl_memory_desc_t, axes: [Int]) throws -> dnnl_memory_desc_t {
        var source = layout, result = dnnl_memory_desc_t()
        var order = axes.map { Int32($0) }
        try check(dnnl_memory_desc_permute_axes(&result, &source, &order), "permuting a layout's axes by \(axes)")
        return result
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var a = a, b = b
        return dnnl_memory_desc_equal(&a, &b) != 0
    }
}

/// A oneDNN memory object. Either it owns an aligned buffer (blocked intermediates, reordered
/// weights) or it points at a caller's buffer for the duration of one execution.
final class DNNLMemory {
    let handle: dnnl_memory_t
    let descriptor: dnnl_memory_desc_t
    private var owned: (pointer: UnsafeMutableRawPointer, size: Int)?

    /// `owning`: a buffer of the descriptor's size from `BufferPool`, kept for the memory's lifetime.
    init(_ descriptor: dnnl_memory_desc_t, owning: Bool) throws {
        var md = descriptor
        var memory: dnnl_memory_t?
        if owning {
            let size = max(64, dnnl_memory_desc_get_size(&md))
            let buffer = BufferPool.shared.take(size: size, layout: descriptor)
            do { try check(dnnl_memory_create(&memory, &md, DNNLContext.shared.engine, buffer), "allocating memory") } catch {
                BufferPool.shared.give(buffer, size: size, layout: descriptor)
                throw error
            }
            owned = (buffer, size)
        } else {
            // DNNL_MEMORY_NONE: a handle is set before each use.
            try check(dnnl_memory_create(&memory, &md, DNNLContext.shared.engine, nil), "creating a memory view")
        }
        handle = memory!
        self.descriptor = descriptor
    }

    deinit {
        dnnl_memory_destroy(handle)
        if let owned { BufferPool.shared.give(owned.pointer, size: owned.size, layout: descriptor) }
    }

    var byteCount: Int {
        var md = descriptor
        return dnnl_memory_desc_get_size(&md)
    }

    func point(at pointer: UnsafeMutableRawPointer?) {
        dnnl_memory_set_data_handle(handle, pointer)
    }

    var pointer: UnsafeMutableRawPointer? {
        var p: UnsafeMutableRawPointer?
        dnnl_memory_get_data_handle(handle, &p)
        return p
    }
}

/// How much work one run of a primitive does, to choose its thread count.
enum DNNLWork {
    case flops(Int)          // convolutions, matrix products
    case elements(Int)       // memory-bound: eltwise, pooling, additions, reorders

    /// oneDNN (on OpenMP here) splits its work when a primitive is made and wakes the whole team
    /// at every run; with OMP_WAIT_POLICY=PASSIVE the waking costs tens of microseconds, more than
    /// small work takes on one core (MNIST at batch 1: 1.0 ms per attack step on two threads,
    /// 0.2 ms on one). Such primitives are made and run on one thread.
    var threads: Int32? {
        switch self {
        case .flops(let n): return n < 8_000_000 ? 1 : nil
        case .elements(let n): return n < 160_000 ? 1 : nil
        }
    }

    /// Runs `body` with OpenMP's thread count set to `threads` (nil: unchanged).
    static func run<R>(on threads: Int32?, _ body: () throws -> R) rethrows -> R {
        guard let threads else { return try body() }
        let saved = omp_get_max_threads()
        omp_set_num_threads(threads)
        defer { omp_set_num_threads(saved) }
        return try body()
    }
}

/// A created primitive and its descriptor. Created once per (operator, shape) and reused.
final class DNNLPrimitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    private let threads: Int32?
    private let what: String

    /// `opDescriptor` points at a filled op descriptor (e.g. a convolution descriptor).
    init(_ opDescriptor: UnsafeRawPointer, hint: DNNLPrimitive? = nil, attributes: dnnl_primitive_attr_t? = nil, work: DNNLWork, what: String) throws {
        threads = work.threads
        self.what = what
        // The primitive's scratch space comes with each execution (see `Scratchpad`).
        var owned: dnnl_primitive_attr_t?
        if attributes == nil { try check(dnnl_primitive_attr_create(&owned), "creating primitive attributes") }
        defer { if let owned { dnnl_primitive_attr_destroy(owned) } }
        let attributes = attributes ?? owned
        try check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "asking for a user scratchpad")
        (descriptor, primitive) = try DNNLWork.run(on: threads) {
            var pd: dnnl_primitive_desc_t?
            try check(dnnl_primitive_desc_create(&pd, opDescriptor, attributes, DNNLContext.shared.engine, hint?.descriptor), "setting up \(what)")
            var p: dnnl_primitive_t?
            try check(dnnl_primitive_create(&p, pd), "creating \(what)")
            return (pd!, p!)
        }
        scratchpad = Scratchpad(dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee)
    }

    private let scratchpad: Scratchpad?

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// oneDNN's name for the implementation it chose: "jit:uni", "brg:avx512_core", or "ref:any" for its
    /// slow reference loops.
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return "" }
        return String(cString: name)
    }

    /// The layout the primitive chose for one of its arguments.
    func layout(_ query: dnnl_query_t, index: Int32 = 0) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(descriptor, query, index).pointee
    }

    func execute(_ arguments: [(Int32, DNNLMemory)]) throws {
        try Scratchpad.execute(primitive, arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) },
                               scratchpad: scratchpad, threads: threads, what: "running \(what)")
    }
}

/// A primitive's scratch space (user mode: oneDNN's default is one buffer per thread, and the Jupyter
/// kernel runs each cell on a new thread; a primitive made on one cell's thread then failed on the
/// next). It is taken from `BufferPool` for each execution and handed back after, so primitives
/// share one buffer instead of each holding its own (Winograd convolutions' are tens of MiB).
struct Scratchpad {
    let layout: dnnl_memory_desc_t

    /// nil when the primitive needs none.
    init?(_ layout: dnnl_memory_desc_t) {
        var md = layout
        guard dnnl_memory_desc_get_size(&md) > 0 else { return nil }
        self.layout = layout
    }

    /// A buffer for one execution.
    func memory() throws -> DNNLMemory { try DNNLMemory(layout, owning: true) }

    /// Runs `primitive` on `arguments` (and a scratchpad buffer for the run, if it needs one) on
    /// `threads`, and waits for it; `what` names the work in errors.
    static func execute(_ primitive: dnnl_primitive_t, _ arguments: [dnnl_exec_arg_t], scratchpad: Scratchpad?, threads: Int32?, what: String) throws {
        var args = arguments
        let scratch = try scratchpad?.memory()
        if let scratch { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratch.handle)) }
        try withExtendedLifetime(scratch) {
            try DNNLWork.run(on: threads) {
                try check(dnnl_primitive_execute(primitive, DNNLContext.shared.stream, Int32(args.count), &args), what)
                try check(dnnl_stream_wait(DNNLContext.shared.stream), "waiting for \(what)")
            }
        }
    }
}

/// A reorder between two layouts of the same logical tensor, created once.
final class DNNLReorder {
    let primitive: dnnl_primitive_t
    private let pd: dnnl_primitive_desc_t
    private let threads: Int32?

    init(from source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t) throws {
        var s = source, d = destination
        threads = DNNLWork.elements(dnnl_memory_desc_get_size(&s) / MemoryLayout<Float>.stride).threads
        var attributes: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attributes), "creating primitive attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        try check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "asking for a user scratchpad")
        (pd, primitive) = try DNNLWork.run(on: threads) {
            var pd: dnnl_primitive_desc_t?
            let engine = DNNLContext.shared.engine
            try check(dnnl_reorder_primitive_desc_create(&pd, &s, engine, &d, engine, attributes), "setting up a reorder")
            var p: dnnl_primitive_t?
            try check(dnnl_primitive_create(&p, pd), "creating a reorder")
            return (pd!, p!)
        }
        scratchpad = Scratchpad(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).pointee)
    }

    /// The reorder's scratch space (see `Scratchpad`).
    private let scratchpad: Scratchpad?

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }

    func run(from source: DNNLMemory, to destination: DNNLMemory) throws {
        try Scratchpad.execute(primitive, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source.handle), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: destination.handle)],
                               scratchpad: scratchpad, threads: threads, what: "reordering")
    }
}

/// An argument in the primitive's preferred layout, fed from / read back to a plain `Tensor`.
/// When the layouts agree the user's buffer is used directly; otherwise one reorder at each edge.
final class LayoutBridge {
    let plain: DNNLMemory          // views the caller's buffer
    let native: DNNLMemory?        // owned buffer in the primitive's layout, when different
    private let toNative: DNNLReorder?
    private let toPlain: DNNLReorder?

    init(plainDims dims: [Int], native: dnnl_memory_desc_t) throws {
        let plainDesc = try DNNLLayout.plain(dims)
        plain = try DNNLMemory(plainDesc, owning: false)
        if DNNLLayout.equal(plainDesc, native) {
            self.native = nil
            toNative = nil
            toPlain = nil
        } else {
            self.native = try DNNLMemory(native, owning: true)
            toNative = try DNNLReorder(from: plainDesc, to: native)
            toPlain = try DNNLReorder(from: native, to: plainDesc)
        }
    }

    /// The memory the primitive should use.
    var memory: DNNLMemory { native ?? plain }

    /// Makes the primitive's memory hold `pointer`'s plain data.
    func load(_ pointer: UnsafeMutableRawPointer) throws {
        plain.point(at: pointer)
        if let native, let toNative { try toNative.run(from: plain, to: native) }
    }

    /// Points the primitive at `pointer` as its output (call `store` after the primitive ran).
    func prepareOutput(_ pointer: UnsafeMutableRawPointer) {
        plain.point(at: pointer)
    }

    func store() throws {
        if let native, let toPlain { try toPlain.run(from: native, to: plain) }
    }
}

/// A constant (weights) held in a primitive's preferred layout, in memory it owns:
/// reordered once when made, never touched again.
final class ConstantMemory {
    let memory: DNNLMemory

    init(_ tensor: Tensor, dims: [Int], native: dnnl_memory_desc_t) throws {
        memory = try DNNLMemory(native, owning: true)
        let plainDesc = try DNNLLayout.plain(dims)
        var values = tensor.data
        try values.withUnsafeMutableBytes { bytes in
            if DNNLLayout.equal(plainDesc, native) {
                memory.pointer!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            } else {
                let view = try DNNLMemory(plainDesc, owning: false)
                view.point(at: bytes.baseAddress)
                try DNNLReorder(from: plainDesc, to: native).run(from: view, to: memory)
            }
        }
    }
}
