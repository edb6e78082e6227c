import Foundation
import Tensor

let normalizationOperators: [String: OperatorSet.Maker] = [
    "BatchNormalization": { node in
        try NodeAttributes(node: node).int("training_mode", default: 0) != 0 ? try BatchStatisticsNormalization(node: node) as Operator : try BatchNormalization(node: node)
    },
    "Softmax": { try Softmax(node: $0, log: false) },
    "LogSoftmax": { try Softmax(node: $0, log: true) },
    "LayerNormalization": { try LayerNormalization(node: $0) },
    "InstanceNormalization": { try InstanceNormalization(node: $0) },
    "LRN": { try LRN(node: $0) },
]

/// Inference-mode batch normalisation: a per-channel affine map y = a·x + b; fused with the ReLU that
/// follows it (`fusedReLU`, see `Fusion`), max(0, a·x + b) in the same pass. On activations in a oneDNN
/// layout (DenseNet's, between its convolutions) it runs in that layout (`ChannelWise`).
final class BatchNormalization: Operator {
    let node: Node
    /// Whether max(0, ·) follows the affine map in the same pass (its gradient then reads the output).
    let fusedReLU: Bool
    /// Whether every reader takes laid-out values, so that the result may stay in its input's layout.
    private var laidOutReaders = false

    init(node: Node, fusedReLU: Bool = false) throws {
        self.node = node
        self.fusedReLU = fusedReLU
        if try NodeAttributes(node: node).int("training_mode", default: 0) != 0 {
            throw EngineError("node '\(node.name)' (BatchNormalization): training mode (batch statistics, running-mean outputs) is not supported; the engine runs BatchNormalization for inference")
        }
    }

    var takesLaidOutValues: Bool { true }
    func prepare(laidOutReaders: Bool) { self.laidOutReaders = laidOutReaders }

    func affine(_ inputs: [RuntimeValue?]) throws -> (scale: [Float], shift: [Float]) {
        let epsilon = try NodeAttributes(node: node).float("epsilon", default: 1e-5)
        let gamma = try floatInput(inputs, 1, node).data, beta = try floatInput(inputs, 2, node).data
        let mean = try floatInput(inputs, 3, node).data, variance = try floatInput(inputs, 4, node).data
        guard beta.count == gamma.count, mean.count == gamma.count, variance.count == gamma.count else {
            throw EngineError("node '\(node.name)' (BatchNormalization): scale, bias, mean and variance must have one value per channel "
                + "(got \(gamma.count), \(beta.count), \(mean.count) and \(variance.count))")
        }
        let scale = (0..<gamma.count).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        return (scale, (0..<gamma.count).map { beta[$0] - mean[$0] * scale[$0] })
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let input = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (BatchNormalization) is missing input 0") }
        let (scale, shift) = try affine(inputs)
        guard input.shape.count >= 2, input.shape[1] == scale.count else {
            throw EngineError("node '\(node.name)' (BatchNormalization): input \(input.shape) has not \(scale.count) channels")
        }
        if laidOutReaders, case .laidOut(let t) = input, let y = try ChannelWise.affine(t, scale: scale, shift: shift, relu: fusedReLU) {
            return [.laidOut(y)]
        }
        var x = input.floats
        Self.perChannel(&x, channels: x.shape[1], scale: scale, shift: shift)
        if fusedReLU { x = x.map { max($0, 0) } }
        return [.float(x)]
    }

    /// v ← v·scale[c] + shift[c] (shift nil: v·scale[c]) for each channel c of an [N, C, …] tensor: one tight loop per
    /// (sample, channel) plane, which the compiler vectorises.
    static func perChannel(_ x: inout Tensor, channels: Int, scale: [Float], shift: [Float]?) {
        let inner = x.count / max(x.shape[0] * channels, 1)
        guard inner > 0 else { return }
        x.data.withUnsafeMutableBufferPointer { v in
            for plane in 0..<(v.count / inner) {
                let c = plane % channels, a = scale[c]
                let row = UnsafeMutableBufferPointer(rebasing: v[(plane * inner)..<((plane + 1) * inner)])
                if let shift { let b = shift[c]; for i in row.indices { row[i] = row[i] * a + b } } else { for i in row.indices { row[i] *= a } }
            }
        }
    }

