// Transpose as a oneDNN reorder: the permuted copy written through strides, from any layout.
import CDNNL

/// Permutes a tensor's axes with one oneDNN reorder (multi-threaded, vectorised, a pure copy):
/// the destination is described in the source's axis order with the strides of the permuted
/// row-major result, so the source may come in any layout (a convolution's blocked output
/// included) without first being made row-major.
public final class TransposeKernel {
    /// The input's shape, and the permutation (output axis i is input axis permutation[i]).
    public let shape: [Int], permutation: [Int]
    /// The output's shape.
    public let output: [Int]
    private let conformer: LayoutConformer
    private let reorder: DNNLReorder
    private let destination: DNNLMemory

    /// `layout`: the layout inputs will come in (nil: row-major).
    init(shape: [Int], permutation: [Int], layout: dnnl_memory_desc_t?) throws {
        guard permutation.sorted() == Array(shape.indices), !shape.isEmpty, shape.count <= 6, !shape.contains(0) else {
            throw KernelError("cannot transpose \(shape) by \(permutation)")
        }
        self.shape = shape
        self.permutation = permutation
        output = permutation.map { shape[$0] }
        var outputStrides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { outputStrides[i] = outputStrides[i + 1] * output[i + 1] }
        var strides = [Int](repeating: 0, count: shape.count)
        for (i, axis) in permutation.enumerated() { strides[axis] = outputStrides[i] }
        let from = try layout ?? DNNLLayout.plain(shape)
        let to = try DNNLLayout.strided(shape, strides: strides)
        conformer = LayoutConformer(shape: shape, layout: from)
        reorder = try DNNLReorder(from: from, to: to)
        destination = try DNNLMemory(to, owning: false)
    }

    /// A kernel for inputs shaped and laid out like `x`.
    public convenience init(for x: KernelInput, permutation: [Int]) throws {
        if case .laidOut(let t) = x { try self.init(shape: t.shape, permutation: permutation, layout: t.layout) }
        else { try self.init(shape: x.shape, permutation: permutation, layout: nil) }
    }

    /// Whether `x` arrives in the layout this kernel was made for.
    public func fits(_ x: KernelInput) -> Bool {
        guard x.shape == shape else { return false }
        if case .laidOut(let t) = x { return DNNLLayout.equal(t.layout, conformer.layout) }
        return (try? DNNLLayout.plain(shape)).map { DNNLLayout.equal($0, conformer.layout) } ?? false
    }

    /// The permuted tensor, row-major.
    public func run(_ x: KernelInput) throws -> Tensor {
        try filledTensor(output) { out in
            try x.withMemory(conformer) { memory in
                destination.point(at: out)
                try reorder.run(from: memory, to: destination)
            }
        }
    }
}
