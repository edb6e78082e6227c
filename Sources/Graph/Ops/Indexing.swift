// Mod, Not, Range, GatherND and ScatterND: the index arithmetic that Swin's and LeViT's exports use (window shifts, attention-bias tables).
import Foundation
import Tensor

let indexingOperators: [String: OperatorSet.Maker] = [
    "Mod": { try Mod(node: $0) },
    "Not": { Not(node: $0) },
    "Range": { RangeOperator(node: $0) },
    "GatherND": { try GatherND(node: $0) },
    "ScatterND": { try ScatterND(node: $0) },
]

/// Mod(A, B): fmod = 0 takes the divisor's sign (Python's %, integers), fmod = 1 the dividend's (C's fmod).
/// Gradients: ∂/∂A = 1, ∂/∂B = −⌊A/B⌋ (fmod = 0) or −trunc(A/B) (fmod = 1), away from the jumps.
final class Mod: Operator {
    let node: Node
    let cStyle: Bool
    init(node: Node) throws {
        self.node = node
        cStyle = try NodeAttributes(node: node).int("fmod", default: 0) != 0
    }
    var differentiableInputs: [Int] { [0, 1] }

    private func quotient(_ a: Double, _ b: Double) -> Double { cStyle ? (a / b).rounded(.towardZero) : (a / b).rounded(.down) }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard inputs.count >= 2, let a = inputs[0], let b = inputs[1] else { throw EngineError("node '\(node.name)' (Mod) needs two inputs") }
        if case .int(let x) = a, case .int(let y) = b {
            if y.data.contains(0) { throw EngineError("node '\(node.name)' (Mod): integer division by zero") }
            let cStyle = cStyle
            return [.int(try broadcastIntegers(x, y) { p, q in
                let r = p % q                              // Swift's % truncates: the dividend's sign
                return cStyle || r == 0 || (r < 0) == (q < 0) ? r : r + q
            })]
        }
        let (x, y, shape) = try broadcastPair(a.floats, b.floats)
        let cStyle = cStyle
        return [.float(Tensor(shape: shape, data: zip(x, y).map { p, q in
            let r = fmod(p, q)                          // C's fmod: exact, the dividend's sign
            if cStyle { return r }
            return r == 0 ? Float(signOf: q, magnitudeOf: 0) : (r < 0) != (q < 0) ? r + q : r   // numpy's mod, infinities included
        }))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let a = try floatInput(inputs, 0, node), b = try floatInput(inputs, 1, node)
        var result: [Int: Tensor] = [:]
        if wanted.contains(0) { result[0] = dy.summed(to: a.shape) }
        if wanted.contains(1) {
            let (x, y, shape) = try broadcastPair(a, b)
            let local = Tensor(shape: shape, data: zip(x, y).map { p, q in Float(-quotient(Double(p), Double(q))) })
            result[1] = dy.zipped(local, *).summed(to: b.shape)
        }
        return result
    }

