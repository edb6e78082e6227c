import CDNNL

/// The geometry of an N-d convolution (1 to 3 spatial dimensions), in ONNX's terms.
public struct ConvolutionGeometry: Hashable, Sendable {
    /// The input's shape [N, C, spatial…].
    public var input: [Int]        // [N, C, spatial…]
    /// The kernel's shape [O, C / groups, kernel…].
    public var weight: [Int]       // [O, C / groups, kernel…]
    /// Channel groups (C for a depthwise convolution).
    public var groups: Int
    /// Stride per spatial dimension.
    public var strides: [Int]
    /// Dilation per spatial dimension (1 = dense).
    public var dilations: [Int]
    /// Zero padding before each spatial dimension.
    public var padsBegin: [Int]
    /// Zero padding after each spatial dimension.
    public var padsEnd: [Int]

    /// A geometry; `validate()` checks it before a kernel is built.
    public init(input: [Int], weight: [Int], groups: Int, strides: [Int], dilations: [Int], padsBegin: [Int], padsEnd: [Int]) {
        self.input = input
        self.weight = weight
        self.groups = groups
        self.strides = strides
        self.dilations = dilations
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
    }

    /// Number of spatial dimensions (1 to 3).
    public var spatialRank: Int { input.count - 2 }

    /// The output's shape [N, O, spatial…] (call after `validate()`).
    public var output: [Int] {
        var shape = [input[0], weight[0]]
        for i in 0..<spatialRank {
            let extent = (weight[2 + i] - 1) * dilations[i] + 1
            shape.append((input[2 + i] + padsBegin[i] + padsEnd[i] - extent) / strides[i] + 1)
        }
        return shape
    }

    /// Multiply–adds of one forward pass (for FLOP counts: ×2).
    public var multiplyAdds: Int {
        output.reduce(1, *) * weight.dropFirst().reduce(1, *)
    }

    /// oneDNN wants grouped weights as [G, O/G, C/G, k…], the same bytes as ONNX's [O, C/G, k…].
    var weightDims: [Int] {
        groups == 1 ? weight : [groups, weight[0] / groups] + weight.dropFirst()
    }

    func validate() throws {
        guard (3...5).contains(input.count), weight.count == input.count else {
            throw KernelError("convolution needs input and weight of rank 3 to 5 (got \(input) and \(weight))")
        }
        guard groups >= 1, input[1] == weight[1] * groups, weight[0] % groups == 0 else {
            throw KernelError("convolution channels do not match: input \(input[1]) channels, weight \(weight), groups \(groups)")
        }
        // Checked before `output` reads them: one stride, dilation and pair of pads per spatial axis, all in range.
        guard [strides, dilations, padsBegin, padsEnd].allSatisfy({ $0.count == spatialRank }) else {
            throw KernelError("convolution of \(spatialRank) spatial axes needs that many strides, dilations and pads (got strides \(strides), dilations \(dilations), pads \(padsBegin)/\(padsEnd))")
        }
        guard strides.allSatisfy({ $0 >= 1 }), dilations.allSatisfy({ $0 >= 1 }), (padsBegin + padsEnd).allSatisfy({ $0 >= 0 }),
              weight.dropFirst(2).allSatisfy({ $0 >= 1 }) else {
            throw KernelError("convolution needs strides, dilations and kernel sizes of at least 1 and pads of at least 0 (got strides \(strides), dilations \(dilations), kernel \(Array(weight.dropFirst(2))), pads \(padsBegin)/\(padsEnd))")
        }
        guard output.dropFirst(2).allSatisfy({ $0 > 0 }) else {
            throw KernelError("convolution output would be empty: input \(input), kernel \(Array(weight.dropFirst(2))), pads \(padsBegin)/\(padsEnd)")
        }
    }

    /// Whether oneDNN's Winograd convolution takes these shapes and pays: two spatial axes, a 3×3 kernel, stride
    /// and dilation 1, one group, channels in multiples of 16 (its blocks), and at least 4 output pixels (over the
    /// batch) per channel. With fewer, transforming the weights costs more than the multiplications saved
    /// (ResNet-18's 512 channels on 7×7 maps: 4.7 ms against the direct 1.7 at batch 1).
    public var suitsWinograd: Bool {
        let pixels = output.dropFirst(2).reduce(output[0], *)
        return weight.count == 4 && weight[2] == 3 && weight[3] == 3 && groups == 1
            && strides.allSatisfy { $0 == 1 } && dilations.allSatisfy { $0 == 1 }
            && input[1] % 16 == 0 && weight[0] % 16 == 0 && pixels >= 4 * max(input[1], weight[0])
    }
}

