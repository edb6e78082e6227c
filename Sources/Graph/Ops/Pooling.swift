import Tensor

let poolingOperators: [String: OperatorSet.Maker] = [
    "MaxPool": { Pool(node: $0, max: true) },
    "AveragePool": { Pool(node: $0, max: false) },
    "GlobalAveragePool": { GlobalPool(node: $0, max: false) },
    "GlobalMaxPool": { GlobalPool(node: $0, max: true) },
]

/// MaxPool and AveragePool through oneDNN, one kernel per input shape.
final class Pool: Operator {
    let node: Node
    let isMax: Bool
    private var kernels: [[Int]: PoolingKernel] = [:]

    init(node: Node, max: Bool) {
        self.node = node
        isMax = max
    }

    func kernel(for x: Tensor) throws -> PoolingKernel {
        if let k = kernels[x.shape] { return k }
        if node.outputs.count > 1, !node.outputs[1].isEmpty {
            throw EngineError("node '\(node.name)' (MaxPool): the Indices output is not supported")
        }
        let a = NodeAttributes(node: node)
        let spatial = x.rank - 2
        guard spatial >= 1 else { throw EngineError("node '\(node.name)' (\(node.opType)): input \(x.shape) has no spatial axes") }
        let kernelShape = try a.ints("kernel_shape")
        guard kernelShape.count == spatial else {
            throw EngineError("node '\(node.name)' (\(node.opType)): kernel_shape \(kernelShape) does not fit input \(x.shape)")
        }
        let strides = try a.ints("strides", default: Array(repeating: 1, count: spatial))
        let dilations = try a.ints("dilations", default: Array(repeating: 1, count: spatial))
        let (begin, end) = try explicitPads(node: node, input: Array(x.shape.dropFirst(2)), kernel: kernelShape, strides: strides, dilations: dilations)
        let kind: PoolingKernel.Kind = isMax ? .max
            : (try a.int("count_include_pad", default: 0) != 0 ? .averageIncludingPadding : .averageExcludingPadding)
        do {
            let k = try PoolingKernel(input: x.shape, kind: kind, kernel: kernelShape, strides: strides, dilations: dilations,
                                      padsBegin: begin, padsEnd: end, ceilMode: try a.int("ceil_mode", default: 0) != 0)
            kernels[x.shape] = k
            return k
        } catch {
            throw EngineError("node '\(node.name)' (\(node.opType)): \(error)")
        }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        return [.float(try kernel(for: x).forward(x))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        return [0: try kernel(for: try floatInput(inputs, 0, node)).backward(dy)]
    }
}

/// Mean or max over all spatial positions, per sample and channel: [N, C, …] → [N, C, 1, …].
final class GlobalPool: Operator {
    let node: Node
    let isMax: Bool
    init(node: Node, max: Bool) {
        self.node = node
        isMax = max
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        guard x.rank >= 3 else { throw EngineError("node '\(node.name)' (\(node.opType)): input \(x.shape) has no spatial axes") }
        let planes = x.shape[0] * x.shape[1], size = x.count / max(planes, 1)
        var out = [Float](repeating: 0, count: planes)
        x.data.withUnsafeBufferPointer { v in
            for p in 0..<planes {
                let plane = UnsafeBufferPointer(rebasing: v[(p * size)..<((p + 1) * size)])
                out[p] = isMax ? (plane.max() ?? 0) : plane.reduce(0, +) / Float(size)
            }
        }
        return [.float(Tensor(shape: [x.shape[0], x.shape[1]] + Array(repeating: 1, count: x.rank - 2), data: out))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], case .float(let y) = outputs[0] else { return [:] }
        let x = try floatInput(inputs, 0, node)
        let planes = x.shape[0] * x.shape[1], size = x.count / max(planes, 1)
        var dx = Tensor.zeros(x.shape)
        for p in 0..<planes {
            for i in 0..<size {
                if isMax {
                    if x.data[p * size + i] == y.data[p] { dx.data[p * size + i] = dy.data[p] }
                } else {
                    dx.data[p * size + i] = dy.data[p] / Float(size)
                }
            }
        }
        return [0: dx]
    }
}
