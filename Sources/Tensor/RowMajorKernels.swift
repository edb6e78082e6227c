// oneDNN eltwise, softmax and layer normalization on row-major `Tensor`s, forward and backward.
import CDNNL

/// Runs `body` with the storage of `tensors` as raw pointers. The tensors are only read: borrowing
/// their arrays' storage avoids copy-on-write copies.
func withReadPointers<R>(_ tensors: [Tensor], _ body: ([UnsafeMutableRawPointer]) throws -> R) throws -> R {
    var pointers: [UnsafeMutableRawPointer] = []
    func next(_ i: Int) throws -> R {
        if i == tensors.count { return try body(pointers) }
        return try tensors[i].data.withUnsafeBytes { bytes in
            pointers.append(UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!))
            return try next(i + 1)
        }
    }
    return try next(0)
}

/// A new tensor of `shape` whose every element `fill` writes (no zeroing first).
func filledTensor(_ shape: [Int], _ fill: (UnsafeMutableRawPointer) throws -> Void) throws -> Tensor {
    let count = Tensor.elementCount(shape)
    let data = try [Float](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
        try fill(UnsafeMutableRawPointer(buffer.baseAddress!))
        initialized = count
    }
    return Tensor(shape: shape, data: data)
}

/// The element-wise functions oneDNN's eltwise primitive computes, forward and backward.
public enum EltwiseFunction: Hashable, Sendable {
    case relu, logistic, tanh, exp, log, sqrt, abs, hardSwish, geluErf, geluTanh, softplus
    /// x·σ(x) (SiLU)
    case swish
    /// α·x + β
    case linear(alpha: Float, beta: Float)
    /// x for x > 0, α·(eˣ − 1) otherwise
    case elu(alpha: Float)
    /// α·x^β
    case power(alpha: Float, beta: Float)

    /// Whether oneDNN's backward for this function reads the forward's output (else its input).
    public var backwardUsesOutput: Bool { parameters.usesOutput }

    /// The algorithm, its α and β, and whether its backward pass reads the output (else the input).
    var parameters: (algorithm: dnnl_alg_kind_t, alpha: Float, beta: Float, usesOutput: Bool) {
        switch self {
        case .relu: return (dnnl_eltwise_relu_use_dst_for_bwd, 0, 0, true)
        case .logistic: return (dnnl_eltwise_logistic_use_dst_for_bwd, 0, 0, true)
        case .tanh: return (dnnl_eltwise_tanh_use_dst_for_bwd, 0, 0, true)
        case .exp: return (dnnl_eltwise_exp_use_dst_for_bwd, 0, 0, true)
        case .sqrt: return (dnnl_eltwise_sqrt_use_dst_for_bwd, 0, 0, true)
        case .log: return (dnnl_eltwise_log, 0, 0, false)
        case .abs: return (dnnl_eltwise_abs, 0, 0, false)
        case .hardSwish: return (dnnl_eltwise_hardswish, 0, 0, false)
        case .geluErf: return (dnnl_eltwise_gelu_erf, 0, 0, false)
        case .geluTanh: return (dnnl_eltwise_gelu_tanh, 0, 0, false)
        case .softplus: return (dnnl_eltwise_soft_relu, 0, 0, false)
        case .swish: return (dnnl_eltwise_swish, 1, 0, false)
        case .linear(let a, let b): return (dnnl_eltwise_linear, a, b, false)
        case .elu(let a): return (dnnl_eltwise_elu, a, 0, false)
        case .power(let a, let b): return (dnnl_eltwise_pow, a, b, false)
        }
    }
}

/// y = f(x) over a row-major tensor of `count` elements (any shape: element-wise work does not
/// care), and dx = dy·f′ from x or y, through oneDNN's eltwise primitive: vectorised, and on every
/// core for large tensors. Each element's result depends on that element only, so results do not
/// depend on the thread count.
public final class EltwiseKernel {
    /// The function computed.
    public let function: EltwiseFunction
    /// How many elements each tensor holds.
    public let count: Int
    private let forwardPrimitive: DNNLPrimitive
    private var backwardPrimitive: DNNLPrimitive?
    private let a, b, c: DNNLMemory
    private let data: dnnl_memory_desc_t