    /// The scale, bias and statistics (the data's gradient is a per-channel scaling); with a fused ReLU, the
    /// output too (where it is positive).
    func backwardReads(wanted: Set<Int>) -> BackwardReads { BackwardReads(inputs: [1, 2, 3, 4], outputs: fusedReLU) }

    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        guard case .laidOut(let dy)? = g.first ?? nil else { return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted) }
        var output: DNNLTensor?
        if fusedReLU {
            guard case .laidOut(let y)? = outputs.first else { return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted) }
            output = y
        }
        let (scale, _) = try affine(inputs)
        guard let dx = try ChannelWise.affineGradient(dy, scale: scale, output: output) else {
            return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted)
        }
        return [0: .laidOut(dx)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard var dx = g[0] else { return [:] }
        let (scale, _) = try affine(inputs)
        Self.perChannel(&dx, channels: dx.shape[1], scale: scale, shift: nil)
        if fusedReLU, let y = outputs.first?.floats {
            dx = Tensor(shape: dx.shape, data: zip(dx.data, y.data).map { $1 > 0 ? $0 : 0 })
        }
        return [0: dx]
    }
}

/// BatchNormalization with `training_mode` = 1: each channel normalised by the mean and (population) variance
/// of its own values in this batch, then scaled and shifted; the optional second and third outputs are the
/// running statistics updated with `momentum`. NFNet's weight-standardised convolutions export this way (on
/// their weights, so load-time folding computes it once). Differentiable in x, scale and bias.
final class BatchStatisticsNormalization: Operator {
    let node: Node
    let epsilon: Float
    let momentum: Float
    init(node: Node) throws {
        self.node = node
        let a = NodeAttributes(node: node)
        epsilon = try a.float("epsilon", default: 1e-5)
        momentum = try a.float("momentum", default: 0.9)
    }

    var differentiableInputs: [Int] { [0, 1, 2] }

    /// x [N, C, …] as C groups of its channel's values ([C, N·inner]), and back: `normalizeGroups` then
    /// standardises each channel over the batch.
    static func channelsFirst(_ x: Tensor, channels: Int, inverse: Bool = false) -> Tensor {
        let batch = x.shape[0], inner = x.count / max(batch * channels, 1)
        var y = x
        for n in 0..<batch {
            for c in 0..<channels {
                for i in 0..<inner {
                    let nchw = (n * channels + c) * inner + i, grouped = (c * batch + n) * inner + i
                    if inverse { y.data[nchw] = x.data[grouped] } else { y.data[grouped] = x.data[nchw] }
                }
            }
        }
        return y
    }

    /// x̂ grouped by channel, each channel's 1/σ and mean, the group size, and the channel count.
    func standardized(_ x: Tensor) throws -> (xhat: Tensor, inverse: [Float], mean: [Float], size: Int, channels: Int) {
        guard x.rank >= 2, x.count > 0 else {
            throw EngineError("node '\(node.name)' (BatchNormalization): batch statistics need a non-empty input of rank ≥ 2, got \(x.shape)")
        }
        let channels = x.shape[1], size = x.count / channels
        let (xhat, inverse, mean) = normalizeGroups(Self.channelsFirst(x, channels: channels), size: size, epsilon: epsilon)
        return (xhat, inverse, mean, size, channels)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        let scale = try floatInput(inputs, 1, node).data, bias = try floatInput(inputs, 2, node).data
        var (y, inverse, mean, size, channels) = try standardized(x)
        guard scale.count == channels, bias.count == channels else {
            throw EngineError("node '\(node.name)' (BatchNormalization): input \(x.shape) has not \(scale.count) channels")
        }
        for i in 0..<y.count { y.data[i] = y.data[i] * scale[i / size] + bias[i / size] }
        var outputs: [RuntimeValue] = [.float(Self.channelsFirst(y, channels: channels, inverse: true))]
        if node.outputs.count > 1 {
            let runningMean = try floatInput(inputs, 3, node).data, runningVariance = try floatInput(inputs, 4, node).data
            guard runningMean.count == channels, runningVariance.count == channels else {
                throw EngineError("node '\(node.name)' (BatchNormalization): running statistics of \(runningMean.count) channels for \(channels)")
            }
            let variance = inverse.map { max(1 / ($0 * $0) - epsilon, 0) }
            outputs.append(.float(Tensor(shape: [channels], data: (0..<channels).map { runningMean[$0] * momentum + mean[$0] * (1 - momentum) })))
            outputs.append(.float(Tensor(shape: [channels], data: (0..<channels).map { runningVariance[$0] * momentum + variance[$0] * (1 - momentum) })))
        }
        return outputs
    }

