// Transpose as a oneDNN reorder: the permuted copy written through strides, from any layout.
import CDNNL

/// Permutes a tensor's axes with one oneDNN reorder (multi-threaded, vectorised, a pure copy):
/// the destination is described in the source's axis order (the strides of the permuted row-major
/// result, or a laid-out result's layout with its axes renumbered), so the source may come in any
/// layout (a convolution's blocked output included) and the result may go into one, each without a
/// separate pass to or from row-major.
public final class TransposeKernel {
    /// The input's shape, and the permutation (output axis i is input axis permutation[i]).
    public let shape: [Int], permutation: [Int]
    /// The output's shape.
    public let output: [Int]
    private let conformer: LayoutConformer
    private let reorder: DNNLReorder
    private let destination: DNNLMemory

    /// The result's layout over the output's axes when it stays in oneDNN memory (`runLaidOut`); nil
    /// when it comes back row-major (`run`).
    private let resultLayout: dnnl_memory_desc_t?

    /// Where a kernel leaves the permuted tensor.
    public enum Result {
        /// A row-major `Tensor` (`run`).
        case rowMajor
        /// Channels in blocks of 16 (`runLaidOut`), where the output's rank and channel count allow it
        /// (else row-major): the layout oneDNN's convolution, pooling and binary kernels take, so a
        /// channels-last tensor permuted back to channels-first goes straight into them.
        case channelBlocked
        /// This layout (`runLaidOut`): a gradient returned in the layout its input had.
        case layout(TensorLayout)
    }

    /// `layout`: the layout inputs will come in (nil: row-major); `result`: the result's layout over the
    /// output's axes (nil: row-major).
    init(shape: [Int], permutation: [Int], layout: dnnl_memory_desc_t?, result: dnnl_memory_desc_t?) throws {
        guard permutation.sorted() == Array(shape.indices), !shape.isEmpty, shape.count <= 6, !shape.contains(0) else {
            throw KernelError("cannot transpose \(shape) by \(permutation)")
        }
        self.shape = shape
        self.permutation = permutation
        output = permutation.map { shape[$0] }
        let to: dnnl_memory_desc_t
        if let result {
            // The result's layout described in the input's axis order: output axis i is input axis permutation[i].
            to = try DNNLLayout.permuted(result, axes: permutation)
        } else {
            var outputStrides = [Int](repeating: 1, count: shape.count)
            for i in stride(from: shape.count - 2, through: 0, by: -1) { outputStrides[i] = outputStrides[i + 1] * output[i + 1] }
            var strides = [Int](repeating: 0, count: shape.count)
            for (i, axis) in permutation.enumerated() { strides[axis] = outputStrides[i] }
            to = try DNNLLayout.strided(shape, strides: strides)
        }
        resultLayout = result
        let from = try layout ?? DNNLLayout.plain(shape)
        conformer = LayoutConformer(shape: shape, layout: from)
        reorder = try DNNLReorder(from: from, to: to)
        destination = try DNNLMemory(to, owning: false)
    }

    /// A kernel for inputs shaped and laid out like `x`, leaving its result as `result` asks.
    public convenience init(for x: KernelInput, permutation: [Int], result: Result = .rowMajor) throws {
        let layout: dnnl_memory_desc_t? = if case .laidOut(let t) = x { t.layout } else { nil }
        try self.init(shape: x.shape, permutation: permutation, layout: layout,
                      result: try Self.layout(of: result, shape: permutation.map { x.shape[$0] }))
    }

    private static func layout(of result: Result, shape: [Int]) throws -> dnnl_memory_desc_t? {
        switch result {
        case .rowMajor: return nil
        case .channelBlocked: return try DNNLLayout.channelBlocked(shape)
        case .layout(let l):
            guard l.shape == shape else { throw KernelError("a result of shape \(shape) cannot take a layout for \(l.shape)") }
            return l.descriptor
        }
    }

    /// Whether the result is laid out (`runLaidOut`) rather than row-major (`run`).
    public var laysOut: Bool { resultLayout != nil }

    /// Whether `x` arrives in the layout this kernel was made for, and the kernel leaves its result as
    /// `result` asks.
    public func fits(_ x: KernelInput, result: Result = .rowMajor) -> Bool {
        guard x.shape == shape else { return false }
        let wanted: dnnl_memory_desc_t?
        do { wanted = try Self.layout(of: result, shape: output) } catch { return false }
        switch (wanted, resultLayout) {
        case (nil, nil): break
        case (let a?, let b?) where DNNLLayout.equal(a, b): break
        default: return false
        }
        if case .laidOut(let t) = x { return DNNLLayout.equal(t.layout, conformer.layout) }
        return (try? DNNLLayout.plain(shape)).map { DNNLLayout.equal($0, conformer.layout) } ?? false
    }

    /// The permuted tensor, row-major (a kernel made for a row-major result).
    public func run(_ x: KernelInput) throws -> Tensor {
        guard resultLayout == nil else { throw KernelError("this transposition's result is laid out: runLaidOut gives it") }
        return try filledTensor(output) { out in
            try x.withMemory(conformer) { memory in
                destination.point(at: out)
                try reorder.run(from: memory, to: destination)
            }
        }
    }

    /// The permuted tensor in the kernel's result layout (a kernel made for a laid-out result).
    public func runLaidOut(_ x: KernelInput) throws -> DNNLTensor {
        guard let resultLayout else { throw KernelError("this transposition's result is row-major: run gives it") }
        let result = try DNNLTensor(shape: output, layout: resultLayout)
        try x.withMemory(conformer) { memory in
            destination.point(at: result.memory.pointer)
            try reorder.run(from: memory, to: destination)
        }
        return result
    }
}
