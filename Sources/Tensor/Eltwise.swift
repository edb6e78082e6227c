import CDNNL

/// An element-wise function (oneDNN's eltwise primitive) forward and backward in the layout its
/// input arrives in (no reorder inside a blocked chain): ReLU after a convolution, HardSwish,
/// Sigmoid and GELU after a convolution or a normalization. Results depend on each element alone.
public class LaidOutEltwiseKernel {
    /// The shape inputs come in.
    public let shape: [Int]
    /// The function (nil: ReLU).
    public let function: EltwiseFunction?
    private let parameters: (algorithm: dnnl_alg_kind_t, alpha: Float, beta: Float, usesOutput: Bool)
    private let forwardPrimitive: DNNLPrimitive
    private let source: LayoutConformer
    private var backward: (primitive: DNNLPrimitive, saved: LayoutConformer, outputGradient: LayoutConformer)?
    /// For a padded blocked layout where oneDNN's backward is only its reference loops: the same
    /// backward over the buffers read as flat arrays (element-wise work does not care about layout;
    /// the padding holds zeros in dy, so dx's padding comes out zero), with views onto them.
    private var flatBackward: (primitive: DNNLPrimitive, saved: DNNLMemory, dy: DNNLMemory, dx: DNNLMemory)?
    /// Whether the backward (made by its first call) runs over flat buffers (for tests).
    var backwardIsFlat: Bool { flatBackward != nil }

