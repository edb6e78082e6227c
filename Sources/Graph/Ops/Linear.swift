import Tensor

let linearOperators: [String: OperatorSet.Maker] = [
    "Gemm": { try Gemm(node: $0) },
    "MatMul": { MatMul(node: $0) },
]

/// A cache of matmul kernels keyed by (shapes, transposes): a node's products keep their primitives.
final class MatMulCache {
    private struct Key: Hashable { var a: [Int], b: [Int], ta: Bool, tb: Bool, bias: Bool }
    private var kernels: [Key: MatMulKernel] = [:]

    /// op(x)·op(y), plus `bias` over the last axis when given (in the same oneDNN pass).
    func multiply(_ x: Tensor, _ y: Tensor, transposeA: Bool = false, transposeB: Bool = false, bias: Tensor? = nil, node: Node) throws -> Tensor {
        let key = Key(a: x.shape, b: y.shape, ta: transposeA, tb: transposeB, bias: bias != nil)
        do {
            if let k = kernels[key] { return try k.run(x, y, bias: bias) }
            let k = try MatMulKernel(a: x.shape, b: y.shape, transposeA: transposeA, transposeB: transposeB, bias: bias != nil)
            kernels[key] = k
            return try k.run(x, y, bias: bias)
        } catch let error as KernelError {
            throw EngineError("node '\(node.name)' (\(node.opType)): \(error)")
        }
    }
}

/// Gemm: Y = α·op(A)·op(B) + β·C, as torch.nn.Linear exports (transB = 1).
final class Gemm: Operator {
    let node: Node
    let alpha, beta: Float
    let transA, transB: Bool
    private let products = MatMulCache()

    init(node: Node) throws {
        self.node = node
        let a = NodeAttributes(node: node)
        alpha = try a.float("alpha", default: 1)
        beta = try a.float("beta", default: 1)
        transA = try a.int("transA", default: 0) != 0
        transB = try a.int("transB", default: 0) != 0
    }

    var differentiableInputs: [Int] { [0, 1, 2] }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let a = try floatInput(inputs, 0, node), b = try floatInput(inputs, 1, node)
        guard a.rank == 2, b.rank == 2 else { throw EngineError("node '\(node.name)' (Gemm) needs 2-D inputs, got \(a.shape) and \(b.shape)") }
        var y = try products.multiply(a, b, transposeA: transA, transposeB: transB, node: node)
        if alpha != 1 { y = y.map { $0 * alpha } }
        if inputs.count > 2, let c = inputs[2]?.floats {
            do { y = try y.applying(.add, beta == 1 ? c : c.map { $0 * beta }) } catch {
                throw EngineError("node '\(node.name)' (Gemm): C of shape \(c.shape) does not broadcast to \(y.shape)")
            }
        }
        return [.float(y)]
    }

    /// A's gradient reads B and B's reads A; C's needs its shape only.
    func backwardReads(wanted: Set<Int>) -> BackwardReads {
        BackwardReads(inputs: Set(wanted.compactMap { $0 == 0 ? 1 : $0 == 1 ? 0 : nil }), outputs: false)
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard var dy = g[0] else { return [:] }
        var result: [Int: Tensor] = [:]
        if wanted.contains(2), inputs.count > 2, let c = inputs[2] {
            result[2] = dy.summed(to: c.shape).map { $0 * beta }
        }
        if alpha != 1 { dy = dy.map { $0 * alpha } }
        if wanted.contains(0) {
            let b = try floatInput(inputs, 1, node)
            // d op(A) = dY·op(B)ᵀ; for transA, dA = op(B)·dYᵀ.
            result[0] = transA
                ? try products.multiply(b, dy, transposeA: transB, transposeB: true, node: node)
                : try products.multiply(dy, b, transposeB: !transB, node: node)
        }
        if wanted.contains(1) {
            let a = try floatInput(inputs, 0, node)
            result[1] = transB
                ? try products.multiply(dy, a, transposeA: true, transposeB: transA, node: node)
                : try products.multiply(a, dy, transposeA: !transA, node: node)
        }
        return result
    }
}

