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
/// third input and adds it in the product's own pass.
final class MatMul: Operator {
    let node: Node
    let fusedBias: Bool
    private let products = MatMulCache()
    init(node: Node, fusedBias: Bool = false) {
        self.node = node
        self.fusedBias = fusedBias
    }
    var differentiableInputs: [Int] { fusedBias ? [0, 1, 2] : [0, 1] }

    /// Each operand's gradient reads the other: a product by a weight matrix keeps only the weights.
    /// The bias's gradient needs its shape only.
    func backwardReads(wanted: Set<Int>) -> BackwardReads {
        BackwardReads(inputs: Set(wanted.compactMap { $0 == 0 ? 1 : $0 == 1 ? 0 : nil }), outputs: false)
    }

    /// Shapes with 1-D operands promoted to matrices (A to a row, B to a column).
    private func promoted(_ a: [Int], _ b: [Int]) -> ([Int], [Int]) {
        (a.count == 1 ? [1, a[0]] : a, b.count == 1 ? [b[0], 1] : b)
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
    /// Returns (A as [rows, K], B as [K, N]) then, from the promoted shapes.
    private func folded(_ pa: [Int], _ pb: [Int]) -> ([Int], [Int])? {
        guard pa.count >= 3, pb.dropLast(2).allSatisfy({ $0 == 1 }), pa.count >= pb.count else { return nil }
        let k = pa[pa.count - 1]
        return ([pa.reduce(1, *) / max(k, 1), k], Array(pb.suffix(2)))
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let a = try floatInput(inputs, 0, node), b = try floatInput(inputs, 1, node)
        let (pa, pb) = promoted(a.shape, b.shape)
        // A fused bias goes into the product when it is a vector over the output's last axis.
        let bias = fusedBias ? try floatInput(inputs, 2, node) : nil
        let inKernel = bias.map { t in
            a.rank >= 2 && b.rank >= 2 && t.shape.last == pb[pb.count - 1] && t.shape.dropLast().allSatisfy { $0 == 1 } && t.rank <= max(pa.count, pb.count)
        } ?? false
        var y: Tensor
        if let (fa, fb) = folded(pa, pb) {
            let product = try products.multiply(Tensor(shape: fa, data: a.data), Tensor(shape: fb, data: b.data), bias: inKernel ? bias : nil, node: node)
            y = Tensor(shape: outputShape(a.shape, b.shape, Array(pa.dropLast()) + [pb[pb.count - 1]]), data: product.data)
        } else {
            let product = try products.multiply(Tensor(shape: pa, data: a.data), Tensor(shape: pb, data: b.data), bias: inKernel ? bias : nil, node: node)
            y = Tensor(shape: outputShape(a.shape, b.shape, product.shape), data: product.data)
        }
        if let bias, !inKernel {
            do { y = try y.applying(.add, bias) } catch {
                throw EngineError("node '\(node.name)' (MatMul+Add): the bias of shape \(bias.shape) does not broadcast to \(y.shape)")
            }
        }
        return [.float(y)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        guard inputs.count >= 2, let aShape = inputs[0]?.shape, let bShape = inputs[1]?.shape else {
            throw EngineError("node '\(node.name)' (MatMul) needs two inputs")
        }
        let (pa, pb) = promoted(aShape, bShape)
        /// Operand `i` (read only for the other one's gradient), in shape `shape`.
        func operand(_ i: Int, _ shape: [Int]) throws -> Tensor { Tensor(shape: shape, data: try floatInput(inputs, i, node).data) }
        var result: [Int: Tensor] = [:]
        if fusedBias, wanted.contains(2), inputs.count > 2, let bias = inputs[2] { result[2] = dy.summed(to: bias.shape) }
        if let (fa, fb) = folded(pa, pb) {
            let d = Tensor(shape: [fa[0], fb[1]], data: dy.data)
            if wanted.contains(0) { result[0] = Tensor(shape: aShape, data: try products.multiply(d, try operand(1, fb), transposeB: true, node: node).data) }
            if wanted.contains(1) { result[1] = Tensor(shape: bShape, data: try products.multiply(try operand(0, fa), d, transposeA: true, node: node).data) }
            return result
        }
        let full = try MatMulKernel(a: pa, b: pb).output
        let d = Tensor(shape: full, data: dy.data)
        func reduce(_ t: Tensor, to shape: [Int], original: [Int]) -> Tensor {
            // Sum over broadcast batch axes, then restore the operand's own (possibly 1-D) shape.
            let padded = Array(repeating: 1, count: max(0, t.rank - shape.count)) + shape
            let s = t.summed(to: padded)
            return Tensor(shape: original, data: s.data)
        }
        if wanted.contains(0) { result[0] = reduce(try products.multiply(d, try operand(1, pb), transposeB: true, node: node), to: pa, original: aShape) }
        if wanted.contains(1) { result[1] = reduce(try products.multiply(try operand(0, pa), d, transposeA: true, node: node), to: pb, original: bShape) }
        return result
    }
}
