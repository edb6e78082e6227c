import Foundation
import Tensor

let elementwiseOperators: [String: OperatorSet.Maker] = [
    "Relu": { Unary(node: $0, { $0 > 0 ? $0 : 0 }, { _, y in y > 0 ? 1 : 0 }, oneDNN: .relu) },
    "Sigmoid": { Unary(node: $0, { 1 / (1 + exp(-$0)) }, { _, y in y * (1 - y) }, oneDNN: .logistic) },
    "Tanh": { Unary(node: $0, { tanh($0) }, { _, y in 1 - y * y }, oneDNN: .tanh) },
    "Exp": { Unary(node: $0, { exp($0) }, { _, y in y }, oneDNN: .exp) },
    "Log": { Unary(node: $0, { log($0) }, { x, _ in 1 / x }) },   // oneDNN's log is off by ~1e-6 near 1: libm's
    "Sqrt": { Unary(node: $0, { sqrt($0) }, { _, y in 0.5 / y }, oneDNN: .sqrt) },
    "Neg": { Unary(node: $0, { -$0 }, { _, _ in -1 }) },
    "Sin": { Unary(node: $0, { sin($0) }, { x, _ in cos(x) }) },
    "Cos": { Unary(node: $0, { cos($0) }, { x, _ in -sin(x) }) },
    "Abs": { Unary(node: $0, { abs($0) }, { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) },
    "Reciprocal": { Unary(node: $0, { 1 / $0 }, { _, y in -y * y }) },
    "Erf": { Unary(node: $0, { erf($0) }, { x, _ in 2 / Float.pi.squareRoot() * exp(-x * x) }) },
    "Softplus": { Unary(node: $0, { x in x > 20 ? x : log1p(exp(x)) }, { x, _ in 1 / (1 + exp(-x)) }, oneDNN: .softplus) },
    "LeakyRelu": { node in
        let alpha = try NodeAttributes(node: node).float("alpha", default: 0.01)
        return Unary(node: node, { $0 >= 0 ? $0 : alpha * $0 }, { x, _ in x >= 0 ? 1 : alpha })
    },
    "Elu": { node in
        let alpha = try NodeAttributes(node: node).float("alpha", default: 1)
        return Unary(node: node, { $0 >= 0 ? $0 : alpha * (exp($0) - 1) }, { x, y in x >= 0 ? 1 : y + alpha })
    },
    "HardSigmoid": { node in
        let a = NodeAttributes(node: node)
        let alpha = try a.float("alpha", default: 0.2), beta = try a.float("beta", default: 0.5)
        return Unary(node: node, { max(0, min(1, alpha * $0 + beta)) }, { x, _ in (alpha * x + beta > 0 && alpha * x + beta < 1) ? alpha : 0 })
    },
    "HardSwish": { Unary(node: $0, { x in x * max(0, min(1, x / 6 + 0.5)) },
                         { x, _ in x < -3 ? 0 : (x > 3 ? 1 : x / 3 + 0.5) }, oneDNN: .hardSwish) },
    "Gelu": { try gelu($0) },
    "Identity": { Passthrough(node: $0) },
    "Dropout": { Passthrough(node: $0) },      // inference: identity (the mask output, if asked, is all true); training mode refused
    "Clip": { try Clip(node: $0) },
    "Add": { Binary(node: $0, .add) },
    "Sub": { Binary(node: $0, .subtract) },
    "Mul": { Binary(node: $0, .multiply) },
    "Div": { Binary(node: $0, .divide) },
    "Pow": { Binary(node: $0, .power) },
    "Max": { Variadic(node: $0, .maximum) },
    "Min": { Variadic(node: $0, .minimum) },
    "Sum": { Variadic(node: $0, .add) },
    "Mean": { Variadic(node: $0, .add, mean: true) },
    "PRelu": { PRelu(node: $0) },
    "CastLike": { CastLike(node: $0) },
    "Or": { Logical(node: $0) { $0 || $1 } },
    "And": { Logical(node: $0) { $0 && $1 } },
    "Xor": { Logical(node: $0) { $0 != $1 } },
    "Equal": { Comparison(node: $0, .equal) },
    "Less": { Comparison(node: $0, .less) },
    "Greater": { Comparison(node: $0, .greater) },
    "LessOrEqual": { Comparison(node: $0, .lessEqual) },
    "GreaterOrEqual": { Comparison(node: $0, .greaterEqual) },
    "Where": { Where(node: $0) },
]

/// y = f(x) element by element; backward multiplies by f′ written in terms of x and y. Functions
/// oneDNN's eltwise primitive has (`oneDNN`) run there, forward and backward (vectorised, on every
/// core); the closures are the definition and serve the others.
final class Unary: Operator {
    let node: Node
    let function: (Float) -> Float
    let derivative: (Float, Float) -> Float
    let eltwise: EltwiseFunction?
    private var kernel: EltwiseKernel?

    init(node: Node, _ function: @escaping (Float) -> Float, _ derivative: @escaping (_ x: Float, _ y: Float) -> Float, oneDNN: EltwiseFunction? = nil) {
        self.node = node
        self.function = function
        self.derivative = derivative
        eltwise = oneDNN
    }

    /// The oneDNN kernel for `count` elements, when the function has one.
    private func eltwiseKernel(_ count: Int) throws -> EltwiseKernel? {
        guard let eltwise, count > 0 else { return nil }
        if let kernel, kernel.count == count { return kernel }
        do { kernel = try EltwiseKernel(eltwise, count: count) } catch { throw EngineError("node '\(node.name)' (\(node.opType)): \(error)") }
        return kernel
    }

    /// Laid-out inputs (a convolution's output, blocked) stay in their layout.
    var takesLaidOutValues: Bool { eltwise != nil }
    private var laidOutKernel: LaidOutEltwiseKernel?

    /// A ReLU's latest forward: where its output was positive (its backward reads nothing else).
    private let reluMask = ReLUMask()

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let y = try output(inputs)
        if eltwise == .relu {
            do { try reluMask.record(y.kernelInput) } catch let error as KernelError {
                throw EngineError("node '\(node.name)' (\(node.opType)): \(error)")
            }
        }
        return [y]
    }

    /// A ReLU's ∂L/∂x from its latest forward's mask.
    private func reluGradient(_ dy: KernelInput) throws -> KernelInput {
        do { return try reluMask.gradient(dy) } catch let error as KernelError { throw EngineError("node '\(node.name)' (\(node.opType)): \(error)") }
    }

    private func output(_ inputs: [RuntimeValue?]) throws -> RuntimeValue {
        if let eltwise, case .laidOut(let t)? = inputs.first {
            let x = KernelInput.laidOut(t)
            do {
                if laidOutKernel?.fits(x) != true { laidOutKernel = try LaidOutEltwiseKernel(eltwise, for: x) }
                return .laidOut(try laidOutKernel!.forward(x))
            } catch let error as KernelError { throw EngineError("node '\(node.name)' (\(node.opType)): \(error)") }
        }
        let x = try floatInput(inputs, 0, node)
        if let k = try eltwiseKernel(x.count) { return .float(try k.forward(x)) }
        return .float(x.map(function))
    }

    /// With oneDNN's kernel, what it saves: the output (sigmoid, tanh, exp, sqrt) or the input (GELU,
    /// softplus, HardSwish); a ReLU keeps its own byte mask instead (`ReLUMask`). The closures'
    /// derivatives read both.
    func backwardReads(wanted: Set<Int>) -> BackwardReads {
        guard let eltwise else { return .everything }
        if eltwise == .relu { return .shapes }
        return eltwise.backwardUsesOutput ? .outputs : BackwardReads(inputs: [0], outputs: false)
    }

    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        guard let dy = g[0] else { return [:] }
        if eltwise == .relu {
            switch try reluGradient(dy.kernelInput) {
            case .plain(let t): return [0: .float(t)]
            case .laidOut(let t): return [0: .laidOut(t)]
            }
        }
        if let k = laidOutKernel, case .laidOut(let saved)? = k.backwardUsesOutput ? outputs.first : inputs.first ?? nil, k.fits(.laidOut(saved)) {
            return [0: .laidOut(try k.backward(dy.kernelInput, saved: .laidOut(saved)))]
        }
        return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted)
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let output = outputs.first else { return [:] }
        if eltwise == .relu {
            switch try reluGradient(.plain(dy)) {
            case .plain(let t): return [0: t]
            case .laidOut(let t): return [0: t.plain()]
            }
        }
        if let k = try eltwiseKernel(dy.count) {
            return [0: try k.backward(dy, saved: k.backwardUsesOutput ? output.floats : try floatInput(inputs, 0, node))]
        }
        let x = try floatInput(inputs, 0, node), y = output.floats
        var dx = Tensor.zeros(x.shape)
        for i in 0..<dx.count { dx.data[i] = dy.data[i] * derivative(x.data[i], y.data[i]) }
        return [0: dx]
    }
}