    /// ∂scale = Σ dy·x̂, ∂bias = Σ dy per channel; ∂x through `normalizeGroupsBackward` with dx̂ = scale·dy.
    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dyPlain = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node), scale = try floatInput(inputs, 1, node).data
        let (xhat, inverse, _, size, channels) = try standardized(x)
        let dy = Self.channelsFirst(dyPlain, channels: channels)
        var result: [Int: Tensor] = [:]
        if wanted.contains(0) {
            var dxhat = dy
            for i in 0..<dxhat.count { dxhat.data[i] *= scale[i / size] }
            let dx = normalizeGroupsBackward(dxhat, xhat: xhat, inverse: inverse, size: size)
            result[0] = Self.channelsFirst(dx, channels: channels, inverse: true)
        }
        var sumDy = [Double](repeating: 0, count: channels), sumDyXhat = sumDy
        for i in 0..<dy.count { sumDy[i / size] += Double(dy.data[i]); sumDyXhat[i / size] += Double(dy.data[i]) * Double(xhat.data[i]) }
        if wanted.contains(1) { result[1] = Tensor(shape: [channels], data: sumDyXhat.map { Float($0) }) }
        if wanted.contains(2) { result[2] = Tensor(shape: [channels], data: sumDy.map { Float($0) }) }
        return result
    }
}

/// Softmax and LogSoftmax along an axis (opset ≥ 13); before 13 ONNX flattened at the axis,
/// which for the last axis (what exporters use) is the same thing.
final class Softmax: Operator {
    let node: Node
    let isLog: Bool
    let axisAttribute: Int

    /// Set by the model on nodes of opsets before 13 (see Model.init).
    static let flattenMarker = "mirage.flatten_before_opset_13"
    let flattens: Bool

    init(node: Node, log: Bool) throws {
        self.node = node
        isLog = log
        flattens = node.attributes[Self.flattenMarker] != nil
        axisAttribute = try NodeAttributes(node: node).int("axis", default: flattens ? 1 : -1)
    }

    /// (outer, length, inner) strides of the reduction: one axis, or (before opset 13) all axes from `axis` on.
    func layout(_ shape: [Int]) throws -> (Int, Int, Int) {
        let axis = try normalizeAxis(axisAttribute, rank: shape.count, node)
        if flattens { return (shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *), 1) }
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// oneDNN's softmax for [outer, length, inner], made once per shape.
    private var kernel: SoftmaxKernel?
    private func softmaxKernel(_ shape: [Int]) throws -> SoftmaxKernel {
        let (outer, length, inner) = try layout(shape)
        let dims = [outer, length, inner]
        if let kernel, kernel.dims == dims { return kernel }
        do { kernel = try SoftmaxKernel(dims: dims, log: isLog) } catch { throw EngineError("node '\(node.name)' (\(node.opType)): \(error)") }
        return kernel!
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        if x.count == 0 { return [.float(x)] }
        return [.float(try softmaxKernel(x.shape).forward(x))]
    }

    func backwardReads(wanted: Set<Int>) -> BackwardReads { .outputs }

