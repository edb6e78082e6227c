import Foundation

/// Element-wise binary operations with NumPy-style broadcasting.
public enum BinaryOperation: Sendable, Equatable {
    case add, subtract, multiply, divide, floorDivide, remainder, power
    case minimum, maximum
    /// Comparisons give 1 where true and 0 where false.
    case equal, notEqual, less, lessEqual, greater, greaterEqual

    /// The operation on two scalars (NaN-propagating `minimum`/`maximum`, Python's sign rule for `remainder`).
    public func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide: return a / b
        case .floorDivide: return (a / b).rounded(.down)
        // Python's modulo: the result takes the sign of the divisor.
        case .remainder: return a - b * (a / b).rounded(.down)
        case .power: return Foundation.pow(a, b)
        case .minimum: return a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
        case .maximum: return a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
        case .equal: return a == b ? 1 : 0
        case .notEqual: return a != b ? 1 : 0
        case .less: return a < b ? 1 : 0
        case .lessEqual: return a <= b ? 1 : 0
        case .greater: return a > b ? 1 : 0
        case .greaterEqual: return a >= b ? 1 : 0
        }
    }
}

/// Why two tensors cannot be combined.
public enum TensorError: Error, Sendable, Equatable {
    case shapeMismatch([Int], [Int])
}

extension Tensor {
    /// The broadcast shape of two shapes (dimensions compared from the right; each pair equal or one of them 1),
    /// or nil when they are incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = Swift.max(a.count, b.count)
        var result = [Int](repeating: 0, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { result[i] = da } else if da == 1 { result[i] = db } else { return nil }
        }
        return result
    }

    /// Applies `operation` element by element, broadcasting the operands against each other.
    public func applying(_ operation: BinaryOperation, _ other: Tensor) throws(TensorError) -> Tensor {
        if shape == other.shape {
            var out = [Float](repeating: 0, count: count)
            data.withUnsafeBufferPointer { a in
                other.data.withUnsafeBufferPointer { b in
                    for i in 0..<out.count { out[i] = operation.apply(a[i], b[i]) }
                }
            }
            return Tensor(shape: shape, data: out)
        }
        guard let outShape = Tensor.broadcastShape(shape, other.shape) else {
            throw .shapeMismatch(shape, other.shape)
        }
        let total = Tensor.elementCount(outShape)
        if other.count == 1 && total == count {
            let b = other.data[0]
            return Tensor(shape: outShape, data: data.map { operation.apply($0, b) })
        }
        if count == 1 && total == other.count {
            let a = data[0]
            return Tensor(shape: outShape, data: other.data.map { operation.apply(a, $0) })
        }
        // Adjacent axes that both operands walk contiguously (or both broadcast) merge into one, so the inner
        // loop runs long: [1, 64, 3, 49, 49] + [1, 64, 1, 49, 49] is 192 runs of 2,401, not 9,408 of 49.
        let (walk, stridesA, stridesB) = mergedAxes(outShape, broadcastStrides(of: shape, into: outShape),
                                                    broadcastStrides(of: other.shape, into: outShape))
        var out = [Float](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: walk.count)
        var offsetA = 0, offsetB = 0
        let n = walk.last ?? 1, stepA = stridesA.last ?? 0, stepB = stridesB.last ?? 0
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    var flat = 0
                    while flat < total {
                        // A tight loop along the last axis, then an odometer step over the others.
                        for i in 0..<n { o[flat + i] = operation.apply(a[offsetA + i * stepA], b[offsetB + i * stepB]) }
                        flat += n
                        var axis = walk.count - 2
                        while axis >= 0 {
                            index[axis] += 1
                            offsetA += stridesA[axis]
                            offsetB += stridesB[axis]
                            if index[axis] < walk[axis] { break }
                            offsetA -= stridesA[axis] * index[axis]
                            offsetB -= stridesB[axis] * index[axis]
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
        }
        return Tensor(shape: outShape, data: out)
    }

    /// Applies `operation` with a scalar on the right (`scalarOnLeft` puts it on the left).
    public func applying(_ operation: BinaryOperation, scalar: Float, scalarOnLeft: Bool = false) -> Tensor {
        scalarOnLeft ? map { operation.apply(scalar, $0) } : map { operation.apply($0, scalar) }
    }

    /// Element-wise sum with broadcasting; throws when the shapes do not broadcast.
    public static func + (lhs: Tensor, rhs: Tensor) throws(TensorError) -> Tensor { try lhs.applying(.add, rhs) }
    /// Element-wise difference with broadcasting; throws when the shapes do not broadcast.
    public static func - (lhs: Tensor, rhs: Tensor) throws(TensorError) -> Tensor { try lhs.applying(.subtract, rhs) }
    /// Element-wise product with broadcasting; throws when the shapes do not broadcast.
    public static func * (lhs: Tensor, rhs: Tensor) throws(TensorError) -> Tensor { try lhs.applying(.multiply, rhs) }
    /// Element-wise quotient with broadcasting; throws when the shapes do not broadcast.
    public static func / (lhs: Tensor, rhs: Tensor) throws(TensorError) -> Tensor { try lhs.applying(.divide, rhs) }
}

/// The shape and both operands' strides with adjacent axes merged wherever each operand's stride on the outer axis
/// is its stride on the inner axis times the inner axis's length (contiguous, or both 0 for a broadcast).
private func mergedAxes(_ shape: [Int], _ a: [Int], _ b: [Int]) -> ([Int], [Int], [Int]) {
    guard !shape.isEmpty else { return (shape, a, b) }
    var s = [shape.last!], sa = [a.last!], sb = [b.last!]
    for axis in stride(from: shape.count - 2, through: 0, by: -1) {
        if a[axis] == sa[0] * s[0] && b[axis] == sb[0] * s[0] {
            s[0] *= shape[axis]
        } else {
            s.insert(shape[axis], at: 0); sa.insert(a[axis], at: 0); sb.insert(b[axis], at: 0)
        }
    }
    return (s, sa, sb)
}

/// Row-major strides of `shape` aligned to the right of `outShape`, with 0 where the dimension is broadcast.
public func broadcastStrides(of shape: [Int], into outShape: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: outShape.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let axis = i + (outShape.count - shape.count)
        strides[axis] = shape[i] == 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}