/// MatMul with NumPy semantics: batched, broadcast, 1-D operands promoted and the added axis dropped.
/// Fused with the Add of a bias that follows it (`fusedBias`, see `Fusion`), it reads the bias as a
/// third input and adds it in the product's own pass. Fused with a Transpose that swaps an operand's
/// last two axes (`transposed`), it reads that operand untransposed and swaps it through strides.
final class MatMul: Operator {
    let node: Node
    let fusedBias: Bool
    /// Per operand, whether it is stored with its last two axes swapped (the Transpose it absorbed).
    let transposed: [Bool]
    /// Per operand, the rank the absorbed Transpose's permutation has (nil for an operand read as it is).
    private let transposedRanks: [Int?]
    private let products = MatMulCache()
    /// `transposedRanks`: per operand, nil, or the rank of the Transpose (swapping the last two axes) it
    /// is read through; an operand of another rank is refused, as that Transpose would refuse it.
    init(node: Node, fusedBias: Bool = false, transposedRanks: [Int?] = [nil, nil]) {
        self.node = node
        self.fusedBias = fusedBias
        self.transposedRanks = transposedRanks
        transposed = transposedRanks.map { $0 != nil }
    }
    var differentiableInputs: [Int] { fusedBias ? [0, 1, 2] : [0, 1] }

    /// Each operand's gradient reads the other: a product by a weight matrix keeps only the weights.
    /// The bias's gradient needs its shape only.
    func backwardReads(wanted: Set<Int>) -> BackwardReads {
        BackwardReads(inputs: Set(wanted.compactMap { $0 == 0 ? 1 : $0 == 1 ? 0 : nil }), outputs: false)
    }

    /// The operands' shapes as stored, 1-D ones promoted to matrices (A to a row, B to a column), and
    /// as multiplied (a transposed operand's last two axes swapped).
    private func shapes(_ a: [Int], _ b: [Int]) throws -> (stored: [[Int]], logical: [[Int]]) {
        let stored = [a.count == 1 ? [1, a[0]] : a, b.count == 1 ? [b[0], 1] : b]
        let logical = try (0..<2).map { i -> [Int] in
            guard let rank = transposedRanks[i] else { return stored[i] }
            guard [a, b][i].count == rank else {
                throw EngineError("node '\(node.name)' (Transpose+MatMul): operand \(i) of shape \([a, b][i]) does not fit its Transpose's permutation of rank \(rank)")
            }
            var s = stored[i]
            s.swapAt(s.count - 1, s.count - 2)
            return s
        }
        return (stored, logical)
    }

    private func outputShape(_ a: [Int], _ b: [Int], _ full: [Int]) -> [Int] {
        var shape = full
        if b.count == 1 { shape.removeLast() }
        if a.count == 1 { shape.remove(at: shape.count - (b.count == 1 ? 1 : 2)) }
        return shape
    }

    /// A batched A times one matrix B (a Linear layer on [batch, tokens, features]: B's leading
    /// axes, if any, are 1s): A's batch axes fold into its rows, giving one large product instead
    /// of a product per batch entry (197 matrix–vector products for ViT's [197, 1, 768] tokens).
    /// Returns (A as [rows, K], B as stored, [K, N] or [N, K]) then. Not for a transposed A,
    /// whose rows are not its stored rows.
    private func folded(_ stored: [[Int]], _ logical: [[Int]]) -> ([Int], [Int])? {
        let (pa, pb) = (logical[0], logical[1])
        guard !transposed[0], pa.count >= 3, pb.dropLast(2).allSatisfy({ $0 == 1 }), pa.count >= pb.count else { return nil }
        let k = pa[pa.count - 1]
        return ([pa.reduce(1, *) / max(k, 1), k], Array(stored[1].suffix(2)))
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let a = try floatInput(inputs, 0, node), b = try floatInput(inputs, 1, node)
        let (stored, logical) = try shapes(a.shape, b.shape)
        let (la, lb) = (transposed[0] ? logical[0] : a.shape, transposed[1] ? logical[1] : b.shape)
        let n = logical[1][logical[1].count - 1]
        // A fused bias goes into the product when it is a vector over the output's last axis.
        let bias = fusedBias ? try floatInput(inputs, 2, node) : nil
        let inKernel = bias.map { t in
            a.rank >= 2 && b.rank >= 2 && t.shape.last == n && t.shape.dropLast().allSatisfy { $0 == 1 } && t.rank <= max(a.rank, b.rank)
        } ?? false
        var y: Tensor
        if let (fa, fb) = folded(stored, logical) {
            let product = try products.multiply(Tensor(shape: fa, data: a.data), Tensor(shape: fb, data: b.data), transposeB: transposed[1],
                                                bias: inKernel ? bias : nil, node: node)
            y = Tensor(shape: outputShape(la, lb, Array(logical[0].dropLast()) + [n]), data: product.data)
        } else {
            let product = try products.multiply(Tensor(shape: stored[0], data: a.data), Tensor(shape: stored[1], data: b.data),
                                                transposeA: transposed[0], transposeB: transposed[1], bias: inKernel ? bias : nil, node: node)
            y = Tensor(shape: outputShape(la, lb, product.shape), data: product.data)
        }
        if let bias, !inKernel {
            do { y = try y.applying(.add, bias) } catch {
                throw EngineError("node '\(node.name)' (MatMul+Add): the bias of shape \(bias.shape) does not broadcast to \(y.shape)")
            }
        }
        return [.float(y)]
    }