    /// dx = y·(dy − Σ dy·y), or for log-softmax dx = dy − softmax·Σdy (oneDNN's backward pass, from y).
    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], case .float(let y) = outputs[0] else { return [:] }
        if y.count == 0 { return [0: dy] }
        return [0: try softmaxKernel(y.shape).backward(dy, output: y)]
    }
}

/// Normalises consecutive groups of `size` elements to zero mean and unit variance:
/// returns x̂ and each group's 1/σ (σ² = mean square deviation + ε) and mean.
func normalizeGroups(_ x: Tensor, size: Int, epsilon: Float) -> (xhat: Tensor, inverse: [Float], mean: [Float]) {
    let groups = size == 0 ? 0 : x.count / size
    var xhat = x
    var inverse = [Float](repeating: 0, count: groups), means = inverse
    xhat.data.withUnsafeMutableBufferPointer { v in
        for g in 0..<groups {
            let base = g * size
            var sum: Double = 0
            for i in 0..<size { sum += Double(v[base + i]) }
            let mean = sum / Double(size)
            var square: Double = 0
            for i in 0..<size { let d = Double(v[base + i]) - mean; square += d * d }
            let inv = 1 / (square / Double(size) + Double(epsilon)).squareRoot()
            for i in 0..<size { v[base + i] = Float((Double(v[base + i]) - mean) * inv) }
            inverse[g] = Float(inv)
            means[g] = Float(mean)
        }
    }
    return (xhat, inverse, means)
}

/// Backward of `normalizeGroups`: dx = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) per group.
func normalizeGroupsBackward(_ dxhat: Tensor, xhat: Tensor, inverse: [Float], size: Int) -> Tensor {
    var dx = dxhat
    for g in 0..<inverse.count {
        let base = g * size
        var m1: Double = 0, m2: Double = 0
        for i in 0..<size { m1 += Double(dxhat.data[base + i]); m2 += Double(dxhat.data[base + i] * xhat.data[base + i]) }
        m1 /= Double(size)
        m2 /= Double(size)
        for i in 0..<size {
            dx.data[base + i] = Float(Double(inverse[g]) * (Double(dxhat.data[base + i]) - m1 - Double(xhat.data[base + i]) * m2))
        }
    }
    return dx
}

/// LayerNormalization (opset 17): normalise over axes [axis, rank), then scale and shift (both
/// broadcasting to X). The optional Mean and InvStdDev outputs are computed; gradients reach X,
/// Scale and B through Y only.
final class LayerNormalization: Operator {
    let node: Node
    let axis: Int
    let epsilon: Float
    init(node: Node) throws {
        self.node = node
        let a = NodeAttributes(node: node)
        axis = try a.int("axis", default: -1)
        epsilon = try a.float("epsilon", default: 1e-5)
    }
    var differentiableInputs: [Int] { [0, 1, 2] }

    func layout(_ shape: [Int]) throws -> (axis: Int, size: Int) {
        let a = try normalizeAxis(axis, rank: shape.count, node)
        return (a, shape[a...].reduce(1, *))
    }

    func broadcast(_ t: Tensor, to shape: [Int]) throws -> Tensor {
        do { return try t.applying(.add, Tensor.zeros(shape)) } catch {
            throw EngineError("node '\(node.name)' (\(node.opType)): \(t.shape) does not broadcast to \(shape)")
        }
    }

    /// oneDNN's layer normalization, for a scale (and bias) of the normalised axes' own shape
    /// (leading 1s allowed), made once per shape; nil for other broadcasts (the loops below).
    private var kernel: LayerNormKernel?
    private func layerNormKernel(_ x: Tensor, _ inputs: [RuntimeValue?]) throws -> LayerNormKernel? {
        let (a, size) = try layout(x.shape)
        guard x.count > 0 else { return nil }
        // Same elements in the same order as the normalised block: equal shapes up to leading 1s.
        func fits(_ t: RuntimeValue?) -> Bool {
            guard let t else { return true }
            return Array(t.shape.drop(while: { $0 == 1 })) == Array(x.shape[a...].drop(while: { $0 == 1 }))
        }
        guard inputs.count > 1, fits(inputs[1]), fits(inputs.count > 2 ? inputs[2] : nil) else { return nil }
        let rows = x.count / size
        if let kernel, kernel.rows == rows, kernel.size == size { return kernel }
        do { kernel = try LayerNormKernel(rows: rows, size: size, epsilon: epsilon) } catch { throw EngineError("node '\(node.name)' (\(node.opType)): \(error)") }
        return kernel
    }