/// Identity and inference-mode Dropout.
final class Passthrough: Operator {
    let node: Node
    init(node: Node) { self.node = node }
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .shapes }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (\(node.opType)) has no input") }
        if node.opType == "Dropout", inputs.count > 2, let training = inputs[2], training.floats.data.contains(where: { $0 != 0 }) {
            let ratio = inputs.count > 1 ? inputs[1]?.floats.data.first ?? 0.5 : 0.5
            if ratio != 0 {
                throw EngineError("node '\(node.name)' (Dropout): training mode (random masks) is not supported; the engine runs Dropout for inference")
            }
        }
        if node.outputs.count > 1 {   // Dropout's optional mask
            return [x, .int(IntArray(shape: x.shape, data: Array(repeating: 1, count: x.shape.reduce(1, *))))]
        }
        return [x]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        return [0: dy]
    }
}

/// Clip: bounds from attributes (opset < 11) or optional inputs 1 and 2.
final class Clip: Operator {
    let node: Node
    let attributeMin: Float?, attributeMax: Float?

    init(node: Node) throws {
        self.node = node
        let a = NodeAttributes(node: node)
        attributeMin = node.attributes["min"] == nil ? nil : try a.float("min")
        attributeMax = node.attributes["max"] == nil ? nil : try a.float("max")
    }