    /// With op(X) = Xᵀ for a transposed operand: d op(A) = dY·op(B)ᵀ and d op(B) = op(A)ᵀ·dY; a
    /// transposed operand's own gradient is the transpose of that, computed as one product.
    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        guard inputs.count >= 2, let aShape = inputs[0]?.shape, let bShape = inputs[1]?.shape else {
            throw EngineError("node '\(node.name)' (MatMul) needs two inputs")
        }
        let (stored, logical) = try shapes(aShape, bShape)
        let (ta, tb) = (transposed[0], transposed[1])
        /// Operand `i` (read only for the other one's gradient), in shape `shape`.
        func operand(_ i: Int, _ shape: [Int]) throws -> Tensor { Tensor(shape: shape, data: try floatInput(inputs, i, node).data) }
        var result: [Int: Tensor] = [:]
        if fusedBias, wanted.contains(2), inputs.count > 2, let bias = inputs[2] { result[2] = dy.summed(to: bias.shape) }
        if let (fa, fb) = folded(stored, logical) {
            let d = Tensor(shape: [fa[0], logical[1][logical[1].count - 1]], data: dy.data)
            if wanted.contains(0) { result[0] = Tensor(shape: aShape, data: try products.multiply(d, try operand(1, fb), transposeB: !tb, node: node).data) }
            if wanted.contains(1) {
                let product = tb ? try products.multiply(d, try operand(0, fa), transposeA: true, node: node)
                                 : try products.multiply(try operand(0, fa), d, transposeA: true, node: node)
                result[1] = Tensor(shape: bShape, data: product.data)
            }
            return result
        }
        let full: [Int]
        do { full = try MatMulKernel.outputShape(a: logical[0], b: logical[1]) } catch let error as KernelError {
            throw EngineError("node '\(node.name)' (MatMul): \(error)")
        }
        let d = Tensor(shape: full, data: dy.data)
        func reduce(_ t: Tensor, to shape: [Int], original: [Int]) -> Tensor {
            // Sum over broadcast batch axes, then restore the operand's own (possibly 1-D) shape.
            let padded = Array(repeating: 1, count: max(0, t.rank - shape.count)) + shape
            let s = t.summed(to: padded)
            return Tensor(shape: original, data: s.data)
        }
        if wanted.contains(0) {
            let b = try operand(1, stored[1])
            let product = ta ? try products.multiply(b, d, transposeA: tb, transposeB: true, node: node)
                             : try products.multiply(d, b, transposeB: !tb, node: node)
            result[0] = reduce(product, to: stored[0], original: aShape)
        }
        if wanted.contains(1) {
            let a = try operand(0, stored[0])
            let product = tb ? try products.multiply(d, a, transposeA: true, transposeB: ta, node: node)
                             : try products.multiply(a, d, transposeA: !ta, node: node)
            result[1] = reduce(product, to: stored[1], original: bShape)
        }
        return result
    }
}