    /// The shift input as a vector of `size` (zeros when B is absent).
    private func shift(_ inputs: [RuntimeValue?], size: Int) -> Tensor {
        if inputs.count > 2, let b = inputs[2] { return b.floats }
        return Tensor.zeros([size])
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        let (a, size) = try layout(x.shape)
        let statShape = x.shape.enumerated().map { $0.offset < a ? $0.element : 1 }
        if let k = try layerNormKernel(x, inputs) {
            let (y, mean, variance) = try k.forward(x, scale: try floatInput(inputs, 1, node), shift: shift(inputs, size: size))
            statistics = (mean, variance)
            let inverse = variance.map { Float(1 / (Double($0) + Double(epsilon)).squareRoot()) }
            return [.float(y), .float(Tensor(shape: statShape, data: mean)), .float(Tensor(shape: statShape, data: inverse))]
        }
        let scale = try broadcast(try floatInput(inputs, 1, node), to: x.shape)
        let (xhat, inverse, mean) = normalizeGroups(x, size: size, epsilon: epsilon)
        var y = xhat.zipped(scale, *)
        if inputs.count > 2, let b = inputs[2]?.floats { y = y.zipped(try broadcast(b, to: x.shape), +) }
        return [.float(y), .float(Tensor(shape: statShape, data: mean)), .float(Tensor(shape: statShape, data: inverse))]
    }

    /// The input, scale and bias; not the outputs.
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .inputs }

    /// Each row's mean and variance from the latest forward through oneDNN (backward runs after its
    /// node's latest forward): a few floats per row, where recomputing them would cost a forward pass.
    private var statistics: (mean: [Float], variance: [Float])?

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node), scaleInput = try floatInput(inputs, 1, node)
        let (_, size) = try layout(x.shape)
        var result: [Int: Tensor] = [:]
        if wanted.contains(0), let k = try layerNormKernel(x, inputs) {
            guard let (mean, variance) = statistics, mean.count == k.rows else {
                throw EngineError("node '\(node.name)' (LayerNormalization): backward without a forward of this shape before it")
            }
            result[0] = Tensor(shape: x.shape, data: try k.backward(dy, input: x, mean: mean, variance: variance, scale: scaleInput).data)
            if !wanted.contains(1) && !wanted.contains(2) { return result }
        }
        let scale = try broadcast(scaleInput, to: x.shape)
        let (xhat, inverse, _) = normalizeGroups(x, size: size, epsilon: epsilon)
        if wanted.contains(0), result[0] == nil { result[0] = normalizeGroupsBackward(dy.zipped(scale, *), xhat: xhat, inverse: inverse, size: size) }
        if wanted.contains(1) { result[1] = dy.zipped(xhat, *).summed(to: scaleInput.shape) }
        if wanted.contains(2), inputs.count > 2, let b = inputs[2] { result[2] = dy.summed(to: b.shape) }
        return result
    }
}

/// InstanceNormalization: each (sample, channel) plane normalised, then per-channel scale and bias.
final class InstanceNormalization: Operator {
    let node: Node
    let epsilon: Float
    init(node: Node) throws {
        self.node = node
        epsilon = try NodeAttributes(node: node).float("epsilon", default: 1e-5)
    }
    var differentiableInputs: [Int] { [0, 1, 2] }