    /// A kernel for tensors of `count` elements.
    public init(_ function: EltwiseFunction, count: Int) throws {
        self.function = function
        self.count = count
        data = try DNNLLayout.plain([max(count, 1)])
        var d = data
        let p = function.parameters
        var descriptor = dnnl_eltwise_desc_t()
        try check(dnnl_eltwise_forward_desc_init(&descriptor, dnnl_forward_training, p.algorithm, &d, p.alpha, p.beta), "describing \(function)")
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(count), what: "\(function)") }
        (a, b, c) = (try DNNLMemory(data, owning: false), try DNNLMemory(data, owning: false), try DNNLMemory(data, owning: false))
    }

    /// Whether the backward pass reads the forward's output (else its input).
    public var backwardUsesOutput: Bool { function.parameters.usesOutput }

    /// f(x), element by element.
    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.count == count else { throw KernelError("\(function) expected \(count) elements, got \(x.count)") }
        if count == 0 { return x }
        return try withReadPointers([x]) { p in
            try filledTensor(x.shape) { y in
                a.point(at: p[0]); b.point(at: y)
                try forwardPrimitive.execute([(DNNL_ARG_SRC, a), (DNNL_ARG_DST, b)])
            }
        }
    }

    /// dx = dy·f′; `saved` is the forward's output when `backwardUsesOutput`, else its input.
    public func backward(_ dy: Tensor, saved: Tensor) throws -> Tensor {
        guard dy.count == count, saved.count == count else { throw KernelError("\(function)'s backward expected \(count) elements") }
        if count == 0 { return dy }
        if backwardPrimitive == nil {
            var d = data, diff = data
            let p = function.parameters
            var descriptor = dnnl_eltwise_desc_t()
            try check(dnnl_eltwise_backward_desc_init(&descriptor, p.algorithm, &diff, &d, p.alpha, p.beta), "describing \(function)'s backward pass")
            backwardPrimitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .elements(count), what: "\(function)'s backward pass")
            }
        }
        return try withReadPointers([dy, saved]) { p in
            try filledTensor(dy.shape) { dx in
                a.point(at: p[0]); b.point(at: p[1]); c.point(at: dx)
                try backwardPrimitive!.execute([(DNNL_ARG_DIFF_DST, a), (backwardUsesOutput ? DNNL_ARG_DST : DNNL_ARG_SRC, b), (DNNL_ARG_DIFF_SRC, c)])
            }
        }
    }
}

/// Softmax (or log-softmax) over the middle axis of a row-major [outer, length, inner] tensor,
/// forward and backward (from the output), through oneDNN. Each softmax runs on one thread from
/// start to end, so results do not depend on the thread count.
public final class SoftmaxKernel {
    /// [outer, length, inner].
    public let dims: [Int]
    /// Log-softmax instead of softmax.
    public let isLog: Bool
    private let forwardPrimitive: DNNLPrimitive
    private var backwardPrimitive: DNNLPrimitive?
    private let data: dnnl_memory_desc_t
    private let a, b, c: DNNLMemory