    /// `function` nil: ReLU (its backward reads the output). `layout`: the layout inputs will come in (nil: plain).
    init(_ function: EltwiseFunction?, shape: [Int], layout: dnnl_memory_desc_t?) throws {
        self.shape = shape
        self.function = function
        parameters = function?.parameters ?? (dnnl_eltwise_relu_use_dst_for_bwd, 0, 0, true)
        var data = try layout ?? DNNLLayout.plain(shape)
        var descriptor = dnnl_eltwise_desc_t()
        try check(dnnl_eltwise_forward_desc_init(&descriptor, dnnl_forward_training, parameters.algorithm, &data, parameters.alpha, parameters.beta),
                  "describing \(function.map { "\($0)" } ?? "a ReLU") over \(shape)")
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(shape.reduce(1, *)), what: "an eltwise function") }
        source = LayoutConformer(shape: shape, layout: forwardPrimitive.layout(dnnl_query_src_md))
    }

    /// A kernel for inputs shaped and laid out like `x`.
    public convenience init(_ function: EltwiseFunction?, for x: KernelInput) throws {
        if case .laidOut(let t) = x { try self.init(function, shape: t.shape, layout: t.layout) } else { try self.init(function, shape: x.shape, layout: nil) }
    }

    /// Whether the backward pass reads the forward's output (else its input).
    public var backwardUsesOutput: Bool { parameters.usesOutput }

    /// Whether `x` arrives in the layout this kernel was made for (else it would be reordered).
    public func fits(_ x: KernelInput) -> Bool {
        guard x.shape == shape else { return false }
        if case .laidOut(let t) = x { return DNNLLayout.equal(t.layout, source.layout) }
        return (try? DNNLLayout.plain(shape)).map { DNNLLayout.equal($0, source.layout) } ?? false
    }

    /// f(x), in the primitive's layout (x's, when it came laid out).
    public func forward(_ x: KernelInput) throws -> DNNLTensor {
        let y = try DNNLTensor(shape: shape, layout: forwardPrimitive.layout(dnnl_query_dst_md))
        try x.withMemory(source) { try forwardPrimitive.execute([(DNNL_ARG_SRC, $0), (DNNL_ARG_DST, y.memory)]) }
        return y
    }

    /// dx = dy·f′, `saved` being the forward's output when `backwardUsesOutput`, else its input.
    public func backward(_ dy: KernelInput, saved: KernelInput) throws -> DNNLTensor {
        if backward == nil {
            var data = forwardPrimitive.layout(dnnl_query_dst_md)
            var diff = data
            var descriptor = dnnl_eltwise_desc_t()
            try check(dnnl_eltwise_backward_desc_init(&descriptor, parameters.algorithm, &diff, &data, parameters.alpha, parameters.beta),
                      "describing an eltwise backward pass")
            let primitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .elements(shape.reduce(1, *)), what: "an eltwise backward pass")
            }
            backward = (primitive, LayoutConformer(shape: shape, layout: primitive.layout(backwardUsesOutput ? dnnl_query_dst_md : dnnl_query_src_md)),
                        LayoutConformer(shape: shape, layout: primitive.layout(dnnl_query_diff_dst_md)))
            if primitive.implementation.hasPrefix("ref"), BufferPool.hasPadding(data), DNNLLayout.equal(data, primitive.layout(dnnl_query_diff_src_md)),
               DNNLLayout.equal(data, primitive.layout(dnnl_query_diff_dst_md)), finiteSlopeAtZero {
                flatBackward = try makeFlatBackward(physicalElements: dnnl_memory_desc_get_size(&data) / MemoryLayout<Float>.stride)
            }
        }
        let (primitive, savedConformer, gradientConformer) = backward!
        let dx = try DNNLTensor(shape: shape, layout: primitive.layout(dnnl_query_diff_src_md))
        try saved.withMemory(savedConformer) { savedMemory in
            try dy.withMemory(gradientConformer) { dyMemory in
                if let flat = flatBackward {
                    flat.saved.point(at: savedMemory.pointer)
                    flat.dy.point(at: dyMemory.pointer)
                    flat.dx.point(at: dx.memory.pointer)
                    try flat.primitive.execute([(backwardUsesOutput ? DNNL_ARG_DST : DNNL_ARG_SRC, flat.saved), (DNNL_ARG_DIFF_DST, flat.dy), (DNNL_ARG_DIFF_SRC, flat.dx)])
                } else {
                    try primitive.execute([(backwardUsesOutput ? DNNL_ARG_DST : DNNL_ARG_SRC, savedMemory), (DNNL_ARG_DIFF_DST, dyMemory), (DNNL_ARG_DIFF_SRC, dx.memory)])
                }
            }
        }
        return dx
    }

    /// Whether f′ is finite where the padding's zeros are (so 0 · f′(0) = 0): not √x, log x or powers.
    private var finiteSlopeAtZero: Bool {
        switch function {
        case .sqrt?, .log?, .power?: return false
        default: return true
        }
    }

    /// The backward over `physicalElements` floats in a row (see `flatBackward`).
    private func makeFlatBackward(physicalElements: Int) throws -> (primitive: DNNLPrimitive, saved: DNNLMemory, dy: DNNLMemory, dx: DNNLMemory) {
        var flat = try DNNLLayout.plain([physicalElements]), diff = flat
        var forward = dnnl_eltwise_desc_t(), descriptor = dnnl_eltwise_desc_t()
        try check(dnnl_eltwise_forward_desc_init(&forward, dnnl_forward_training, parameters.algorithm, &flat, parameters.alpha, parameters.beta),
                  "describing a flat eltwise function")
        let hint = try withUnsafePointer(to: &forward) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(physicalElements), what: "a flat eltwise function") }
        try check(dnnl_eltwise_backward_desc_init(&descriptor, parameters.algorithm, &diff, &flat, parameters.alpha, parameters.beta),
                  "describing a flat eltwise backward pass")
        let primitive = try withUnsafePointer(to: &descriptor) {
            try DNNLPrimitive(UnsafeRawPointer($0), hint: hint, work: .elements(physicalElements), what: "a flat eltwise backward pass")
        }
        return (primitive, try DNNLMemory(flat, owning: false), try DNNLMemory(flat, owning: false), try DNNLMemory(flat, owning: false))
    }
}

/// ReLU forward and backward in the layout its input arrives in. The backward reads the forward's
/// output: y > 0 exactly where x > 0, so dx = dy · [y > 0] is the exact gradient and x need not be kept.
public final class ReLUKernel: LaidOutEltwiseKernel {
    init(shape: [Int], layout: dnnl_memory_desc_t?) throws {
        try super.init(nil, shape: shape, layout: layout)
    }

    /// A kernel for inputs shaped and laid out like `x`.
    public convenience init(for x: KernelInput) throws {
        if case .laidOut(let t) = x { try self.init(shape: t.shape, layout: t.layout) } else { try self.init(shape: x.shape, layout: nil) }
    }

    /// dy · [y > 0], with y this kernel's (or a fused convolution's) ReLU output.
    public func backward(_ dy: KernelInput, output y: KernelInput) throws -> DNNLTensor {
        try backward(dy, saved: y)
    }
}