    func bounds(_ inputs: [RuntimeValue?]) -> (Float, Float) {
        let low = inputs.count > 1 ? inputs[1]?.floats.data.first : attributeMin
        let high = inputs.count > 2 ? inputs[2]?.floats.data.first : attributeMax
        return (low ?? -.infinity, high ?? .infinity)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let (low, high) = bounds(inputs)
        return [.float(try floatInput(inputs, 0, node).map { min(max($0, low), high) })]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let (low, high) = bounds(inputs)
        return [0: dy.zipped(try floatInput(inputs, 0, node)) { d, x in x >= low && x <= high ? d : 0 }]
    }
}

/// Broadcasting arithmetic; integer inputs stay integers (shape computations).
final class Binary: Operator {
    let node: Node
    let operation: BinaryOperation
    init(node: Node, _ operation: BinaryOperation) {
        self.node = node
        self.operation = operation
    }

    var differentiableInputs: [Int] { [0, 1] }
    /// Add or Mul of two tensors in one oneDNN layout (a residual connection, SiLU's x·σ(x))
    /// combines the buffers as they are.
    var takesLaidOutValues: Bool { operation == .add || operation == .multiply }
    private var sum = OutputAllocator()
    private var gradients = (OutputAllocator(), OutputAllocator())

    /// Sums and differences read shapes only; a product reads the other operand of each gradient
    /// wanted (a constant scale's gradient is not, so the scaled tensor goes).
    func backwardReads(wanted: Set<Int>) -> BackwardReads {
        switch operation {
        case .add, .subtract: return .shapes
        case .multiply: return BackwardReads(inputs: Set(wanted.map { 1 - $0 }), outputs: false)
        default: return .everything
        }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard inputs.count >= 2, let a = inputs[0], let b = inputs[1] else {
            throw EngineError("node '\(node.name)' (\(node.opType)) needs two inputs")
        }
        if case .laidOut(let x) = a, case .laidOut(let y) = b, x.sharesLayout(with: y) {
            return [.laidOut(try operation == .add ? sum.sum(x, y) : sum.product(x, y))]
        }
        // A laid-out tensor times (or plus) a small broadcast one (a squeeze-and-excitation gate, a
        // per-channel scale) keeps its layout.
        if case .laidOut(let x) = a, b.isFloat, b.shape.reduce(1, *) < x.shape.reduce(1, *), BinaryKernel.supports(operation, x.shape, b.shape) {
            if let z = try broadcast(x, b.floats, &forwardBroadcast) { return [.laidOut(z)] }
        }
        if operation == .add || operation == .multiply, case .laidOut(let y) = b, a.isFloat, a.shape.reduce(1, *) < y.shape.reduce(1, *),
           BinaryKernel.supports(operation, y.shape, a.shape) {
            if let z = try broadcast(y, a.floats, &forwardBroadcast) { return [.laidOut(z)] }
        }
        if case .int(let x) = a, case .int(let y) = b {
            let op = operation
            return [.int(try broadcastIntegers(x, y) { p, q in
                switch op {
                case .add: return p &+ q
                case .subtract: return p &- q
                case .multiply: return p &* q
                case .divide: return q == 0 ? 0 : p / q
                case .maximum: return max(p, q)
                case .minimum: return min(p, q)
                default: return Int64(op.apply(Float(p), Float(q)))
                }
            })]
        }
        let (x, y) = (a.floats, b.floats)
        if let z = try oneDNN(operation, x, y) { return [.float(z)] }
        do { return [.float(try x.applying(operation, y))] } catch {
            throw EngineError("node '\(node.name)' (\(node.opType)): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
    }

    /// oneDNN's binary kernels, per (operation, shapes); nil where oneDNN has only its reference loops.
    private var kernels: [[Int]: BinaryKernel?] = [:]
    private var forwardBroadcast: LaidOutBroadcastKernel?, backwardBroadcast: LaidOutBroadcastKernel?

    /// x ∘ t (t broadcasting into x, x laid out), in x's layout; nil when oneDNN has no fast
    /// kernel for x's layout (the row-major path then serves).
    private func broadcast(_ x: DNNLTensor, _ t: Tensor, _ kernel: inout LaidOutBroadcastKernel?) throws -> DNNLTensor? {
        if kernel?.fits(x, t) != true {
            do { kernel = try LaidOutBroadcastKernel(operation, x, other: t.shape) } catch { kernel = nil; return nil }
        }
        do { return try kernel!.run(x, t) } catch { throw EngineError("node '\(node.name)' (\(node.opType)): \(error)") }
    }

    /// x ∘ y through oneDNN when one operand broadcasts into the other's shape (for + and ×, either
    /// one: they commute exactly) and oneDNN has a fast kernel for it; nil otherwise.
    private func oneDNN(_ operation: BinaryOperation, _ x: Tensor, _ y: Tensor) throws -> Tensor? {
        var (p, q) = (x, y)
        if !BinaryKernel.supports(operation, p.shape, q.shape) {
            guard operation == .add || operation == .multiply, BinaryKernel.supports(operation, y.shape, x.shape) else { return nil }
            (p, q) = (y, x)
        }
        let code: Int
        switch operation { case .add: code = -1; case .subtract: code = -2; case .multiply: code = -3; default: code = -4 }
        let key = p.shape + [code] + q.shape
        do {
            if kernels[key] == nil { kernels[key] = .some(try BinaryKernel.fast(operation, p.shape, q.shape)) }
            guard let kernel = kernels[key] ?? nil else { return nil }
            return try kernel.run(p, q)
        } catch { throw EngineError("node '\(node.name)' (\(node.opType)): \(error)") }
    }

    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        guard let dy = g[0] else { return [:] }
        if operation == .add, case .laidOut = dy, inputs.count >= 2, inputs[0]?.shape == dy.shape, inputs[1]?.shape == dy.shape {
            return Dictionary(uniqueKeysWithValues: wanted.map { ($0, dy) })
        }
        if operation == .multiply, case .laidOut(let d) = dy, inputs.count >= 2, let a = inputs[0], let b = inputs[1] {
            // A laid-out operand times a small broadcast one: the laid-out one's gradient dy·(small)
            // stays laid out; the small one's is a sum over the broadcast axes.
            let pair = [a, b]
            for (big, small) in [(0, 1), (1, 0)] {
                // The big one is laid out, or released (only its gradient is wanted: it needs the small one).
                let bigFits: Bool
                if case .laidOut = pair[big] { bigFits = true } else { bigFits = pair[big].isReleased && !wanted.contains(small) }
                guard bigFits, pair[big].shape == d.shape, pair[small].isFloat, !pair[small].isReleased,
                      pair[small].shape.reduce(1, *) < d.shape.reduce(1, *), BinaryKernel.supports(.multiply, d.shape, pair[small].shape) else { continue }
                let t = pair[small].floats
                var result: [Int: RuntimeValue] = [:]
                if wanted.contains(big) {
                    guard let z = try broadcast(d, t, &backwardBroadcast) else { break }
                    result[big] = .laidOut(z)
                }
                if wanted.contains(small), case .laidOut(let x) = pair[big] {
                    if keepsBatchAndChannels(d.shape, t.shape), let sums = ChannelReduction.productSums(d, x) {
                        // A per-channel scale (squeeze-and-excitation): Σ dy·x over positions, read where they lie.
                        result[small] = .float(Tensor(shape: t.shape, data: sums))
                    } else {
                        // dy·x in their shared layout through oneDNN (the same IEEE products), then one reorder.
                        let product = d.sharesLayout(with: x) ? try gradients.1.product(d, x).plain() : d.plain().zipped(x.plain(), *)
                        result[small] = .float(product.summed(to: t.shape))
                    }
                }
                return result
            }
        }
        if operation == .multiply, case .laidOut(let d) = dy, inputs.count >= 2, case .laidOut(let a)? = inputs[0], case .laidOut(let b)? = inputs[1],
           d.sharesLayout(with: a), d.sharesLayout(with: b) {
            var result: [Int: RuntimeValue] = [:]
            if wanted.contains(0) { result[0] = .laidOut(try gradients.0.product(d, b)) }
            if wanted.contains(1) { result[1] = .laidOut(try gradients.1.product(d, a)) }
            return result
        }
        return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted)
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        guard inputs.count >= 2, let aShape = inputs[0]?.shape, let bShape = inputs[1]?.shape else {
            throw EngineError("node '\(node.name)' (\(node.opType)) needs two inputs")
        }
        var result: [Int: Tensor] = [:]
        // Each operand's gradient at the output's shape, then summed down to the operand's own shape.
        func expand(_ t: Tensor) throws -> Tensor { t.shape == dy.shape ? t : try t.applying(.add, Tensor.zeros(dy.shape)) }
        /// dy ∘ t, t broadcasting into dy's shape (oneDNN when it can).
        func combined(_ operation: BinaryOperation, _ t: Tensor) throws -> Tensor {
            if BinaryKernel.supports(operation, dy.shape, t.shape), let z = try oneDNN(operation, dy, t) { return z }
            return dy.zipped(try expand(t)) { operation.apply($0, $1) }
        }
        switch operation {
        case .add:
            if wanted.contains(0) { result[0] = dy.summed(to: aShape) }
            if wanted.contains(1) { result[1] = dy.summed(to: bShape) }
            return result
        case .subtract:
            if wanted.contains(0) { result[0] = dy.summed(to: aShape) }
            if wanted.contains(1) { result[1] = dy.map { -$0 }.summed(to: bShape) }
            return result
        case .multiply:
            if wanted.contains(0) { result[0] = try combined(.multiply, try floatInput(inputs, 1, node)).summed(to: aShape) }
            if wanted.contains(1) { result[1] = try combined(.multiply, try floatInput(inputs, 0, node)).summed(to: bShape) }
            return result
        default:
            break
        }
        let a = try floatInput(inputs, 0, node), b = try floatInput(inputs, 1, node)
        let (ea, eb) = (try expand(a), try expand(b))
        switch operation {
        case .divide:
            if wanted.contains(0) { result[0] = try combined(.divide, b).summed(to: a.shape) }
            if wanted.contains(1) {
                let q = ea.zipped(eb) { x, y in -x / (y * y) }
                result[1] = dy.zipped(q, *).summed(to: b.shape)
            }
        case .power:
            if wanted.contains(0) { result[0] = dy.zipped(ea.zipped(eb) { x, y in y * pow(x, y - 1) }, *).summed(to: a.shape) }
            if wanted.contains(1) {
                guard case .float(let y) = outputs[0] else { break }
                result[1] = dy.zipped(y.zipped(ea) { p, x in x > 0 ? p * log(x) : 0 }, *).summed(to: b.shape)
            }
        case .maximum, .minimum:
            let pickA = ea.zipped(eb) { [operation] x, y in (operation == .maximum ? x >= y : x <= y) ? 1 : 0 }
            if wanted.contains(0) { result[0] = dy.zipped(pickA, *).summed(to: a.shape) }
            if wanted.contains(1) { result[1] = dy.zipped(pickA) { d, p in d * (1 - p) }.summed(to: b.shape) }
        default:
            break
        }
        return result
    }
}

