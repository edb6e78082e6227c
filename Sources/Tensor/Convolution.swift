import CDNNL

/// The geometry of an N-d convolution (1 to 3 spatial dimensions), in ONNX's terms.
public struct ConvolutionGeometry: Hashable, Sendable {
    public var input: [Int]        // [N, C, spatial…]
    public var weight: [Int]       // [O, C / groups, kernel…]
    public var groups: Int
    public var strides: [Int]
    public var dilations: [Int]
    public var padsBegin: [Int]
    public var padsEnd: [Int]

    public init(input: [Int], weight: [Int], groups: Int, strides: [Int], dilations: [Int], padsBegin: [Int], padsEnd: [Int]) {
        self.input = input
        self.weight = weight
        self.groups = groups
        self.strides = strides
        self.dilations = dilations
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
    }

    public var spatialRank: Int { input.count - 2 }

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
        guard output.dropFirst(2).allSatisfy({ $0 > 0 }) else {
            throw KernelError("convolution output would be empty: input \(input), kernel \(Array(weight.dropFirst(2))), pads \(padsBegin)/\(padsEnd)")
        }
    }
}

/// Convolution forward, backward-data and backward-weights through oneDNN. Primitives and
/// weight reorders are made once; each call only points oneDNN at the caller's buffers.
/// `transposed` makes it a deconvolution (ONNX ConvTranspose), whose weight is [C, O / groups, k…].
public final class ConvolutionKernel {
    public let geometry: ConvolutionGeometry
    private let forwardPrimitive: DNNLPrimitive
    private let source: LayoutBridge
    private let destination: LayoutBridge
    private let weights: ConstantMemory
    private let bias: DNNLMemory?
    private var backwardData: (primitive: DNNLPrimitive, diffSource: LayoutBridge, diffDestination: LayoutBridge, weights: ConstantMemory)?
    private var backwardWeights: (primitive: DNNLPrimitive, source: LayoutBridge, diffDestination: LayoutBridge, diffWeights: LayoutBridge, diffBias: DNNLMemory?)?
    private var weightValues: Tensor

    public init(_ geometry: ConvolutionGeometry, weight: Tensor, bias: Tensor?) throws {
        try geometry.validate()
        guard weight.shape == geometry.weight else { throw KernelError("weight shape \(weight.shape) differs from \(geometry.weight)") }
        self.geometry = geometry
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
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), what: "a convolution") }
        source = try LayoutBridge(plainDims: geometry.input, native: forwardPrimitive.layout(dnnl_query_src_md))
        destination = try LayoutBridge(plainDims: geometry.output, native: forwardPrimitive.layout(dnnl_query_dst_md))
        weights = try ConstantMemory(weight, dims: geometry.weightDims, native: forwardPrimitive.layout(dnnl_query_weights_md))
        if let bias {
            let memory = try DNNLMemory(biasDesc, owning: true)
            bias.data.withUnsafeBytes { memory.pointer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            self.bias = memory
        } else {
            self.bias = nil
        }
    }

    static func spatialArrays(_ g: ConvolutionGeometry) -> ([dnnl_dim_t], [dnnl_dim_t], [dnnl_dim_t], [dnnl_dim_t]) {
        (g.strides.map { dnnl_dim_t($0) }, g.dilations.map { dnnl_dim_t($0 - 1) },   // oneDNN counts dilation from 0
         g.padsBegin.map { dnnl_dim_t($0) }, g.padsEnd.map { dnnl_dim_t($0) })
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.shape == geometry.input else { throw KernelError("convolution expected input \(geometry.input), got \(x.shape)") }
        var y = Tensor.zeros(geometry.output)
        var x = x
        try x.data.withUnsafeMutableBytes { xs in
            try y.data.withUnsafeMutableBytes { ys in
                try source.load(xs.baseAddress!)
                destination.prepareOutput(ys.baseAddress!)
                var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_SRC, source.memory), (DNNL_ARG_WEIGHTS, weights.memory), (DNNL_ARG_DST, destination.memory)]
                if let bias { args.append((DNNL_ARG_BIAS, bias)) }
                try forwardPrimitive.execute(args)
                try destination.store()
            }
        }
        return y
    }

    /// ∂L/∂x from ∂L/∂y.
    public func backwardData(_ dy: Tensor) throws -> Tensor {
        if backwardData == nil {
            var descriptor = dnnl_convolution_desc_t()
            var diffSrc = try DNNLLayout.any(geometry.input)
            var wei = try DNNLLayout.any(geometry.weightDims)
            var diffDst = try DNNLLayout.any(geometry.output)
            var (strides, dilations, padL, padR) = Self.spatialArrays(geometry)
            try check(dnnl_dilated_convolution_backward_data_desc_init(
                &descriptor, dnnl_convolution_direct, &diffSrc, &wei, &diffDst, &strides, &dilations, &padL, &padR),
                "describing a convolution's backward pass")
            let primitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, what: "a convolution's backward pass")
            }
            let weightBridge = try ConstantMemory(weightValues, dims: geometry.weightDims, native: primitive.layout(dnnl_query_weights_md))
            backwardData = (primitive,
                            try LayoutBridge(plainDims: geometry.input, native: primitive.layout(dnnl_query_diff_src_md)),
                            try LayoutBridge(plainDims: geometry.output, native: primitive.layout(dnnl_query_diff_dst_md)),
                            weightBridge)
        }
        let (primitive, diffSource, diffDestination, weightBridge) = backwardData!
        var dx = Tensor.zeros(geometry.input)
        var dy = dy
        try dy.data.withUnsafeMutableBytes { dys in
            try dx.data.withUnsafeMutableBytes { dxs in
                try diffDestination.load(dys.baseAddress!)
                diffSource.prepareOutput(dxs.baseAddress!)
                try primitive.execute([(DNNL_ARG_DIFF_DST, diffDestination.memory), (DNNL_ARG_WEIGHTS, weightBridge.memory),
                                       (DNNL_ARG_DIFF_SRC, diffSource.memory)])
                try diffSource.store()
            }
        }
        return dx
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
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, what: "a convolution's weight gradient")
            }
            backwardWeights = (primitive,
                               try LayoutBridge(plainDims: geometry.input, native: primitive.layout(dnnl_query_src_md)),
                               try LayoutBridge(plainDims: geometry.output, native: primitive.layout(dnnl_query_diff_dst_md)),
                               try LayoutBridge(plainDims: geometry.weightDims, native: primitive.layout(dnnl_query_diff_weights_md)),
                               bias == nil ? nil : try DNNLMemory(diffBias, owning: true))
        }
        let (primitive, source, diffDestination, diffWeights, diffBias) = backwardWeights!
        var dw = Tensor.zeros(geometry.weight)
        var x = x, dy = dy
        try x.data.withUnsafeMutableBytes { xs in
            try dy.data.withUnsafeMutableBytes { dys in
                try dw.data.withUnsafeMutableBytes { dws in
                    try source.load(xs.baseAddress!)
                    try diffDestination.load(dys.baseAddress!)
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
