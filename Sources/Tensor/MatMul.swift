import CDNNL

/// Batched matrix product with NumPy broadcasting over leading dimensions, through oneDNN's matmul.
/// Either operand may be used transposed (its last two axes swapped) without a copy: oneDNN reads
/// it through strides. A bias over the last axis can be added in the same pass. One primitive per
/// (shapes, transposes, bias), reused.
public final class MatMulKernel {
    /// The operands' shapes, as given (before any transpose).
    public let a: [Int], b: [Int]
    /// Whether each operand's last two axes are swapped.
    public let transposeA: Bool, transposeB: Bool
    /// The product's shape (broadcast leading dimensions, then rows × columns).
    public let output: [Int]
    /// Whether `run` adds a bias (a vector over the output's last axis).
    private let hasBias: Bool
    /// The oneDNN primitive and the memories it reads and writes (the bias's when there is one). Nil when a
    /// dimension is 0, which oneDNN divides by: the product is then zeros (sums over nothing), plus the bias.
    private let engine: (primitive: DNNLPrimitive, left: DNNLMemory, right: DNNLMemory, result: DNNLMemory, bias: DNNLMemory?)?

    /// `a` and `b` are the stored shapes (rank ≥ 2 after ONNX's 1-D promotion, done by the caller);
    /// with `bias`, `run` adds a vector of the output's last dimension to every row. `bRowStride`, when given,
    /// puts `b`'s rows (as stored) that many elements apart instead of `b.last`: padded rows, for a right operand
    /// whose rows would otherwise be a multiple of 2 KiB apart, which the matmul reads slowly.
    public init(a: [Int], b: [Int], transposeA: Bool = false, transposeB: Bool = false, bias: Bool = false, bRowStride: Int? = nil) throws {
        output = try Self.outputShape(a: a, b: b, transposeA: transposeA, transposeB: transposeB)
        self.a = a
        self.b = b
        self.transposeA = transposeA
        self.transposeB = transposeB
        let rank = output.count
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        let (k, n) = (transposeA ? pa[rank - 2] : pa[rank - 1], output[rank - 1])
        hasBias = bias
        if (pa + pb).contains(0) {
            engine = nil
            return
        }
        var aDesc = try Self.describe(pa, transposed: transposeA)
        var bDesc = try Self.describe(pb, transposed: transposeB, rowStride: bRowStride)
        var cDesc = try DNNLLayout.plain(output)
        var biasDesc = try DNNLLayout.plain(Array(repeating: 1, count: output.count - 1) + [n])
        var descriptor = dnnl_matmul_desc_t()
        if bias {
            try check(dnnl_matmul_desc_init(&descriptor, &aDesc, &bDesc, &biasDesc, &cDesc), "describing a matmul \(a) × \(b) + bias")
        } else {
            try check(dnnl_matmul_desc_init(&descriptor, &aDesc, &bDesc, nil, &cDesc), "describing a matmul \(a) × \(b)")
        }
        let work = DNNLWork.flops(2 * output.reduce(1, *) * k)
        engine = (try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: work, what: "a matmul") },
                  try DNNLMemory(aDesc, owning: false), try DNNLMemory(bDesc, owning: false), try DNNLMemory(cDesc, owning: false),
                  bias ? try DNNLMemory(biasDesc, owning: false) : nil)
    }

    /// The product's shape for operands of stored shapes `a` and `b` (rank ≥ 2), each used transposed if
    /// asked: the broadcast leading dimensions, then rows × columns. Throws when the inner dimensions
    /// differ or the leading ones do not broadcast.
    public static func outputShape(a: [Int], b: [Int], transposeA: Bool = false, transposeB: Bool = false) throws -> [Int] {
        guard a.count >= 2, b.count >= 2 else { throw KernelError("matmul needs rank ≥ 2 operands, got \(a) and \(b)") }
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        let (m, k) = transposeA ? (pa[rank - 1], pa[rank - 2]) : (pa[rank - 2], pa[rank - 1])
        let (k2, n) = transposeB ? (pb[rank - 1], pb[rank - 2]) : (pb[rank - 2], pb[rank - 1])
        guard k == k2 else {
            throw KernelError("matmul inner dimensions differ: \(a)\(transposeA ? "ᵀ" : "") × \(b)\(transposeB ? "ᵀ" : "") (\(k) vs \(k2))")
        }
        var batch: [Int] = []
        for i in 0..<(rank - 2) {
            let (x, y) = (pa[i], pb[i])
            guard x == y || x == 1 || y == 1 else { throw KernelError("matmul batch dimensions \(a) and \(b) do not broadcast") }
            batch.append(x == 1 ? y : x)   // 1 broadcasts, also against 0
        }
        return batch + [m, n]
    }

    /// Logical [..., rows, cols] view of a row-major buffer (its rows `rowStride` elements apart, if given), transposed
    /// through strides if asked.
    private static func describe(_ stored: [Int], transposed: Bool, rowStride: Int? = nil) throws -> dnnl_memory_desc_t {
        var strides = [Int](repeating: 1, count: stored.count)
        for i in stride(from: stored.count - 2, through: 0, by: -1) {
            strides[i] = i == stored.count - 2 ? rowStride ?? stored[i + 1] : strides[i + 1] * stored[i + 1]
        }
        // Broadcast batch dimensions of size 1 get stride 0 semantics from oneDNN's broadcasting rules.
        guard transposed else { return try DNNLLayout.strided(stored, strides: strides) }
        var dims = stored, s = strides
        dims.swapAt(dims.count - 1, dims.count - 2)
        s.swapAt(s.count - 1, s.count - 2)
        return try DNNLLayout.strided(dims, strides: s)
    }

    /// The product of `x` (shape `a`) and `y` (shape `b`), plus `bias` (as many elements as the output's
    /// last dimension) when the kernel was made for one; throws when sizes differ from the kernel's.
    public func run(_ x: Tensor, _ y: Tensor, bias: Tensor? = nil) throws -> Tensor {
        guard x.count == a.reduce(1, *), y.count == b.reduce(1, *) else {
            throw KernelError("matmul expected operands \(a) and \(b), got \(x.shape) and \(y.shape)")
        }
        guard (bias == nil) == !hasBias, bias.map({ $0.count == output[output.count - 1] }) ?? true else {
            throw KernelError("matmul \(hasBias ? "expected a bias of \(output[output.count - 1]) elements" : "has no bias"), got \(bias.map { "\($0.shape)" } ?? "none")")
        }
        guard let engine else {
            let n = output[output.count - 1]
            return Tensor(shape: output, data: (0 ..< output.reduce(1, *)).map { bias?.data[$0 % n] ?? 0 })
        }
        // Operands are only read: borrowing their storage avoids copy-on-write copies. The product
        // writes every element of its output, so that is not zeroed first.
        return try withReadPointers([x, y] + (bias.map { [$0] } ?? [])) { operands in
            try filledTensor(output) { z in try execute(engine, operands[0], operands[1], bias: bias == nil ? nil : operands[2], into: z) }
        }
    }

    /// The product of the row-major buffers at `x` and `y` (the kernel's shapes, as stored) written to `z`,
    /// for callers whose operands are not tensors (Winograd's transformed values); a kernel made with a
    /// bias cannot run this way. Throws for a kernel with an empty dimension.
    func run(_ x: UnsafeMutableRawPointer, _ y: UnsafeMutableRawPointer, into z: UnsafeMutableRawPointer) throws {
        guard let engine, !hasBias else { throw KernelError("matmul \(a) × \(b) cannot run on raw buffers (\(hasBias ? "it adds a bias" : "a dimension is 0"))") }
        try execute(engine, x, y, bias: nil, into: z)
    }

    /// Points the primitive's memories at the operands and runs it.
    private func execute(_ engine: (primitive: DNNLPrimitive, left: DNNLMemory, right: DNNLMemory, result: DNNLMemory, bias: DNNLMemory?),
                         _ x: UnsafeMutableRawPointer, _ y: UnsafeMutableRawPointer, bias: UnsafeMutableRawPointer?, into z: UnsafeMutableRawPointer) throws {
        engine.left.point(at: x)
        engine.right.point(at: y)
        engine.result.point(at: z)
        var arguments = [(DNNL_ARG_SRC, engine.left), (DNNL_ARG_WEIGHTS, engine.right), (DNNL_ARG_DST, engine.result)]
        if let biasMemory = engine.bias, let bias {
            biasMemory.point(at: bias)
            arguments.append((DNNL_ARG_BIAS, biasMemory))
        }
        try engine.primitive.execute(arguments)
    }
}
