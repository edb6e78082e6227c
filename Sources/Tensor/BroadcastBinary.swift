// a ∘ b with a in a oneDNN layout (blocked) and b a small row-major tensor broadcasting into it.
import CDNNL

/// a ∘ b through oneDNN's binary primitive with a laid out (a convolution's blocked output) and b
/// row-major and broadcasting into a's shape (a squeeze-and-excitation gate [N, C, 1, 1], a
/// per-channel scale [C, 1, 1]); the result keeps a's layout. One IEEE operation per element. Refused
/// (the initializer throws) where oneDNN has only its reference loops for the layout.
public final class LaidOutBroadcastKernel {
    /// The operation, a ∘ b.
    public let operation: BinaryOperation
    /// a's shape (the result's) and b's.
    public let shape: [Int], other: [Int]
    private let layout: dnnl_memory_desc_t
    private let primitive: DNNLPrimitive
    private let right: LayoutConformer

    /// b's layout: a's format tag (oneDNN's fast binary wants both operands in one format) on b's dims.
    private static func matching(_ layout: dnnl_memory_desc_t, dims: [Int], other: [Int]) throws -> dnnl_memory_desc_t {
        let candidates: [Int: [dnnl_format_tag_t]] = [
            2: [dnnl_ab, dnnl_ba], 3: [dnnl_aBc16b, dnnl_aBc8b, dnnl_acb, dnnl_abc],
            4: [dnnl_aBcd16b, dnnl_aBcd8b, dnnl_acdb, dnnl_abcd], 5: [dnnl_aBcde16b, dnnl_aBcde8b, dnnl_acdeb, dnnl_abcde],
        ]
        for tag in candidates[dims.count] ?? [] {
            var md = dnnl_memory_desc_t(), o = dnnl_memory_desc_t()
            var d = dims.map { dnnl_dim_t($0) }, e = other.map { dnnl_dim_t($0) }
            guard dnnl_memory_desc_init_by_tag(&md, Int32(d.count), &d, dnnl_f32, tag) == dnnl_success, DNNLLayout.equal(md, layout) else { continue }
            try check(dnnl_memory_desc_init_by_tag(&o, Int32(e.count), &e, dnnl_f32, tag), "describing \(other)")
            return o
        }
        throw KernelError("no format for a broadcast operand in the layout of \(dims)")
    }

    init(_ operation: BinaryOperation, layout: dnnl_memory_desc_t, shape: [Int], other: [Int]) throws {
        guard BinaryKernel.supports(operation, shape, other), let algorithm = BinaryKernel.algorithm(operation) else {
            throw KernelError("no oneDNN binary \(operation) for \(shape) and \(other)")
        }
        (self.operation, self.shape, self.other, self.layout) = (operation, shape, other, layout)
        var a = layout, result = layout
        let padded = Array(repeating: 1, count: shape.count - other.count) + other
        var b = try Self.matching(layout, dims: shape, other: padded)
        var descriptor = dnnl_binary_desc_t()
        try check(dnnl_binary_desc_init(&descriptor, algorithm, &a, &b, &result), "describing \(operation) of \(shape) and \(other)")
        primitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(shape.reduce(1, *)), what: "a binary \(operation)") }
        // Its reference loops (a layout this machine's JIT does not broadcast in) are slower than the
        // row-major path: a per-channel scale over 16-channel blocks took 180 ms at [8, 96, 56, 56] on AVX2.
        guard !primitive.implementation.hasPrefix("ref") else {
            throw KernelError("oneDNN has only reference loops for \(operation) of \(shape) and \(other) in this layout")
        }
        right = LayoutConformer(shape: padded, layout: b)
    }

    /// A kernel for `a`'s shape and layout and a b of shape `other`.
    public convenience init(_ operation: BinaryOperation, _ a: DNNLTensor, other: [Int]) throws {
        try self.init(operation, layout: a.layout, shape: a.shape, other: other)
    }

    /// Whether `a` comes in this kernel's shape and layout and `b` in its shape.
    public func fits(_ a: DNNLTensor, _ b: Tensor) -> Bool {
        a.shape == shape && b.shape == other && DNNLLayout.equal(a.layout, layout)
    }

    /// a ∘ b in a's layout.
    public func run(_ a: DNNLTensor, _ b: Tensor) throws -> DNNLTensor {
        guard fits(a, b) else { throw KernelError("binary \(operation) expected \(shape) and \(other), got \(a.shape) and \(b.shape)") }
        let y = try DNNLTensor(shape: shape, layout: layout)
        try KernelInput.plain(Tensor(shape: right.shape, data: b.data)).withMemory(right) { bMemory in
            try primitive.execute([(DNNL_ARG_SRC_0, a.memory), (DNNL_ARG_SRC_1, bMemory), (DNNL_ARG_DST, y.memory)])
        }
        return y
    }
}
