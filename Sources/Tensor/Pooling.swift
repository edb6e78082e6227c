import CDNNL

/// Max and average pooling, forward and backward, through oneDNN. Max pooling keeps oneDNN's
/// workspace (the arg-max positions) from the last forward for the backward pass.
public final class PoolingKernel {
    public enum Kind: Sendable { case max, averageIncludingPadding, averageExcludingPadding }

    public let input: [Int]
    public let output: [Int]
    public let kind: Kind
    private let forwardPrimitive: DNNLPrimitive
    private let source, destination: LayoutBridge
    private let workspace: DNNLMemory?
    private let kernel, strides, dilations, padsBegin, padsEnd: [Int]
    private var backward: (primitive: DNNLPrimitive, diffSource: LayoutBridge, diffDestination: LayoutBridge)?

    /// ONNX geometry; `ceilMode` rounds output sizes up (the extra window reads padding).
    public init(input: [Int], kind: Kind, kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int], padsEnd: [Int], ceilMode: Bool = false) throws {
        let spatial = input.count - 2
        guard spatial >= 1, spatial <= 3, kernel.count == spatial else { throw KernelError("pooling over input \(input) with kernel \(kernel) is not supported") }
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
        // Pooling takes its source layout as given (it has no "any" for src); activations are plain for now.
        var src = try DNNLLayout.plain(input)
        var dst = try DNNLLayout.any(output)
        var (k, s, d, pl, pr) = Self.arrays(kernel, strides, dilations, padsBegin, padsEnd)
        try check(dnnl_pooling_v2_forward_desc_init(&descriptor, dnnl_forward_training, Self.algorithm(kind), &src, &dst, &s, &k, &d, &pl, &pr),
                  "describing pooling over \(input)")
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), what: "pooling") }
        source = try LayoutBridge(plainDims: input, native: forwardPrimitive.layout(dnnl_query_src_md))
        destination = try LayoutBridge(plainDims: output, native: forwardPrimitive.layout(dnnl_query_dst_md))
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

    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.shape == input else { throw KernelError("pooling expected input \(input), got \(x.shape)") }
        var y = Tensor.zeros(output)
        var x = x
        try x.data.withUnsafeMutableBytes { xs in
            try y.data.withUnsafeMutableBytes { ys in
                try source.load(xs.baseAddress!)
                destination.prepareOutput(ys.baseAddress!)
                var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_SRC, source.memory), (DNNL_ARG_DST, destination.memory)]
                if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
                try forwardPrimitive.execute(args)
                try destination.store()
            }
        }
        return y
    }

    /// ∂L/∂x from ∂L/∂y, for the last forward.
    public func backward(_ dy: Tensor) throws -> Tensor {
        if backward == nil {
            var descriptor = dnnl_pooling_v2_desc_t()
            var diffSrc = try DNNLLayout.plain(input)
            var diffDst = try DNNLLayout.plain(output)
            var (k, s, d, pl, pr) = Self.arrays(kernel, strides, dilations, padsBegin, padsEnd)
            try check(dnnl_pooling_v2_backward_desc_init(&descriptor, Self.algorithm(kind), &diffSrc, &diffDst, &s, &k, &d, &pl, &pr),
                      "describing pooling's backward pass")
            let primitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, what: "pooling's backward pass")
            }
            backward = (primitive,
                        try LayoutBridge(plainDims: input, native: primitive.layout(dnnl_query_diff_src_md)),
                        try LayoutBridge(plainDims: output, native: primitive.layout(dnnl_query_diff_dst_md)))
        }
        let (primitive, diffSource, diffDestination) = backward!
        var dx = Tensor.zeros(input)
        var dy = dy
        try dy.data.withUnsafeMutableBytes { dys in
            try dx.data.withUnsafeMutableBytes { dxs in
                try diffDestination.load(dys.baseAddress!)
                diffSource.prepareOutput(dxs.baseAddress!)
                var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_DIFF_DST, diffDestination.memory), (DNNL_ARG_DIFF_SRC, diffSource.memory)]
                if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
                try primitive.execute(args)
                try diffSource.store()
            }
        }
        return dx
    }
}