final class Comparison: NonDifferentiable {
    let node: Node
    let operation: BinaryOperation
    init(node: Node, _ operation: BinaryOperation) {
        self.node = node
        self.operation = operation
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let a = try floatInput(inputs, 0, node), b = try floatInput(inputs, 1, node)
        do { return [.int(try a.applying(operation, b).integerValues)] } catch {
            throw EngineError("node '\(node.name)' (\(node.opType)): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
    }
}

/// Where(condition, x, y): gradients flow to the chosen branch.
final class Where: Operator {
    let node: Node
    init(node: Node) { self.node = node }
    var differentiableInputs: [Int] { [1, 2] }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let c = try floatInput(inputs, 0, node)
        guard let xv = inputs.count > 1 ? inputs[1] : nil, let yv = inputs.count > 2 ? inputs[2] : nil else {
            throw EngineError("node '\(node.name)' (Where) needs three inputs")
        }
        let x = xv.floats, y = yv.floats
        guard let shape = Tensor.broadcastShape(c.shape, x.shape).flatMap({ Tensor.broadcastShape($0, y.shape) }) else {
            throw EngineError("node '\(node.name)' (Where): shapes \(c.shape), \(x.shape), \(y.shape) do not broadcast")
        }
        let zero = Tensor.zeros(shape)
        let (ec, ex, ey) = (try c.applying(.add, zero), try x.applying(.add, zero), try y.applying(.add, zero))
        let data = (0..<ec.count).map { ec.data[$0] != 0 ? ex.data[$0] : ey.data[$0] }
        if case .int = xv, case .int = yv { return [.int(IntArray(shape: shape, data: data.map { Int64($0) }))] }
        return [.float(Tensor(shape: shape, data: data))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let c = try floatInput(inputs, 0, node).applying(.add, Tensor.zeros(dy.shape))
        var result: [Int: Tensor] = [:]
        if wanted.contains(1) { result[1] = dy.zipped(c) { d, k in k != 0 ? d : 0 }.summed(to: try floatInput(inputs, 1, node).shape) }
        if wanted.contains(2) { result[2] = dy.zipped(c) { d, k in k != 0 ? 0 : d }.summed(to: try floatInput(inputs, 2, node).shape) }
        return result
    }
}

extension Tensor {
    var integerValues: IntArray { IntArray(shape: shape, data: data.map { Int64($0) }) }
}

/// GELU, exact (erf) or with the tanh approximation.
private func gelu(_ node: Node) throws -> Operator {
    if try NodeAttributes(node: node).string("approximate", default: "none") == "tanh" {
        let c: Float = 0.7978845608028654
        return Unary(node: node, { x in
            let cube: Float = x * x * x
            return 0.5 * x * (1 + tanh(c * (x + 0.044715 * cube)))
        }, { x, _ in
            let cube: Float = x * x * x
            let t: Float = tanh(c * (x + 0.044715 * cube))
            let inner: Float = c * (1 + 3 * 0.044715 * x * x)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner
        }, oneDNN: .geluTanh)
    }
    let root2: Float = Float(2).squareRoot(), root2pi: Float = (2 * Float.pi).squareRoot()
    return Unary(node: node, { x in 0.5 * x * (1 + erf(x / root2)) }, { x, _ in
        let cdf: Float = 0.5 * (1 + erf(x / root2))
        return cdf + x * exp(-x * x / 2) / root2pi
    }, oneDNN: .geluErf)
}

/// Max, Min, Sum and Mean over one or more broadcasting inputs; gradients flow like the binary case
/// (Max/Min: to the first input holding the extreme value).
final class Variadic: Operator {
    let node: Node
    let operation: BinaryOperation
    let isMean: Bool
    init(node: Node, _ operation: BinaryOperation, mean: Bool = false) {
        self.node = node
        self.operation = operation
        isMean = mean
    }

    var differentiableInputs: [Int] { Array(node.inputs.indices) }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let present = inputs.compactMap { $0 }
        guard var result = present.first else { throw EngineError("node '\(node.name)' (\(node.opType)) needs at least one input") }
        for next in present.dropFirst() {
            result = try Binary(node: node, operation).forward([result, next])[0]
        }
        if isMean {
            let n = Float(present.count)
            result = .float(result.floats.map { $0 / n })
        }
        return [result]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], case .float(let y) = outputs[0] else { return [:] }
        var result: [Int: Tensor] = [:]
        var taken = Tensor.zeros(dy.shape)   // Max/Min: positions already credited to an earlier input
        for (i, input) in inputs.enumerated() {
            guard let input else { continue }
            let x = try input.floats.applying(.add, Tensor.zeros(dy.shape))
            var d: Tensor
            switch operation {
            case .maximum, .minimum:
                d = Tensor.zeros(dy.shape)
                for k in 0..<d.count where taken.data[k] == 0 && x.data[k] == y.data[k] {
                    d.data[k] = dy.data[k]
                    taken.data[k] = 1
                }
            default:
                d = isMean ? dy.map { $0 / Float(inputs.compactMap { $0 }.count) } : dy
            }
            if wanted.contains(i) { result[i] = d.summed(to: input.shape) }
        }
        return result
    }
}

