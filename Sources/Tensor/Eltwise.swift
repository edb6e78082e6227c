import CDNNL

/// ReLU forward and backward through oneDNN's eltwise primitive, in the layout its input arrives in
/// (no reorder inside a blocked chain). The backward reads the forward's output: y > 0 exactly
/// where x > 0, so dx = dy · [y > 0] is the exact gradient and x need not be kept.
public final class ReLUKernel {
    public let shape: [Int]
    private let forwardPrimitive: DNNLPrimitive
    private let source: LayoutConformer
    private var output = RecycledOutput()
    private var backward: (primitive: DNNLPrimitive, output: LayoutConformer, outputGradient: LayoutConformer)?
    private var inputGradient = RecycledOutput()

    /// `layout`: the layout inputs will come in (nil: plain).
    init(shape: [Int], layout: dnnl_memory_desc_t?) throws {
        self.shape = shape
        var data = try layout ?? DNNLLayout.plain(shape)
        var descriptor = dnnl_eltwise_desc_t()
        try check(dnnl_eltwise_forward_desc_init(&descriptor, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &data, 0, 0),
                  "describing a ReLU over \(shape)")
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(shape.reduce(1, *)), what: "a ReLU") }
        source = LayoutConformer(shape: shape, layout: forwardPrimitive.layout(dnnl_query_src_md))
    }

    /// A kernel for inputs shaped and laid out like `x`.
    public convenience init(for x: KernelInput) throws {
        if case .laidOut(let t) = x { try self.init(shape: t.shape, layout: t.layout) } else { try self.init(shape: x.shape, layout: nil) }
    }

    /// Whether `x` arrives in the layout this kernel was made for (else it would be reordered).
    public func fits(_ x: KernelInput) -> Bool {
        guard x.shape == shape else { return false }
        if case .laidOut(let t) = x { return DNNLLayout.equal(t.layout, source.layout) }
        return (try? DNNLLayout.plain(shape)).map { DNNLLayout.equal($0, source.layout) } ?? false
    }

    public func forward(_ x: KernelInput) throws -> DNNLTensor {
        let y = try output.take(shape: shape, layout: forwardPrimitive.layout(dnnl_query_dst_md))
        try x.withMemory(source) { try forwardPrimitive.execute([(DNNL_ARG_SRC, $0), (DNNL_ARG_DST, y.memory)]) }
        return y
    }

    /// dy · [y > 0], with y this kernel's (or a fused convolution's) ReLU output.
    public func backward(_ dy: KernelInput, output y: KernelInput) throws -> DNNLTensor {
        if backward == nil {
            var data = forwardPrimitive.layout(dnnl_query_dst_md)
            var diff = data
            var descriptor = dnnl_eltwise_desc_t()
            try check(dnnl_eltwise_backward_desc_init(&descriptor, dnnl_eltwise_relu_use_dst_for_bwd, &diff, &data, 0, 0),
                      "describing a ReLU's backward pass")
            let primitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .elements(shape.reduce(1, *)), what: "a ReLU's backward pass")
            }
            backward = (primitive, LayoutConformer(shape: shape, layout: primitive.layout(dnnl_query_dst_md)),
                        LayoutConformer(shape: shape, layout: primitive.layout(dnnl_query_diff_dst_md)))
        }
        let (primitive, outputConformer, gradientConformer) = backward!
        let dx = try inputGradient.take(shape: shape, layout: primitive.layout(dnnl_query_diff_src_md))
        try y.withMemory(outputConformer) { yMemory in
            try dy.withMemory(gradientConformer) { dyMemory in
                try primitive.execute([(DNNL_ARG_DST, yMemory), (DNNL_ARG_DIFF_DST, dyMemory), (DNNL_ARG_DIFF_SRC, dx.memory)])
            }
        }
        return dx
    }
}
