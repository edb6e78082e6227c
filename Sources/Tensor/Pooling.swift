import CDNNL

/// Max and average pooling, forward and backward, through oneDNN, in the layout its input arrives in
/// (pooling takes its source layout as given; the output and gradients follow it). Max pooling
/// keeps oneDNN's workspace (the arg-max positions) from the last forward for the backward pass.
public final class PoolingKernel {
    /// Max pooling, or averaging with or without the padded zeros in the count.
    public enum Kind: Sendable { case max, averageIncludingPadding, averageExcludingPadding }

    /// The input's shape [N, C, spatial…].
    public let input: [Int]
    /// The output's shape.
    public let output: [Int]
    /// Max or average.
    public let kind: Kind
    private let forwardPrimitive: DNNLPrimitive
    private let source: LayoutConformer
    private let workspace: DNNLMemory?
    private let kernel, strides, dilations, padsBegin, padsEnd: [Int]
    private var backward: (primitive: DNNLPrimitive, outputGradient: LayoutConformer)?

    /// ONNX geometry; `ceilMode` rounds output sizes up (the extra window reads padding).
    /// `layout`: the layout inputs will arrive in (nil: plain).
    public init(input: [Int], kind: Kind, kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int], padsEnd: [Int], ceilMode: Bool = false,
                layoutOf example: KernelInput? = nil) throws {
        let spatial = input.count - 2
        guard spatial >= 1, spatial <= 3, kernel.count == spatial else { throw KernelError("pooling over input \(input) with kernel \(kernel) is not supported") }
        guard [strides, dilations, padsBegin, padsEnd].allSatisfy({ $0.count == spatial }) else {
            throw KernelError("pooling over \(spatial) spatial axes needs that many strides, dilations and pads (got strides \(strides), dilations \(dilations), pads \(padsBegin)/\(padsEnd))")
        }
        guard (kernel + strides + dilations).allSatisfy({ $0 >= 1 }), (padsBegin + padsEnd).allSatisfy({ $0 >= 0 }) else {
            throw KernelError("pooling needs kernel sizes, strides and dilations of at least 1 and pads of at least 0 (got kernel \(kernel), strides \(strides), dilations \(dilations), pads \(padsBegin)/\(padsEnd))")
        }
        var output = [input[0], input[1]]
        var padsEnd = padsEnd
        for i in 0..<spatial {
            let extent = (kernel[i] - 1) * dilations[i] + 1
            let span = input[2 + i] + padsBegin[i] + padsEnd[i] - extent
            guard span >= 0 else { throw KernelError("pooling window \(kernel) is larger than the padded input \(input)") }
            var size = (ceilMode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1
            // As PyTorch and ONNX: the last window must start inside the input or the left padding.
            if ceilMode, (size - 1) * strides[i] >= input[2 + i] + padsBegin[i] { size -= 1 }
            // oneDNN has no ceil mode: extend the end padding so its floor division gives the same size.
            padsEnd[i] = max(padsEnd[i], (size - 1) * strides[i] + extent - input[2 + i] - padsBegin[i])
            output.append(size)
        }
        self.input = input
        self.output = output
        self.kind = kind
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
        var descriptor = dnnl_pooling_v2_desc_t()
        // Pooling has no "any" for its source: it works in the layout the input comes in.
        var src = try DNNLLayout.plain(input)
        if case .laidOut(let t)? = example { src = t.layout }
        var dst = try DNNLLayout.any(output)
        var (k, s, d, pl, pr) = Self.arrays(kernel, strides, dilations, padsBegin, padsEnd)
        try check(dnnl_pooling_v2_forward_desc_init(&descriptor, dnnl_forward_training, Self.algorithm(kind), &src, &dst, &s, &k, &d, &pl, &pr),
                  "describing pooling over \(input)")
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(input.reduce(1, *)), what: "pooling") }
        source = LayoutConformer(shape: input, layout: forwardPrimitive.layout(dnnl_query_src_md))
        let workspaceDesc = forwardPrimitive.layout(dnnl_query_workspace_md)
        var w = workspaceDesc
        workspace = dnnl_memory_desc_get_size(&w) > 0 ? try DNNLMemory(workspaceDesc, owning: true) : nil
    }

    private static func algorithm(_ kind: Kind) -> dnnl_alg_kind_t {
        switch kind {
        case .max: return dnnl_pooling_max
        case .averageIncludingPadding: return dnnl_pooling_avg_include_padding
        case .averageExcludingPadding: return dnnl_pooling_avg_exclude_padding
        }
    }

    private static func arrays(_ k: [Int], _ s: [Int], _ d: [Int], _ pl: [Int], _ pr: [Int]) -> ([dnnl_dim_t], [dnnl_dim_t], [dnnl_dim_t], [dnnl_dim_t], [dnnl_dim_t]) {
        (k.map { dnnl_dim_t($0) }, s.map { dnnl_dim_t($0) }, d.map { dnnl_dim_t($0 - 1) }, pl.map { dnnl_dim_t($0) }, pr.map { dnnl_dim_t($0) })
    }

    /// Whether `x` arrives in the layout this kernel was made for (else it would be reordered).
    public func fits(_ x: KernelInput) -> Bool {
        guard x.shape == input else { return false }
        if case .laidOut(let t) = x { return DNNLLayout.equal(t.layout, source.layout) }
        return (try? DNNLLayout.plain(input)).map { DNNLLayout.equal($0, source.layout) } ?? false
    }

    /// Pools `x` in the layout it arrives in; max pooling keeps the arg-max positions for `backward`.
    public func forward(_ x: KernelInput) throws -> DNNLTensor {
        guard x.shape == input else { throw KernelError("pooling expected input \(input), got \(x.shape)") }
        let y = try DNNLTensor(shape: output, layout: forwardPrimitive.layout(dnnl_query_dst_md))
        try x.withMemory(source) { xMemory in
            var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_SRC, xMemory), (DNNL_ARG_DST, y.memory)]
            if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
            try forwardPrimitive.execute(args)
        }
        return y
    }

    /// Pools a row-major input, returned row-major.
    public func forward(_ x: Tensor) throws -> Tensor {
        try forward(.plain(x)).plain()
    }

    /// ∂L/∂x from ∂L/∂y, for the last forward, in the input's layout.
    public func backward(_ dy: KernelInput) throws -> DNNLTensor {
        if backward == nil {
            var descriptor = dnnl_pooling_v2_desc_t()
            var diffSrc = forwardPrimitive.layout(dnnl_query_src_md)
            var diffDst = forwardPrimitive.layout(dnnl_query_dst_md)
            var (k, s, d, pl, pr) = Self.arrays(kernel, strides, dilations, padsBegin, padsEnd)
            try check(dnnl_pooling_v2_backward_desc_init(&descriptor, Self.algorithm(kind), &diffSrc, &diffDst, &s, &k, &d, &pl, &pr),
                      "describing pooling's backward pass")
            let primitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .elements(input.reduce(1, *)), what: "pooling's backward pass")
            }
            backward = (primitive, LayoutConformer(shape: output, layout: primitive.layout(dnnl_query_diff_dst_md)))
        }
        let (primitive, outputGradient) = backward!
        guard dy.shape == output else { throw KernelError("pooling expected an output gradient \(output), got \(dy.shape)") }
        let dx = try DNNLTensor(shape: input, layout: primitive.layout(dnnl_query_diff_src_md))
        try dy.withMemory(outputGradient) { dyMemory in
            var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_DIFF_DST, dyMemory), (DNNL_ARG_DIFF_SRC, dx.memory)]
            if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
            try primitive.execute(args)
        }
        return dx
    }

    /// The input gradient for a row-major output gradient (after a `forward` for max pooling).
    public func backward(_ dy: Tensor) throws -> Tensor {
        try backward(.plain(dy)).plain()
    }
}