/// PRelu: y = x for x ≥ 0, slope·x otherwise, the slope broadcasting to x.
final class PRelu: Operator {
    let node: Node
    init(node: Node) { self.node = node }
    var differentiableInputs: [Int] { [0, 1] }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node), slope = try floatInput(inputs, 1, node)
        guard let shape = Tensor.broadcastShape(x.shape, slope.shape), shape == x.shape else {
            throw EngineError("node '\(node.name)' (PRelu): slope \(slope.shape) does not broadcast to \(x.shape)")
        }
        let s = try slope.applying(.add, Tensor.zeros(shape))
        return [.float(x.zipped(s) { v, a in v < 0 ? a * v : v })]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node), slope = try floatInput(inputs, 1, node)
        let s = try slope.applying(.add, Tensor.zeros(x.shape))
        var result: [Int: Tensor] = [:]
        if wanted.contains(0) {
            var dx = dy
            for k in 0..<dx.count where x.data[k] < 0 { dx.data[k] *= s.data[k] }
            result[0] = dx
        }
        if wanted.contains(1) { result[1] = dy.zipped(x) { d, v in v < 0 ? d * v : 0 }.summed(to: slope.shape) }
        return result
    }
}

/// CastLike: Cast to the kind (float or integer) of the second input; gradient passes for floats.
final class CastLike: Operator {
    let node: Node
    init(node: Node) { self.node = node }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil, inputs.count > 1, let like = inputs[1] else {
            throw EngineError("node '\(node.name)' (CastLike) needs two inputs")
        }
        return [like.isFloat ? .float(x.floats) : .int(x.integers)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], outputs.first?.isFloat == true else { return [:] }
        return [0: dy]
    }
}

/// And, Or, Xor on booleans (stored as 0/1 integers), broadcasting.
final class Logical: NonDifferentiable {
    let node: Node
    let function: (Bool, Bool) -> Bool
    init(node: Node, _ function: @escaping (Bool, Bool) -> Bool) {
        self.node = node
        self.function = function
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let a = try intInput(inputs, 0, node), b = try intInput(inputs, 1, node)
        let f = function
        return [.int(try broadcastIntegers(a, b) { f($0 != 0, $1 != 0) ? 1 : 0 })]
    }
}
