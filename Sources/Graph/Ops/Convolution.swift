import Tensor

let convolutionOperators: [String: OperatorSet.Maker] = [
    "Conv": { try Conv(node: $0) },
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
final class Conv: Operator {
    let node: Node
    private var kernels: [[Int]: ConvolutionKernel] = [:]
    private var constantWeights = false
    let groups: Int

    init(node: Node) throws {
        self.node = node
        groups = try NodeAttributes(node: node).int("group", default: 1)
    }

    var differentiableInputs: [Int] { [0, 1, 2] }

    /// Weights that never change let the kernel keep them in oneDNN's preferred layout.
    func prepare(constantInputs: Set<Int>) {
        let hasBias = node.inputs.count > 2 && !node.inputs[2].isEmpty
        constantWeights = constantInputs.contains(1) && (!hasBias || constantInputs.contains(2))
    }

    func kernel(x: Tensor, w: Tensor, b: Tensor?) throws -> ConvolutionKernel {
        if constantWeights, let cached = kernels[x.shape] { return cached }
        let a = NodeAttributes(node: node)
        let spatial = x.rank - 2
        guard spatial >= 1, w.rank == x.rank else {
            throw EngineError("node '\(node.name)' (Conv): input \(x.shape) and weight \(w.shape) ranks do not fit a convolution")
        }
        let kernelShape = try a.ints("kernel_shape", default: Array(w.shape.dropFirst(2)))
        let strides = try a.ints("strides", default: Array(repeating: 1, count: spatial))
        let dilations = try a.ints("dilations", default: Array(repeating: 1, count: spatial))
        let (begin, end) = try explicitPads(node: node, input: Array(x.shape.dropFirst(2)), kernel: kernelShape, strides: strides, dilations: dilations)
        let geometry = ConvolutionGeometry(input: x.shape, weight: w.shape, groups: groups, strides: strides, dilations: dilations, padsBegin: begin, padsEnd: end)
        do {
            let made = try ConvolutionKernel(geometry, weight: w, bias: b)
            if constantWeights { kernels[x.shape] = made }
            return made
        } catch {
            throw EngineError("node '\(node.name)' (Conv): \(error)")
        }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node), w = try floatInput(inputs, 1, node)
        let b = inputs.count > 2 ? inputs[2]?.floats : nil
        return [.float(try kernel(x: x, w: w, b: b).forward(x))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node), w = try floatInput(inputs, 1, node)
        let b = inputs.count > 2 ? inputs[2]?.floats : nil
        let k = try kernel(x: x, w: w, b: b)
        var result: [Int: Tensor] = [:]
        if wanted.contains(0) { result[0] = try k.backwardData(dy) }
        if wanted.contains(1) || wanted.contains(2) {
            let (dw, db) = try k.backwardWeights(input: x, gradient: dy)
            result[1] = dw
            if let db { result[2] = db }
        }
        return result
    }
}
