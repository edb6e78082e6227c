import Tensor

let convolutionOperators: [String: OperatorSet.Maker] = [
    "Conv": { try Conv(node: $0) },
    "ConvTranspose": { try ConvTranspose(node: $0) },
]

/// Resolves ONNX's auto_pad / pads into explicit begin and end paddings.
func explicitPads(node: Node, input spatial: [Int], kernel: [Int], strides: [Int], dilations: [Int]) throws -> ([Int], [Int]) {
    let a = NodeAttributes(node: node)
    let n = spatial.count
    switch try a.string("auto_pad", default: "NOTSET") {
    case "NOTSET":
        let pads = try a.ints("pads", default: Array(repeating: 0, count: 2 * n))
        guard pads.count == 2 * n else { throw EngineError("node '\(node.name)' (\(node.opType)): pads has \(pads.count) values, expected \(2 * n)") }
        return (Array(pads[0..<n]), Array(pads[n...]))
    case "VALID":
        return (Array(repeating: 0, count: n), Array(repeating: 0, count: n))
    case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
        var begin = [Int](), end = [Int]()
        for i in 0..<n {
            let out = (spatial[i] + strides[i] - 1) / strides[i]
            let total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i])
            let small = total / 2
            begin.append(mode == "SAME_UPPER" ? small : total - small)
            end.append(mode == "SAME_UPPER" ? total - small : small)
        }
        return (begin, end)
    case let other:
        throw EngineError("node '\(node.name)' (\(node.opType)): unknown auto_pad \(other)")
    }
}

/// Conv: oneDNN convolution, one kernel per input shape; constant weights are laid out once.
/// Activations stay in the kernel's layout. `fusedReLU`: the executor folded the Relu reading this
/// node's output into it (a post-op); the node's output is then the ReLU's.
final class Conv: Operator {
    let node: Node
    let fusedReLU: Bool
    private var kernels: [[Int]: ConvolutionKernel] = [:]
    private var constantWeights = false
    let groups: Int

    init(node: Node, fusedReLU: Bool = false) throws {
        self.node = node
        self.fusedReLU = fusedReLU
        groups = try NodeAttributes(node: node).int("group", default: 1)
    }

    var differentiableInputs: [Int] { [0, 1, 2] }
    var takesLaidOutValues: Bool { true }

    /// Weights that never change let the kernel keep them in oneDNN's preferred layout.
    func prepare(constantInputs: Set<Int>) {
        let hasBias = node.inputs.count > 2 && !node.inputs[2].isEmpty
        constantWeights = constantInputs.contains(1) && (!hasBias || constantInputs.contains(2))
    }

    /// The kernel for an input of shape `input` (one per shape when the weights are constants).
    func kernel(input: [Int], w: Tensor, b: Tensor?) throws -> ConvolutionKernel {
        if constantWeights, let cached = kernels[input] { return cached }
        let a = NodeAttributes(node: node)
        let spatial = input.count - 2
        guard spatial >= 1, w.rank == input.count else {
            throw EngineError("node '\(node.name)' (Conv): input \(input) and weight \(w.shape) ranks do not fit a convolution")
        }
        let kernelShape = try a.ints("kernel_shape", default: Array(w.shape.dropFirst(2)))
        let strides = try a.ints("strides", default: Array(repeating: 1, count: spatial))
        let dilations = try a.ints("dilations", default: Array(repeating: 1, count: spatial))
        let (begin, end) = try explicitPads(node: node, input: Array(input.dropFirst(2)), kernel: kernelShape, strides: strides, dilations: dilations)
        let geometry = ConvolutionGeometry(input: input, weight: w.shape, groups: groups, strides: strides, dilations: dilations, padsBegin: begin, padsEnd: end)
        do {
            let made = try ConvolutionKernel(geometry, weight: w, bias: b, fusedReLU: fusedReLU, winogradBackwardData: true)
            if constantWeights { kernels[input] = made }
            return made
        } catch {
            throw EngineError("node '\(node.name)' (Conv): \(error)")
        }
    }