    /// `dims`: [outer, length, inner], the softmax running along `length`.
    public init(dims: [Int], log: Bool) throws {
        guard dims.count == 3 else { throw KernelError("softmax dims should be [outer, length, inner], got \(dims)") }
        self.dims = dims
        isLog = log
        data = try DNNLLayout.plain(dims)
        var d = data, e = data
        var descriptor = dnnl_softmax_v2_desc_t()
        try check(dnnl_softmax_v2_forward_desc_init(&descriptor, dnnl_forward_training, log ? dnnl_softmax_log : dnnl_softmax_accurate, &d, &e, 1),
                  "describing a softmax over \(dims)")
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(dims.reduce(1, *)), what: "a softmax") }
        (a, b, c) = (try DNNLMemory(data, owning: false), try DNNLMemory(data, owning: false), try DNNLMemory(data, owning: false))
    }

    /// The softmax of each row along `length`.
    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.count == dims.reduce(1, *) else { throw KernelError("softmax expected \(dims), got \(x.shape)") }
        return try withReadPointers([x]) { p in
            try filledTensor(x.shape) { y in
                a.point(at: p[0]); b.point(at: y)
                try forwardPrimitive.execute([(DNNL_ARG_SRC, a), (DNNL_ARG_DST, b)])
            }
        }
    }

    /// dx from dy and the forward's output y.
    public func backward(_ dy: Tensor, output y: Tensor) throws -> Tensor {
        guard dy.count == dims.reduce(1, *), y.count == dy.count else { throw KernelError("softmax backward expected \(dims)") }
        if backwardPrimitive == nil {
            var d = data, e = data, f = data
            var descriptor = dnnl_softmax_v2_desc_t()
            try check(dnnl_softmax_v2_backward_desc_init(&descriptor, isLog ? dnnl_softmax_log : dnnl_softmax_accurate, &d, &e, &f, 1),
                      "describing a softmax's backward pass")
            backwardPrimitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .elements(dims.reduce(1, *)), what: "a softmax's backward pass")
            }
            backwardIsOwn = !isLog && dims[2] == 1 && backwardPrimitive!.implementation.hasPrefix("ref")
        }
        // oneDNN 2.6 has a JIT softmax backward for AVX-512 only. Elsewhere its reference loops took
        // 38 ms a step for ViT-B/16's attention at batch 1 on AVX2, this loop over contiguous rows 3–3.5.
        let ownRows = backwardIsOwn == true
        return try withReadPointers([dy, y]) { p in
            try filledTensor(dy.shape) { dx in
                if ownRows { return Self.backwardRows(UnsafePointer(p[0].assumingMemoryBound(to: Float.self)), UnsafePointer(p[1].assumingMemoryBound(to: Float.self)),
                                                      dx.assumingMemoryBound(to: Float.self), rows: dims[0], length: dims[1]) }
                a.point(at: p[0]); b.point(at: p[1]); c.point(at: dx)
                try backwardPrimitive!.execute([(DNNL_ARG_DIFF_DST, a), (DNNL_ARG_DST, b), (DNNL_ARG_DIFF_SRC, c)])
            }
        }
    }

    /// Whether `backward` runs the engine's own loop (`backwardRows`) instead of oneDNN's, decided once
    /// with the backward primitive; nil before the first backward.
    private(set) var backwardIsOwn: Bool?

    /// dx = y·(dy − Σ dy·y) along each of `rows` contiguous rows of `length`, rows split over two
    /// threads. Each row's sum adds its products eight lanes at a time, lane k taking positions
    /// k, k + 8, …, then the lanes in order and the remainder in order: the same bits whatever the split.
    static func backwardRows(_ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, length: Int) {
        let vectors = length / 8
        Parallel.rows(rows, size: length) { range in
            for r in range {
                let (g, s, d) = (UnsafeRawPointer(dy + r * length), UnsafeRawPointer(y + r * length), UnsafeMutableRawPointer(dx + r * length))
                var lanes = SIMD8<Float>()
                for v in 0..<vectors {
                    let product = g.loadUnaligned(fromByteOffset: v * 32, as: SIMD8<Float>.self) * s.loadUnaligned(fromByteOffset: v * 32, as: SIMD8<Float>.self)
                    lanes += product
                }
                var total: Float = 0
                for k in 0..<8 { total += lanes[k] }
                for i in (vectors * 8)..<length { let product = dy[r * length + i] * y[r * length + i]; total += product }
                let sum = SIMD8<Float>(repeating: total)
                for v in 0..<vectors {
                    let value = s.loadUnaligned(fromByteOffset: v * 32, as: SIMD8<Float>.self) * (g.loadUnaligned(fromByteOffset: v * 32, as: SIMD8<Float>.self) - sum)
                    d.storeBytes(of: value, toByteOffset: v * 32, as: SIMD8<Float>.self)
                }
                for i in (vectors * 8)..<length { dx[r * length + i] = y[r * length + i] * (dy[r * length + i] - total) }
            }
        }
    }
}

/// Layer normalization of each row of a row-major [rows, size] tensor, scaled and shifted by
/// per-column vectors, through oneDNN: forward (keeping each row's mean and variance) and the
/// backward pass to the input. Each row is normalised on one thread, so results do not depend on
/// the thread count. (The scale's and shift's gradients, sums over rows, are the caller's: oneDNN
/// splits those sums by thread.)
public final class LayerNormKernel {
    /// How many rows are normalised, and their length.
    public let rows: Int, size: Int
    /// Added to the variance.
    public let epsilon: Float
    private let forwardPrimitive: DNNLPrimitive
    private var backwardPrimitive: DNNLPrimitive?
    private let data, statistics, vector: dnnl_memory_desc_t
    private let x, y, mean, variance, scale, shift, gradient: DNNLMemory
    private static let flags = UInt32(dnnl_use_scale.rawValue | dnnl_use_shift.rawValue)