/// Convolution forward, backward-data and backward-weights through oneDNN. Primitives and
/// weight reorders are made once; activations go in and out in the layouts the primitives chose
/// (`format_tag any`), in buffers reused from call to call. `fusedReLU` applies max(0, ·) to the
/// output as an eltwise post-op (Conv → Relu in one pass); its gradient then goes through
/// `preActivationGradient` first. The weight gradient (for weights that are not constants) stays
/// on plain tensors. ConvTranspose runs as this kernel's adjoint (Graph/Ops/Convolution.swift).
/// On AVX2 machines a 3×3 convolution that `WinogradConvolution.suits` runs its forward, and its input
/// gradient where `winogradBackwardData` allows, through that kernel instead of oneDNN's direct one
/// (whose forward weights are then not laid out).
public final class ConvolutionKernel {
    /// The shapes this kernel was built for.
    public let geometry: ConvolutionGeometry
    /// Whether max(0, ·) runs as a post-op of the convolution.
    public let fusedReLU: Bool
    /// Whether `backwardData` may use Winograd's arithmetic (oneDNN's F(4×4, 3×3)) where oneDNN has it: 3×3
    /// kernels, stride and dilation 1, one group, channels in multiples of 16, enough pixels (`suitsWinograd`). It does about half the
    /// multiplications of the direct convolution; results stay deterministic (the same bits on every run and
    /// thread count) and differ from the direct convolution's by a few 1e-6 relative. Forward results never
    /// use it, so set it where `backwardData` is a gradient (Conv), not where it is a forward (ConvTranspose).
    /// On AVX2 it also lets `backwardData` use `WinogradConvolution`, whose F(2×2, 3×3) the forward uses too; and on
    /// any machine it lets a strided convolution on an image use `PhaseGradient` (rounding differences as well).
    public let winogradBackwardData: Bool
    private let forwardPrimitive: DNNLPrimitive
    private let source: LayoutConformer
    /// The weights in the forward primitive's layout; nil when `winograd` runs the forward instead.
    private let weights: ConstantMemory?
    private let bias: DNNLMemory?
    private var backwardData: (primitive: DNNLPrimitive, outputGradient: LayoutConformer, weights: ConstantMemory)?
    private var relu: ReLUKernel?
    private var backwardWeights: (primitive: DNNLPrimitive, source: LayoutBridge, diffDestination: LayoutBridge, diffWeights: LayoutBridge, diffBias: DNNLMemory?)?
    private var weightValues: Tensor
    /// Our own Winograd F(2×2, 3×3), for both directions, where it takes the shapes (`WinogradConvolution.suits`)
    /// and the primitive reads and writes 8-channel blocks (AVX2): oneDNN has no Winograd kernel there.
    private let winograd: (kernel: WinogradConvolution, gradient: LayoutConformer)?
    /// The input gradient of a strided convolution on an image (`PhaseGradient.suits`) as one stride-1 convolution,
    /// where `winogradBackwardData` allows and ∂L/∂x is row-major (the forward reads the image plain).
    private let phases: PhaseGradient?