    /// The input (in whatever layout it comes; its shape only, in backward), weight and bias.
    private func arguments(_ inputs: [RuntimeValue?]) throws -> (RuntimeValue, Tensor, Tensor?) {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Conv) is missing input 0") }
        return (x, try floatInput(inputs, 1, node), inputs.count > 2 ? inputs[2]?.floats : nil)
    }

    /// The weights and bias always (the kernel is made from them); the input only for their gradients;
    /// the output when a fused ReLU's mask is needed.
    func backwardReads(wanted: Set<Int>) -> BackwardReads {
        BackwardReads(inputs: wanted.contains(1) || wanted.contains(2) ? [0, 1, 2] : [1, 2], outputs: fusedReLU)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let (x, w, b) = try arguments(inputs)
        return [.laidOut(try kernel(input: x.shape, w: w, b: b).forward(x.kernelInput))]
    }

    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        guard let dy = g[0] else { return [:] }
        let (x, w, b) = try arguments(inputs)
        let k = try kernel(input: x.shape, w: w, b: b)
        let dz = fusedReLU ? try k.preActivationGradient(dy.kernelInput, output: outputs[0].kernelInput) : dy.kernelInput
        var result: [Int: RuntimeValue] = [:]
        if wanted.contains(0) { result[0] = .laidOut(try k.backwardData(dz)) }
        if wanted.contains(1) || wanted.contains(2) {
            let plainGradient: Tensor
            switch dz { case .plain(let t): plainGradient = t; case .laidOut(let t): plainGradient = t.plain() }
            let (dw, db) = try k.backwardWeights(input: try floatInput(inputs, 0, node), gradient: plainGradient)
            result[1] = .float(dw)
            if let db { result[2] = .float(db) }
        }
        return result
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        try backward(laidOut: g.map { $0.map(RuntimeValue.float) }, inputs: inputs, outputs: outputs, wanted: wanted).mapValues(\.floats)
    }
}

/// ConvTranspose as the adjoint of a convolution, with oneDNN's convolution kernels: a convolution
/// from the output space (shape [N, C_out, …]) to the input space, whose weight is ConvTranspose's
/// own [C_in, C_out/group, k…] array read as [O, C/group, k…]. ConvTranspose's forward is that
/// convolution's backward-data, its backward-data is the convolution's forward, and its weight
/// gradient is the convolution's weight gradient with input and output-gradient swapped. Exact.
/// Negative pads (from output_shape) and output_padding extend the output with zero rows (bias only).
final class ConvTranspose: Operator {
    let node: Node
    let groups: Int
    private var kernels: [[Int]: (ConvolutionKernel, begin: [Int], end: [Int], core: [Int])] = [:]
    private var constantWeights = false

    init(node: Node) throws {
        self.node = node
        groups = try NodeAttributes(node: node).int("group", default: 1)
    }

    var differentiableInputs: [Int] { [0, 1, 2] }

    func prepare(constantInputs: Set<Int>) { constantWeights = constantInputs.contains(1) }