    /// A kernel for [rows, size] tensors.
    public init(rows: Int, size: Int, epsilon: Float) throws {
        guard rows > 0, size > 0 else { throw KernelError("layer normalization needs a non-empty [rows, size], got [\(rows), \(size)]") }
        (self.rows, self.size, self.epsilon) = (rows, size, epsilon)
        data = try DNNLLayout.plain([rows, size])
        statistics = try DNNLLayout.plain([rows])
        vector = try DNNLLayout.plain([size])
        var d = data, s = statistics
        var descriptor = dnnl_layer_normalization_desc_t()
        try check(dnnl_layer_normalization_forward_desc_init(&descriptor, dnnl_forward_training, &d, &s, epsilon, Self.flags),
                  "describing a layer normalization over [\(rows), \(size)]")
        forwardPrimitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(rows * size), what: "a layer normalization") }
        x = try DNNLMemory(data, owning: false)
        y = try DNNLMemory(data, owning: false)
        mean = try DNNLMemory(statistics, owning: false)
        variance = try DNNLMemory(statistics, owning: false)
        scale = try DNNLMemory(vector, owning: false)
        shift = try DNNLMemory(vector, owning: false)
        gradient = try DNNLMemory(data, owning: false)
        unusedScaleGradient = try DNNLMemory(vector, owning: true)
    }

    private let unusedScaleGradient: DNNLMemory

    /// y = (x − μ)/√(σ² + ε)·scale + shift per row, with each row's μ and σ².
    public func forward(_ input: Tensor, scale s: Tensor, shift b: Tensor) throws -> (y: Tensor, mean: [Float], variance: [Float]) {
        guard input.count == rows * size, s.count == size, b.count == size else {
            throw KernelError("layer normalization expected [\(rows), \(size)] with \(size) scales and shifts, got \(input.shape), \(s.shape), \(b.shape)")
        }
        var means = [Float](repeating: 0, count: rows), variances = means
        let out = try withReadPointers([input, s, b]) { p in
            try means.withUnsafeMutableBytes { m in
                try variances.withUnsafeMutableBytes { v in
                    try filledTensor(input.shape) { o in
                        x.point(at: p[0]); scale.point(at: p[1]); shift.point(at: p[2]); y.point(at: o)
                        mean.point(at: m.baseAddress); variance.point(at: v.baseAddress)
                        try forwardPrimitive.execute([(DNNL_ARG_SRC, x), (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift), (DNNL_ARG_DST, y),
                                                      (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance)])
                    }
                }
            }
        }
        return (out, means, variances)
    }

    /// dx from dy, the input, the forward's statistics and the scale.
    public func backward(_ dy: Tensor, input: Tensor, mean m: [Float], variance v: [Float], scale s: Tensor) throws -> Tensor {
        guard dy.count == rows * size, input.count == dy.count, m.count == rows, v.count == rows, s.count == size else {
            throw KernelError("layer normalization backward expected [\(rows), \(size)]")
        }
        if backwardPrimitive == nil {
            var d = data, diff = data, st = statistics
            var descriptor = dnnl_layer_normalization_desc_t()
            // oneDNN 2.6 implements only the full backward pass (it also writes the scale's
            // gradient, to a buffer of ours that nobody reads: see the type's note).
            try check(dnnl_layer_normalization_backward_desc_init(&descriptor, dnnl_backward, &diff, &d, &st, epsilon, UInt32(dnnl_use_scale.rawValue)),
                      "describing a layer normalization's backward pass")
            backwardPrimitive = try withUnsafePointer(to: &descriptor) {
                try DNNLPrimitive(UnsafeRawPointer($0), hint: forwardPrimitive, work: .elements(rows * size), what: "a layer normalization's backward pass")
            }
        }
        let stats = [Tensor(shape: [rows], data: m), Tensor(shape: [rows], data: v)]
        return try withReadPointers([dy, input, s] + stats) { p in
            try filledTensor(dy.shape) { dx in
                // y and x serve as the diff_dst and diff_src views here.
                y.point(at: p[0]); x.point(at: p[1]); scale.point(at: p[2]); mean.point(at: p[3]); variance.point(at: p[4])
                gradient.point(at: dx)
                try backwardPrimitive!.execute([(DNNL_ARG_DIFF_DST, y), (DNNL_ARG_SRC, x), (DNNL_ARG_SCALE, scale),
                                                (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance), (DNNL_ARG_DIFF_SRC, gradient),
                                                (DNNL_ARG_DIFF_SCALE, unusedScaleGradient)])
            }
        }
    }
}