    /// Builds the primitives for `geometry` with these weights (and bias); throws on a geometry or weight shape oneDNN
    /// cannot take. `fusedReLU` and `winogradBackwardData`: see the properties of those names. `ownKernels: false`
    /// keeps oneDNN's direct kernels where `WinogradConvolution` or `PhaseGradient` would run (for benchmarks that compare them).
    public init(_ geometry: ConvolutionGeometry, weight: Tensor, bias: Tensor?, fusedReLU: Bool = false, winogradBackwardData: Bool = false,
                ownKernels: Bool = true) throws {
        try geometry.validate()
        guard weight.shape == geometry.weight else { throw KernelError("weight shape \(weight.shape) differs from \(geometry.weight)") }
        self.geometry = geometry
        self.fusedReLU = fusedReLU
        self.winogradBackwardData = winogradBackwardData
        self.weightValues = weight
        var descriptor = dnnl_convolution_desc_t()
        var src = try DNNLLayout.any(geometry.input)
        var wei = try DNNLLayout.any(geometry.weightDims)
        var dst = try DNNLLayout.any(geometry.output)
        var biasDesc = try DNNLLayout.plain([geometry.weight[0]])
        var (strides, dilations, padL, padR) = Self.spatialArrays(geometry)
        let hasBias = bias != nil
        try withUnsafePointer(to: &biasDesc) { biasPointer in
            try check(dnnl_dilated_convolution_forward_desc_init(
                &descriptor, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, hasBias ? biasPointer : nil, &dst,
                &strides, &dilations, &padL, &padR), "describing a convolution \(geometry.input) * \(geometry.weight)")
        }
        let attributes = fusedReLU ? try Self.reluPostOp() : nil
        defer { if let attributes { dnnl_primitive_attr_destroy(attributes) } }
        forwardPrimitive = try withUnsafePointer(to: &descriptor) {
            try DNNLPrimitive(UnsafeRawPointer($0), attributes: attributes, work: .flops(2 * geometry.multiplyAdds), what: "a convolution")
        }
        source = LayoutConformer(shape: geometry.input, layout: forwardPrimitive.layout(dnnl_query_src_md))
        let dstLayout = forwardPrimitive.layout(dnnl_query_dst_md)
        if ownKernels, WinogradConvolution.suits(geometry),
           let blockedSource = try DNNLLayout.channelBlocked(geometry.input, block: 8), DNNLLayout.equal(blockedSource, source.layout),
           let blockedOutput = try DNNLLayout.channelBlocked(geometry.output, block: 8), DNNLLayout.equal(blockedOutput, dstLayout) {
            winograd = (try WinogradConvolution(geometry, weight: weight, bias: bias, relu: fusedReLU), LayoutConformer(shape: geometry.output, layout: dstLayout))
        } else {
            winograd = nil
        }
        let plainSource = try DNNLLayout.plain(geometry.input)
        phases = ownKernels && winogradBackwardData && PhaseGradient.suits(geometry) && DNNLLayout.equal(source.layout, plainSource)
            ? try PhaseGradient(geometry, weight: weight) : nil
        weights = winograd != nil ? nil : try ConstantMemory(weight, dims: geometry.weightDims, native: forwardPrimitive.layout(dnnl_query_weights_md))
        if let bias {
            let memory = try DNNLMemory(biasDesc, owning: true)
            bias.data.withUnsafeBytes { memory.pointer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            self.bias = memory
        } else {
            self.bias = nil
        }
    }

    /// Attributes asking for max(0, ·) on the convolution's output.
    private static func reluPostOp() throws -> dnnl_primitive_attr_t {
        var attributes: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attributes), "creating primitive attributes")
        var postOps: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&postOps), "creating post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        try check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "adding a ReLU post-op")
        try check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "setting post-ops")
        return attributes!
    }

    static func spatialArrays(_ g: ConvolutionGeometry) -> ([dnnl_dim_t], [dnnl_dim_t], [dnnl_dim_t], [dnnl_dim_t]) {
        (g.strides.map { dnnl_dim_t($0) }, g.dilations.map { dnnl_dim_t($0 - 1) },   // oneDNN counts dilation from 0
         g.padsBegin.map { dnnl_dim_t($0) }, g.padsEnd.map { dnnl_dim_t($0) })
    }

    /// The output in the primitive's layout: a new tensor, its buffer from `BufferPool`.
    public func forward(_ x: KernelInput) throws -> DNNLTensor {
        guard x.shape == geometry.input else { throw KernelError("convolution expected input \(geometry.input), got \(x.shape)") }
        let y = try DNNLTensor(shape: geometry.output, layout: forwardPrimitive.layout(dnnl_query_dst_md))
        if let winograd {
            try x.withMemory(source) { xMemory in
                try winograd.kernel.forward(UnsafePointer(xMemory.pointer!.assumingMemoryBound(to: Float.self)),
                                            into: y.memory.pointer!.assumingMemoryBound(to: Float.self))
            }
            return y
        }
        guard let weights else { throw KernelError("convolution \(geometry.input) * \(geometry.weight) has no weights laid out for its direct forward") }
        try x.withMemory(source) { xMemory in
            var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_SRC, xMemory), (DNNL_ARG_WEIGHTS, weights.memory), (DNNL_ARG_DST, y.memory)]
            if let bias { args.append((DNNL_ARG_BIAS, bias)) }
            try forwardPrimitive.execute(args)
        }
        return y
    }

    /// `x` as a tensor in the layout the forward reads, or (with `gradient`) an output gradient in the layout the
    /// forward writes: what the kernels before this one hand over in a graph (benchmarks time calls on these).
    public func laidOut(_ x: KernelInput, gradient: Bool) throws -> DNNLTensor {
        let layout = forwardPrimitive.layout(gradient ? dnnl_query_dst_md : dnnl_query_src_md)
        let tensor = try DNNLTensor(shape: gradient ? geometry.output : geometry.input, layout: layout)
        try LayoutConformer(shape: tensor.shape, layout: layout).write(x, into: tensor.memory)
        return tensor
    }

    /// The convolution of a row-major input, returned row-major.
    public func forward(_ x: Tensor) throws -> Tensor {
        try forward(.plain(x)).plain()
    }

    /// ∂L/∂(convolution before the fused ReLU) from ∂L/∂y and the forward's output y: dy · [y > 0]
    /// when a ReLU is fused, dy itself otherwise.
    public func preActivationGradient(_ dy: KernelInput, output y: KernelInput) throws -> KernelInput {
        guard fusedReLU else { return dy }
        if relu == nil { relu = try ReLUKernel(shape: geometry.output, layout: forwardPrimitive.layout(dnnl_query_dst_md)) }
        return .laidOut(try relu!.backward(dy, output: y))
    }

    /// Whether the forward runs through `WinogradConvolution` (and the input gradient too, with `winogradBackwardData`).
    public var runsWinograd: Bool { winograd != nil }

    /// Whether the input gradient runs through `PhaseGradient`.
    public var runsPhaseGradient: Bool { phases != nil }

    /// oneDNN's name for the backward-data kernel, once `backwardData` has run ("jit_wino_4x3:avx512_core" for
    /// Winograd), for tests.
    var backwardDataImplementation: String? { backwardData?.primitive.implementation }

    /// ∂L/∂x from ∂L/∂(pre-activation output), in the backward primitive's layout.
    public func backwardData(_ dy: KernelInput) throws -> DNNLTensor {
        if let winograd, winogradBackwardData {
            guard dy.shape == geometry.output else { throw KernelError("convolution expected an output gradient \(geometry.output), got \(dy.shape)") }
            let dx = try DNNLTensor(shape: geometry.input, layout: forwardPrimitive.layout(dnnl_query_src_md))
            try dy.withMemory(winograd.gradient) { dyMemory in
                try winograd.kernel.backwardData(UnsafePointer(dyMemory.pointer!.assumingMemoryBound(to: Float.self)),
                                                 into: dx.memory.pointer!.assumingMemoryBound(to: Float.self))
            }
            return dx
        }
        if let phases {
            guard dy.shape == geometry.output else { throw KernelError("convolution expected an output gradient \(geometry.output), got \(dy.shape)") }
            return try phases.backwardData(dy)
        }
        if backwardData == nil {
            // ∂L/∂x in the forward source's layout: for few input channels (an image) that is plain,
            // where "any" would pad the channels to a block of 16 and reorder 16× the data back.
            let primitive = try (winogradBackwardData && geometry.suitsWinograd ? winogradBackwardDataPrimitive() : nil)
                ?? backwardDataPrimitive(dnnl_convolution_direct, diffSource: forwardPrimitive.layout(dnnl_query_src_md))
            let weightBridge = try ConstantMemory(weightValues, dims: geometry.weightDims, native: primitive.layout(dnnl_query_weights_md))
            backwardData = (primitive, LayoutConformer(shape: geometry.output, layout: primitive.layout(dnnl_query_diff_dst_md)), weightBridge)
        }
        let (primitive, outputGradient, weightBridge) = backwardData!
        guard dy.shape == geometry.output else { throw KernelError("convolution expected an output gradient \(geometry.output), got \(dy.shape)") }
        let dx = try DNNLTensor(shape: geometry.input, layout: primitive.layout(dnnl_query_diff_src_md))
        try dy.withMemory(outputGradient) { dyMemory in
            try primitive.execute([(DNNL_ARG_DIFF_DST, dyMemory), (DNNL_ARG_WEIGHTS, weightBridge.memory), (DNNL_ARG_DIFF_SRC, dx.memory)])
        }
        return dx
    }

    /// The backward-data primitive with `algorithm`, ∂L/∂x in `diffSource` (any layout by default).
    private func backwardDataPrimitive(_ algorithm: dnnl_alg_kind_t, diffSource: dnnl_memory_desc_t? = nil) throws -> DNNLPrimitive {
        var descriptor = dnnl_convolution_desc_t()
        var diffSrc = try diffSource ?? DNNLLayout.any(geometry.input)
        var wei = try DNNLLayout.any(geometry.weightDims)
        var diffDst = try DNNLLayout.any(geometry.output)
        var (strides, dilations, padL, padR) = Self.spatialArrays(geometry)
        try check(dnnl_dilated_convolution_backward_data_desc_init(
            &descriptor, algorithm, &diffSrc, &wei, &diffDst, &strides, &dilations, &padL, &padR),
            "describing a convolution's backward pass")
        return try withUnsafePointer(to: &descriptor) {
            try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .flops(2 * geometry.multiplyAdds), what: "a convolution's backward pass")
        }
    }

    /// The Winograd backward-data primitive, or nil when oneDNN has no Winograd kernel for these shapes on this
    /// CPU (it covers fewer than the direct algorithm, which covers all): the direct one then serves.
    private func winogradBackwardDataPrimitive() -> DNNLPrimitive? {
        do {
            return try backwardDataPrimitive(dnnl_convolution_winograd)
        } catch {
            return nil
        }
    }

    /// ∂L/∂x from ∂L/∂y, plain (a kernel without a fused ReLU).
    public func backwardData(_ dy: Tensor) throws -> Tensor {
        precondition(!fusedReLU, "a fused ReLU's gradient needs the forward output: use preActivationGradient")
        return try backwardData(.plain(dy)).plain()
    }

    /// ∂L/∂W and ∂L/∂b from the forward input and ∂L/∂y (for training and weight gradients).
    public func backwardWeights(input x: Tensor, gradient dy: Tensor) throws -> (weight: Tensor, bias: Tensor?) {
        if backwardWeights == nil {
            var descriptor = dnnl_convolution_desc_t()
            var src = try DNNLLayout.any(geometry.input)
            var diffWei = try DNNLLayout.any(geometry.weightDims)
            var diffBias = try DNNLLayout.plain([geometry.weight[0]])
            var diffDst = try DNNLLayout.any(geometry.output)
            var (strides, dilations, padL, padR) = Self.spatialArrays(geometry)
            let hasBias = bias != nil
            try withUnsafePointer(to: &diffBias) { biasPointer in
                try check(dnnl_dilated_convolution_backward_weights_desc_init(
                    &descriptor, dnnl_convolution_direct, &src, &diffWei, hasBias ? biasPointer : nil, &diffDst,
                    &strides, &dilations, &padL, &padR), "describing a convolution's weight gradient")
            }
            let primitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .flops(2 * geometry.multiplyAdds), what: "a convolution's weight gradient")
            }
            backwardWeights = (primitive,
                               try LayoutBridge(plainDims: geometry.input, native: primitive.layout(dnnl_query_src_md)),
                               try LayoutBridge(plainDims: geometry.output, native: primitive.layout(dnnl_query_diff_dst_md)),
                               try LayoutBridge(plainDims: geometry.weightDims, native: primitive.layout(dnnl_query_diff_weights_md)),
                               bias == nil ? nil : try DNNLMemory(diffBias, owning: true))
        }
        let (primitive, source, diffDestination, diffWeights, diffBias) = backwardWeights!
        var dw = Tensor.zeros(geometry.weight)
        try x.data.withUnsafeBytes { xs in
            try dy.data.withUnsafeBytes { dys in
                try dw.data.withUnsafeMutableBytes { dws in
                    // Sources are only read: borrowing their storage avoids copy-on-write copies.
                    try source.load(UnsafeMutableRawPointer(mutating: xs.baseAddress!))
                    try diffDestination.load(UnsafeMutableRawPointer(mutating: dys.baseAddress!))
                    diffWeights.prepareOutput(dws.baseAddress!)
                    var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_SRC, source.memory), (DNNL_ARG_DIFF_DST, diffDestination.memory),
                                                       (DNNL_ARG_DIFF_WEIGHTS, diffWeights.memory)]
                    if let diffBias { args.append((DNNL_ARG_DIFF_BIAS, diffBias)) }
                    try primitive.execute(args)
                    try diffWeights.store()
                }
            }
        }
        var db: Tensor?
        if let diffBias {
            let n = geometry.weight[0]
            let values = diffBias.pointer!.assumingMemoryBound(to: Float.self)
            db = Tensor(shape: [n], data: Array(UnsafeBufferPointer(start: values, count: n)))
        }
        return (dw, db)
    }
}
