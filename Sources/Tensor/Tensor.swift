/// Tensors: shaped Float32 storage in row-major (C) order, a plain value type. Between oneDNN
/// kernels activations live in `DNNLTensor` instead, in the layouts the primitives chose.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first ([] for a scalar).
    public var shape: [Int]
    /// The elements in row-major order.
    public var data: [Float]

    /// A tensor of `shape` over `data`; the element count must match (a programming error otherwise).
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(Tensor.elementCount(shape) == data.count,
                     "shape \(shape) needs \(Tensor.elementCount(shape)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A rank-0 tensor holding one value.
    public init(scalar: Float) {
        self.init(shape: [], data: [scalar])
    }

    /// A tensor of `shape` with every element `value`.
    public static func filled(_ shape: [Int], with value: Float) -> Tensor {
        Tensor(shape: shape, data: [Float](repeating: value, count: elementCount(shape)))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { filled(shape, with: 0) }
    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { filled(shape, with: 1) }

    /// Number of elements a shape holds (1 for the empty shape of a scalar).
    public static func elementCount(_ shape: [Int]) -> Int {
        shape.reduce(1, *)
    }

    /// Number of elements.
    public var count: Int { data.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor? {
        guard newShape.allSatisfy({ $0 >= 0 }), Tensor.elementCount(newShape) == count else { return nil }
        return Tensor(shape: newShape, data: data)
    }

    /// The same shape with `transform` applied to each element.
    public func map(_ transform: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, data: data.map(transform))
    }

    // MARK: Indexing along the first axis

    /// Number of elements in one slice along the first axis.
    private var sliceCount: Int { Tensor.elementCount(Array(shape.dropFirst())) }

    /// The sub-tensor at `index` along the first axis (rank drops by one). Requires rank ≥ 1 and a valid index.
    public func slice(_ index: Int) -> Tensor {
        precondition(rank >= 1 && index >= 0 && index < shape[0], "slice index out of range")
        let n = sliceCount
        return Tensor(shape: Array(shape.dropFirst()), data: Array(data[(index * n)..<((index + 1) * n)]))
    }

    /// The sub-tensors at `indices` along the first axis, stacked in that order (rank kept). Requires rank ≥ 1
    /// and valid indices; repeats and any order are fine.
    public func rows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1 && indices.allSatisfy { $0 >= 0 && $0 < shape[0] }, "row index out of range")
        let n = sliceCount
        var out: [Float] = []
        out.reserveCapacity(indices.count * n)
        for r in indices { out += data[(r * n)..<((r + 1) * n)] }
        return Tensor(shape: [indices.count] + shape.dropFirst(), data: out)
    }

    /// Replaces the sub-tensor at `index` along the first axis; `value` must have shape `shape.dropFirst()`.
    public mutating func setSlice(_ index: Int, to value: Tensor) {
        precondition(rank >= 1 && index >= 0 && index < shape[0], "slice index out of range")
        precondition(value.shape == Array(shape.dropFirst()), "slice shape mismatch")
        let n = sliceCount
        data.replaceSubrange((index * n)..<((index + 1) * n), with: value.data)
    }

    // MARK: Reductions (over all elements; accumulated in Double for accuracy)

    /// Sum of all elements (0 for an empty tensor).
    public func sum() -> Float {
        Float(data.reduce(0.0) { $0 + Double($1) })
    }

    /// NaN for an empty tensor.
    public func mean() -> Float {
        count == 0 ? .nan : Float(data.reduce(0.0) { $0 + Double($1) } / Double(count))
    }

    /// nil for an empty tensor; NaN elements are ignored unless all are NaN.
    public func min() -> Float? {
        guard !data.isEmpty else { return nil }
        return data.reduce(Float.nan) { $0.isNaN ? $1 : ($1 < $0 ? $1 : $0) }
    }

    /// nil for an empty tensor; NaN elements are ignored unless all are NaN.
    public func max() -> Float? {
        guard !data.isEmpty else { return nil }
        return data.reduce(Float.nan) { $0.isNaN ? $1 : ($1 > $0 ? $1 : $0) }
    }
}