    /// The adjoint convolution, and the zero extension (begin, end) from its input to the output.
    func kernel(x: Tensor, w: Tensor) throws -> (ConvolutionKernel, begin: [Int], end: [Int], core: [Int]) {
        if constantWeights, let cached = kernels[x.shape] { return cached }
        let a = NodeAttributes(node: node)
        let n = x.rank - 2
        guard n >= 1, w.rank == x.rank, w.shape[0] == x.shape[1], x.shape[1] % groups == 0 else {
            throw EngineError("node '\(node.name)' (ConvTranspose): input \(x.shape) and weight \(w.shape) do not fit (group \(groups))")
        }
        let spatial = Array(x.shape.dropFirst(2))
        let kernelShape = try a.ints("kernel_shape", default: Array(w.shape.dropFirst(2)))
        let strides = try a.ints("strides", default: Array(repeating: 1, count: n))
        let dilations = try a.ints("dilations", default: Array(repeating: 1, count: n))
        let outputPadding = try a.ints("output_padding", default: Array(repeating: 0, count: n))
        let autoPad = try a.string("auto_pad", default: "NOTSET")
        var pads: [Int]
        let extent = (0..<n).map { (i: Int) -> Int in
            let span: Int = (kernelShape[i] - 1) * dilations[i] + 1
            return strides[i] * (spatial[i] - 1) + outputPadding[i] + span
        }
        func floorDiv(_ p: Int, _ q: Int) -> Int { Int((Double(p) / Double(q)).rounded(.down)) }
        if node.attributes["output_shape"] != nil || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            let target = node.attributes["output_shape"] != nil ? Array(try a.ints("output_shape").suffix(n)) : (0..<n).map { spatial[$0] * strides[$0] }
            let total = (0..<n).map { extent[$0] - target[$0] }
            let upper = autoPad != "SAME_LOWER" && !(autoPad == "NOTSET")
            pads = total.map { upper ? floorDiv($0, 2) : $0 - floorDiv($0, 2) } + total.map { upper ? $0 - floorDiv($0, 2) : floorDiv($0, 2) }
        } else if autoPad == "VALID" {
            pads = Array(repeating: 0, count: 2 * n)
        } else {
            pads = try a.ints("pads", default: Array(repeating: 0, count: 2 * n))
        }
        guard pads.count == 2 * n, kernelShape == Array(w.shape.dropFirst(2)) else {
            throw EngineError("node '\(node.name)' (ConvTranspose): pads \(pads) or kernel_shape \(kernelShape) do not fit weight \(w.shape)")
        }
        // The convolution sees non-negative pads; negative ones and output_padding become zero extension.
        let padBegin = (0..<n).map { max(0, pads[$0]) }, padEnd = (0..<n).map { max(0, pads[n + $0]) }
        let core = (0..<n).map { (i: Int) -> Int in extent[i] - outputPadding[i] - padBegin[i] - padEnd[i] }
        let begin = (0..<n).map { max(0, -pads[$0]) }, end = (0..<n).map { max(0, -pads[n + $0]) + outputPadding[$0] }
        guard core.allSatisfy({ $0 > 0 }) else { throw EngineError("node '\(node.name)' (ConvTranspose): pads \(pads) leave no output for input \(x.shape)") }
        let geometry = ConvolutionGeometry(input: [x.shape[0], w.shape[1] * groups] + core, weight: w.shape, groups: groups,
                                           strides: strides, dilations: dilations, padsBegin: padBegin, padsEnd: padEnd)
        guard geometry.output == x.shape else {
            throw EngineError("node '\(node.name)' (ConvTranspose): internal shape mismatch \(geometry.output) vs \(x.shape)")
        }
        do {
            let made = (try ConvolutionKernel(geometry, weight: w, bias: nil), begin, end, core)
            if constantWeights { kernels[x.shape] = made }
            return made
        } catch {
            throw EngineError("node '\(node.name)' (ConvTranspose): \(error)")
        }
    }

    /// Per spatial axis, the source index in the core output of each output position (-1: zero).
    func zeroExtension(_ shape: [Int], begin: [Int], end: [Int]) -> [[Int]] {
        shape.enumerated().map { axis, size in
            guard axis >= 2 else { return Array(0..<size) }
            let b = begin[axis - 2], e = end[axis - 2]
            return (0..<(size + b + e)).map { $0 - b < size && $0 - b >= 0 ? $0 - b : -1 }
        }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node), w = try floatInput(inputs, 1, node)
        let (k, begin, end, _) = try kernel(x: x, w: w)
        var y = try k.backwardData(x)
        if begin.contains(where: { $0 > 0 }) || end.contains(where: { $0 > 0 }) {
            let perAxis = zeroExtension(y.shape, begin: begin, end: end)
            let offsets = gatherOffsets(y.shape, perAxis)
            y = Tensor(shape: perAxis.map(\.count), data: offsets.map { $0 < 0 ? 0 : y.data[$0] })
        }
        if inputs.count > 2, let b = inputs[2]?.floats {
            guard b.count == y.shape[1] else { throw EngineError("node '\(node.name)' (ConvTranspose): bias \(b.shape) for \(y.shape[1]) channels") }
            let inner = y.shape.dropFirst(2).reduce(1, *), channels = y.shape[1]
            for i in 0..<y.count { y.data[i] += b.data[(i / inner) % channels] }
        }
        return [.float(y)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node), w = try floatInput(inputs, 1, node)
        let (k, begin, end, core) = try kernel(x: x, w: w)
        var d = dy
        if begin.contains(where: { $0 > 0 }) || end.contains(where: { $0 > 0 }) {   // crop back to the core
            let coreShape = Array(dy.shape.prefix(2)) + core
            let perAxis = coreShape.enumerated().map { axis, size in axis < 2 ? Array(0..<size) : (0..<size).map { $0 + begin[axis - 2] } }
            d = Tensor(shape: coreShape, data: gatherOffsets(dy.shape, perAxis).map { dy.data[$0] })
        }
        var result: [Int: Tensor] = [:]
        if wanted.contains(0) { result[0] = try k.forward(d) }
        if wanted.contains(1) { result[1] = try k.backwardWeights(input: d, gradient: x).weight }
        if wanted.contains(2), inputs.count > 2, let b = inputs[2] {
            let channels = dy.shape[1], inner = dy.shape.dropFirst(2).reduce(1, *)
            var db = Tensor.zeros(b.shape)
            for i in 0..<dy.count { db.data[(i / inner) % channels] += dy.data[i] }
            result[2] = db
        }
        return result
    }
}
