import Foundation
import Tensor

let normalizationOperators: [String: OperatorSet.Maker] = [
    "BatchNormalization": { BatchNormalization(node: $0) },
    "Softmax": { try Softmax(node: $0, log: false) },
    "LogSoftmax": { try Softmax(node: $0, log: true) },
]

/// Inference-mode batch normalisation: a per-channel affine map y = a·x + b.
final class BatchNormalization: Operator {
    let node: Node
    init(node: Node) { self.node = node }

    func affine(_ inputs: [RuntimeValue?]) throws -> (scale: [Float], shift: [Float]) {
        let epsilon = try NodeAttributes(node: node).float("epsilon", default: 1e-5)
        let gamma = try floatInput(inputs, 1, node).data, beta = try floatInput(inputs, 2, node).data
        let mean = try floatInput(inputs, 3, node).data, variance = try floatInput(inputs, 4, node).data
        let scale = (0..<gamma.count).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        return (scale, (0..<gamma.count).map { beta[$0] - mean[$0] * scale[$0] })
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        var x = try floatInput(inputs, 0, node)
        let (scale, shift) = try affine(inputs)
        guard x.rank >= 2, x.shape[1] == scale.count else {
            throw EngineError("node '\(node.name)' (BatchNormalization): input \(x.shape) has not \(scale.count) channels")
        }
        let channels = x.shape[1], inner = x.count / max(x.shape[0] * channels, 1)
        x.data.withUnsafeMutableBufferPointer { v in
            for i in 0..<v.count { let c = (i / inner) % channels; v[i] = v[i] * scale[c] + shift[c] }
        }
        return [.float(x)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard var dx = g[0] else { return [:] }
        let (scale, _) = try affine(inputs)
        let channels = dx.shape[1], inner = dx.count / max(dx.shape[0] * channels, 1)
        dx.data.withUnsafeMutableBufferPointer { v in for i in 0..<v.count { v[i] *= scale[(i / inner) % channels] } }
        return [0: dx]
    }
}

/// Softmax and LogSoftmax along an axis (opset ≥ 13); before 13 ONNX flattened at the axis,
/// which for the last axis (what exporters use) is the same thing.
final class Softmax: Operator {
    let node: Node
    let isLog: Bool
    let axisAttribute: Int

    init(node: Node, log: Bool) throws {
        self.node = node
        isLog = log
        axisAttribute = try NodeAttributes(node: node).int("axis", default: -1)
    }

    /// (outer, length, inner) strides of the reduction axis.
    func layout(_ shape: [Int]) throws -> (Int, Int, Int) {
        let axis = try normalizeAxis(axisAttribute, rank: shape.count, node)
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        var x = try floatInput(inputs, 0, node)
        let (outer, length, inner) = try layout(x.shape)
        x.data.withUnsafeMutableBufferPointer { v in
            for o in 0..<outer { for i in 0..<inner {
                let base = o * length * inner + i
                var m = -Float.infinity
                for k in 0..<length { m = max(m, v[base + k * inner]) }
                var sum: Float = 0
                for k in 0..<length { sum += exp(v[base + k * inner] - m) }
                let logSum = log(sum)
                for k in 0..<length {
                    let shifted = v[base + k * inner] - m
                    v[base + k * inner] = isLog ? shifted - logSum : exp(shifted) / sum
                }
            } }
        }
        return [.float(x)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], case .float(let y) = outputs[0] else { return [:] }
        let (outer, length, inner) = try layout(y.shape)
        var dx = Tensor.zeros(y.shape)
        for o in 0..<outer { for i in 0..<inner {
            let base = o * length * inner + i
            if isLog {   // dx = dy − softmax·Σdy
                var total: Float = 0
                for k in 0..<length { total += dy.data[base + k * inner] }
                for k in 0..<length { let j = base + k * inner; dx.data[j] = dy.data[j] - exp(y.data[j]) * total }
            } else {     // dx = y·(dy − Σ dy·y)
                var total: Float = 0
                for k in 0..<length { let j = base + k * inner; total += dy.data[j] * y.data[j] }
                for k in 0..<length { let j = base + k * inner; dx.data[j] = y.data[j] * (dy.data[j] - total) }
            }
        } }
        return [0: dx]
    }
}