/// a ∘ b for row-major tensors through oneDNN's binary primitive, b broadcasting into a's shape
/// (each of b's axes, aligned right, equal to a's or 1): a bias added to [batch, tokens, features],
/// a residual sum, a scale. Every element is one IEEE operation on the same two numbers whichever
/// thread computes it, so results equal the scalar loop's and do not depend on the thread count.
public final class BinaryKernel {
    /// The operation, a ∘ b.
    public let operation: BinaryOperation
    /// a's shape (the result's) and b's.
    public let a: [Int], b: [Int]
    private let primitive: DNNLPrimitive
    private let x, y, z: DNNLMemory

    /// The oneDNN algorithm for the operations it computes exactly as `BinaryOperation.apply`.
    static func algorithm(_ operation: BinaryOperation) -> dnnl_alg_kind_t? {
        switch operation {
        case .add: return dnnl_binary_add
        case .subtract: return dnnl_binary_sub
        case .multiply: return dnnl_binary_mul
        case .divide: return dnnl_binary_div
        default: return nil
        }
    }

    /// Whether `b` broadcasts into `a`'s shape (a's shape is the result's) and the operation is one
    /// oneDNN computes; shapes of rank 1…6 without empty axes.
    public static func supports(_ operation: BinaryOperation, _ a: [Int], _ b: [Int]) -> Bool {
        guard algorithm(operation) != nil, !a.isEmpty, a.count <= 6, b.count <= a.count, !a.contains(0) else { return false }
        return zip(a.suffix(b.count), b).allSatisfy { $0 == $1 || $1 == 1 }
    }

    /// A kernel for a ∘ b with these shapes (see `supports`).
    public init(_ operation: BinaryOperation, _ a: [Int], _ b: [Int]) throws {
        guard Self.supports(operation, a, b), let algorithm = Self.algorithm(operation) else {
            throw KernelError("no oneDNN binary \(operation) for \(a) and \(b)")
        }
        (self.operation, self.a, self.b) = (operation, a, b)
        var left = try DNNLLayout.plain(a)
        var right = try DNNLLayout.plain(Array(repeating: 1, count: a.count - b.count) + b)
        var result = left
        var descriptor = dnnl_binary_desc_t()
        try check(dnnl_binary_desc_init(&descriptor, algorithm, &left, &right, &result), "describing \(operation) of \(a) and \(b)")
        primitive = try withUnsafePointer(to: &descriptor) { try DNNLPrimitive(UnsafeRawPointer($0), work: .elements(a.reduce(1, *)), what: "a binary \(operation)") }
        (x, y, z) = (try DNNLMemory(left, owning: false), try DNNLMemory(right, owning: false), try DNNLMemory(result, owning: false))
    }

    /// A kernel for these shapes when oneDNN has a fast one; nil when only its reference loops cover the
    /// broadcast (a middle axis of 1, as in Swin's attention masks: [1, 64, 3, 49, 49] + [1, 64, 1, 49, 49]), which
    /// `Tensor.applying` beats by an order of magnitude.
    public static func fast(_ operation: BinaryOperation, _ a: [Int], _ b: [Int]) throws -> BinaryKernel? {
        let kernel = try BinaryKernel(operation, a, b)
        return kernel.primitive.implementation.hasPrefix("ref") ? nil : kernel
    }

    /// p ∘ q, p of shape `a` and q of shape `b`.
    public func run(_ p: Tensor, _ q: Tensor) throws -> Tensor {
        guard p.shape == a, q.count == b.reduce(1, *) else { throw KernelError("binary \(operation) expected \(a) and \(b), got \(p.shape) and \(q.shape)") }
        return try withReadPointers([p, q]) { pointers in
            try filledTensor(a) { out in
                x.point(at: pointers[0]); y.point(at: pointers[1]); z.point(at: out)
                try primitive.execute([(DNNL_ARG_SRC_0, x), (DNNL_ARG_SRC_1, y), (DNNL_ARG_DST, z)])
            }
        }
    }
}