    private func broadcastPair(_ a: Tensor, _ b: Tensor) throws -> ([Float], [Float], [Int]) {
        guard let shape = Tensor.broadcastShape(a.shape, b.shape) else {
            throw EngineError("node '\(node.name)' (Mod): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let zero = Tensor.zeros(shape)
        return (try a.applying(.add, zero).data, try b.applying(.add, zero).data, shape)
    }
}

/// Logical negation of a boolean tensor (held as 0/1 integers).
final class Not: NonDifferentiable {
    let node: Node
    init(node: Node) { self.node = node }
    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try intInput(inputs, 0, node)
        return [.int(IntArray(shape: x.shape, data: x.data.map { $0 == 0 ? 1 : 0 }))]
    }
}

/// Range(start, limit, delta): max(⌈(limit − start) / delta⌉, 0) values; integers when all three are.
final class RangeOperator: NonDifferentiable {
    let node: Node
    init(node: Node) { self.node = node }
    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard inputs.count == 3, let start = inputs[0], let limit = inputs[1], let delta = inputs[2] else {
            throw EngineError("node '\(node.name)' (Range) needs start, limit and delta")
        }
        for (k, v) in [start, limit, delta].enumerated() where v.shape.reduce(1, *) != 1 {
            throw EngineError("node '\(node.name)' (Range): input \(k) should be a scalar, got shape \(v.shape)")
        }
        if case .int(let s) = start, case .int(let l) = limit, case .int(let d) = delta {
            let (s, l, d) = (s.data[0], l.data[0], d.data[0])
            guard d != 0 else { throw EngineError("node '\(node.name)' (Range): delta is 0") }
            let count = max(0, Int((Double(l - s) / Double(d)).rounded(.up)))
            guard count <= 1 << 31 else { throw EngineError("node '\(node.name)' (Range): \(count) values are too many") }
            return [.int(IntArray(shape: [count], data: (0..<count).map { s + Int64($0) * d }))]
        }
        let (s, l, d) = (Double(start.floats.data[0]), Double(limit.floats.data[0]), Double(delta.floats.data[0]))
        guard d != 0, s.isFinite, l.isFinite, d.isFinite else { throw EngineError("node '\(node.name)' (Range): start \(s), limit \(l), delta \(d) give no finite range") }
        let count = max(0, Int(((l - s) / d).rounded(.up)))
        guard count <= 1 << 31 else { throw EngineError("node '\(node.name)' (Range): \(count) values are too many") }
        return [.float(Tensor(shape: [count], data: (0..<count).map { Float(s + Double($0) * d) }))]
    }
}

/// The element offsets an ND index tensor picks: `indices` of shape [..., k] addresses slices of
/// `data` (after `batchDims` shared leading axes); returns each slice's start and the slice size.
private func ndOffsets(data: [Int], indices: IntArray, batchDims: Int, _ node: Node) throws -> (starts: [Int], slice: Int, outer: [Int]) {
    guard let k = indices.shape.last, indices.shape.count >= 1, batchDims >= 0, batchDims < indices.shape.count,
          batchDims + k <= data.count, Array(indices.shape.prefix(batchDims)) == Array(data.prefix(batchDims)) else {
        throw EngineError("node '\(node.name)' (\(node.opType)): indices \(indices.shape) do not fit data \(data) with batch_dims \(batchDims)")
    }
    let slice = data[(batchDims + k)...].reduce(1, *)
    let batchCount = data.prefix(batchDims).reduce(1, *)
    let perBatchData = data[batchDims...].reduce(1, *)
    let tuples = indices.shape.dropLast().reduce(1, *)
    let perBatchTuples = tuples / max(batchCount, 1)
    var strides = [Int](repeating: slice, count: k)
    for i in stride(from: k - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * data[batchDims + i + 1] }
    var starts: [Int] = []
    starts.reserveCapacity(tuples)
    for t in 0..<tuples {
        var offset = (t / max(perBatchTuples, 1)) * perBatchData
        for i in 0..<k {
            let length = data[batchDims + i]
            var j = Int(indices.data[t * k + i])
            if j < 0 { j += length }
            guard j >= 0, j < length else {
                throw EngineError("node '\(node.name)' (\(node.opType)): index \(indices.data[t * k + i]) is out of range for axis \(batchDims + i) of length \(length)")
            }
            offset += j * strides[i]
        }
        starts.append(offset)
    }
    return (starts, slice, Array(indices.shape.dropLast()) + Array(data[(batchDims + k)...]))
}

/// GatherND: slices of the data picked by index tuples. Backward adds each output slice back where it
/// came from (repeated tuples accumulate).
final class GatherND: Operator {
    let node: Node
    let batchDims: Int
    init(node: Node) throws {
        self.node = node
        batchDims = try NodeAttributes(node: node).int("batch_dims", default: 0)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (GatherND) has no input") }
        let (starts, slice, shape) = try ndOffsets(data: x.shape, indices: try intInput(inputs, 1, node), batchDims: batchDims, node)
        func gather<T>(_ v: [T]) -> [T] { starts.flatMap { v[$0..<($0 + slice)] } }
        if case .int(let a) = x { return [.int(IntArray(shape: shape, data: gather(a.data)))] }
        return [.float(Tensor(shape: shape, data: gather(x.floats.data)))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0] else { return [:] }
        let (starts, slice, _) = try ndOffsets(data: x.shape, indices: try intInput(inputs, 1, node), batchDims: batchDims, node)
        var dx = Tensor.zeros(x.shape)
        for (t, start) in starts.enumerated() { for i in 0..<slice { dx.data[start + i] += dy.data[t * slice + i] } }
        return [0: dx]
    }
}