    func channelTensor(_ t: Tensor, _ shape: [Int]) throws -> Tensor {
        guard shape.count >= 2, t.count == shape[1] else {
            throw EngineError("node '\(node.name)' (InstanceNormalization): \(t.shape) does not fit the channels of \(shape)")
        }
        return try Tensor(shape: [shape[1]] + Array(repeating: 1, count: shape.count - 2), data: t.data).applying(.add, Tensor.zeros(shape))
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        let scale = try channelTensor(try floatInput(inputs, 1, node), x.shape), bias = try channelTensor(try floatInput(inputs, 2, node), x.shape)
        let size = x.shape.dropFirst(2).reduce(1, *)
        let (xhat, _, _) = normalizeGroups(x, size: size, epsilon: epsilon)
        return [.float(xhat.zipped(scale, *).zipped(bias, +))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node), scaleInput = try floatInput(inputs, 1, node), biasInput = try floatInput(inputs, 2, node)
        let scale = try channelTensor(scaleInput, x.shape)
        let size = x.shape.dropFirst(2).reduce(1, *)
        let (xhat, inverse, _) = normalizeGroups(x, size: size, epsilon: epsilon)
        let channelShape = [1, x.shape[1]] + Array(repeating: 1, count: x.rank - 2)
        var result: [Int: Tensor] = [:]
        if wanted.contains(0) { result[0] = normalizeGroupsBackward(dy.zipped(scale, *), xhat: xhat, inverse: inverse, size: size) }
        if wanted.contains(1) { result[1] = Tensor(shape: scaleInput.shape, data: dy.zipped(xhat, *).summed(to: channelShape).data) }
        if wanted.contains(2) { result[2] = Tensor(shape: biasInput.shape, data: dy.summed(to: channelShape).data) }
        return result
    }
}

/// Local response normalisation across channels (AlexNet, GoogLeNet):
/// y = x / (bias + α/size · Σ_window x²)^β.
final class LRN: Operator {
    let node: Node
    let alpha, beta, bias: Float
    let size: Int
    init(node: Node) throws {
        self.node = node
        let a = NodeAttributes(node: node)
        alpha = try a.float("alpha", default: 1e-4)
        beta = try a.float("beta", default: 0.75)
        bias = try a.float("bias", default: 1)
        size = try a.int("size")
    }

    /// The per-element denominator base d = bias + α/size · Σ_window x².
    func denominators(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 2 else { throw EngineError("node '\(node.name)' (LRN): input \(x.shape) has no channel axis") }
        let channels = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *), batch = x.shape[0]
        let low = (size - 1) / 2, high = size - 1 - low
        var d = Tensor.zeros(x.shape)
        for n in 0..<batch { for c in 0..<channels { for i in 0..<inner {
            var s: Float = 0
            for k in max(0, c - low)...min(channels - 1, c + high) { let v = x.data[(n * channels + k) * inner + i]; s += v * v }
            d.data[(n * channels + c) * inner + i] = bias + alpha / Float(size) * s
        } } }
        return d
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        return [.float(x.zipped(try denominators(x)) { v, d in v * pow(d, -beta) })]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node)
        let d = try denominators(x)
        let channels = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *), batch = x.shape[0]
        let low = (size - 1) / 2, high = size - 1 - low
        // t_j = dy_j · x_j · d_j^(−β−1); dx_i = dy_i·d_i^(−β) − 2αβ/size · x_i · Σ_{j: i ∈ window(j)} t_j.
        let t = Tensor(shape: x.shape, data: (0..<x.count).map { dy.data[$0] * x.data[$0] * pow(d.data[$0], -beta - 1) })
        var dx = Tensor.zeros(x.shape)
        let factor = 2 * alpha * beta / Float(size)
        for n in 0..<batch { for c in 0..<channels { for i in 0..<inner {
            let j = (n * channels + c) * inner + i
            var s: Float = 0
            for k in max(0, c - high)...min(channels - 1, c + low) { s += t.data[(n * channels + k) * inner + i] }
            dx.data[j] = dy.data[j] * pow(d.data[j], -beta) - factor * x.data[j] * s
        } } }
        return [0: dx]
    }
}