/// ScatterND: a copy of the data with slices replaced (or combined, `reduction`) by the updates, in
/// index order. Backward (reduction none or add): the data's gradient is the output's with replaced
/// slices zeroed (none) or as is (add); each update gets the output gradient at its slice, except an
/// update a later duplicate index overwrote (none), which gets zero.
final class ScatterND: Operator {
    let node: Node
    let reduction: String
    init(node: Node) throws {
        self.node = node
        reduction = try NodeAttributes(node: node).string("reduction", default: "none")
        guard ["none", "add", "mul", "max", "min"].contains(reduction) else {
            throw EngineError("node '\(node.name)' (ScatterND): reduction '\(reduction)' is not supported")
        }
    }
    var differentiableInputs: [Int] { [0, 2] }

    private func combine(_ old: Float, _ new: Float) -> Float {
        switch reduction {
        case "add": return old + new
        case "mul": return old * new
        case "max": return Swift.max(old, new)
        case "min": return Swift.min(old, new)
        default: return new
        }
    }

    private func plan(_ inputs: [RuntimeValue?]) throws -> (data: RuntimeValue, starts: [Int], slice: Int, updates: RuntimeValue) {
        guard inputs.count == 3, let data = inputs[0], let updates = inputs[2] else {
            throw EngineError("node '\(node.name)' (ScatterND) needs data, indices and updates")
        }
        let (starts, slice, expected) = try ndOffsets(data: data.shape, indices: try intInput(inputs, 1, node), batchDims: 0, node)
        guard updates.shape == expected else {
            throw EngineError("node '\(node.name)' (ScatterND): updates have shape \(updates.shape), the indices need \(expected)")
        }
        return (data, starts, slice, updates)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let (data, starts, slice, updates) = try plan(inputs)
        if case .int(var out) = data, case .int(let u) = updates {
            for (t, start) in starts.enumerated() {
                for i in 0..<slice {
                    let (old, new) = (out.data[start + i], u.data[t * slice + i])
                    switch reduction {
                    case "add": out.data[start + i] = old &+ new
                    case "mul": out.data[start + i] = old &* new
                    case "max": out.data[start + i] = Swift.max(old, new)
                    case "min": out.data[start + i] = Swift.min(old, new)
                    default: out.data[start + i] = new
                    }
                }
            }
            return [.int(out)]
        }
        var out = data.floats
        let u = updates.floats
        for (t, start) in starts.enumerated() { for i in 0..<slice { out.data[start + i] = combine(out.data[start + i], u.data[t * slice + i]) } }
        return [.float(out)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        guard reduction == "none" || reduction == "add" else {
            throw EngineError("node '\(node.name)' (ScatterND): the gradient of reduction '\(reduction)' is not supported")
        }
        let (_, starts, slice, updates) = try plan(inputs)
        var result: [Int: Tensor] = [:]
        // The last write to each slice wins (reduction none): earlier duplicates get no gradient.
        var lastWriter: [Int: Int] = [:]
        for (t, start) in starts.enumerated() { lastWriter[start] = t }
        if wanted.contains(0) {
            var dx = dy
            if reduction == "none" { for start in starts { for i in 0..<slice { dx.data[start + i] = 0 } } }
            result[0] = dx
        }
        if wanted.contains(2) {
            var du = Tensor.zeros(updates.shape)
            for (t, start) in starts.enumerated() where reduction == "add" || lastWriter[start] == t {
                for i in 0..<slice { du.data[t * slice + i] = dy.data[start + i] }
            }
            result[2] = du
        }
        return result
    }
}
