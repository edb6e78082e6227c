import Tensor

let shapeOperators: [String: OperatorSet.Maker] = [
    "Shape": { ShapeOf(node: $0) },
    "Size": { SizeOf(node: $0) },
    "Constant": { try ConstantNode(node: $0) },
    "ConstantOfShape": { ConstantOfShape(node: $0) },
    "Cast": { try Cast(node: $0) },
    "Reshape": { Reshape(node: $0) },
    "Flatten": { Reshape(node: $0) },
    "Squeeze": { Reshape(node: $0) },
    "Unsqueeze": { Reshape(node: $0) },
    "Transpose": { Transpose(node: $0) },
    "Concat": { Concat(node: $0) },
    "Gather": { Gather(node: $0) },
    "Slice": { Slice(node: $0) },
    "Expand": { Expand(node: $0) },
    "ReduceMean": { Reduce(node: $0, .mean) },
    "ReduceSum": { Reduce(node: $0, .sum) },
    "ReduceMax": { Reduce(node: $0, .max) },
    "ReduceMin": { Reduce(node: $0, .min) },
    "ReduceL2": { Reduce(node: $0, .l2) },
]

/// Keeps a value's kind (float or integer) while changing its shape.
func reshaped(_ value: RuntimeValue, _ shape: [Int]) -> RuntimeValue {
    switch value {
    case .float, .laidOut, .released:
        let t = value.floats
        return .float(Tensor(shape: shape, data: t.data))
    case .int(let a): return .int(IntArray(shape: shape, data: a.data))
    case .released: return .released(shape: shape)
    }
}

final class ShapeOf: NonDifferentiable {
    let node: Node
    init(node: Node) { self.node = node }
    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Shape) has no input") }
        let a = NodeAttributes(node: node), rank = x.shape.count
        func clamp(_ i: Int) -> Int { min(max(i < 0 ? i + rank : i, 0), rank) }
        let start = clamp(try a.int("start", default: 0)), end = clamp(try a.int("end", default: rank))
        return [.int(IntArray(vector: start < end ? Array(x.shape[start..<end]) : []))]
    }
}

final class SizeOf: NonDifferentiable {
    let node: Node
    init(node: Node) { self.node = node }
    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Size) has no input") }
        return [.int(IntArray(scalar: Int64(x.shape.reduce(1, *))))]
    }
}

final class ConstantNode: NonDifferentiable {
    let node: Node
    let value: RuntimeValue
    init(node: Node) throws {
        self.node = node
        switch node.attributes["value"] ?? node.attributes["value_float"] ?? node.attributes["value_floats"]
            ?? node.attributes["value_int"] ?? node.attributes["value_ints"] {
        case .tensor(let t)?: value = RuntimeValue(t)
        case .float(let f)?: value = .float(Tensor(scalar: f))
        case .floats(let f)?: value = .float(Tensor(shape: [f.count], data: f))
        case .int(let i)?: value = .int(IntArray(scalar: Int64(i)))
        case .ints(let i)?: value = .int(IntArray(vector: i))
        default: throw EngineError("node '\(node.name)' (Constant) has no value attribute the engine reads")
        }
    }
    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] { [value] }
}

final class ConstantOfShape: NonDifferentiable {
    let node: Node
    init(node: Node) { self.node = node }
    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let shape = try intInput(inputs, 0, node).data.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw EngineError("node '\(node.name)' (ConstantOfShape): negative shape \(shape)") }
        let fill = try NodeAttributes(node: node).tensor("value").map(RuntimeValue.init) ?? .float(Tensor(scalar: 0))
        let count = try checkedOutputCount(shape, node, bytesPerElement: fill.isFloat ? 4 : 8)
        switch fill {
        case .float, .laidOut, .released:
            let t = fill.floats
            return [.float(Tensor(shape: shape, data: Array(repeating: t.data.first ?? 0, count: count)))]
        case .int(let a): return [.int(IntArray(shape: shape, data: Array(repeating: a.data.first ?? 0, count: count)))]
        }
    }
}

final class Cast: Operator {
    let node: Node
    let target: ElementType
    init(node: Node) throws {
        self.node = node
        let to = try NodeAttributes(node: node).int("to")
        guard let type = ElementType(rawValue: to) else { throw EngineError("node '\(node.name)' (Cast): unknown type \(to)") }
        target = type
    }
    var isFloatTarget: Bool { [.float, .double, .float16, .bfloat16].contains(target) }
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .shapes }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Cast) has no input") }
        if isFloatTarget { return [.float(x.floats)] }
        if target == .bool { return [.int(IntArray(shape: x.shape, data: x.floats.data.map { $0 != 0 ? 1 : 0 }))] }
        return [.int(x.integers)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard isFloatTarget, let dy = g[0] else { return [:] }
        return [0: dy]
    }
}

/// Reshape, Flatten, Squeeze and Unsqueeze: the data stays, the shape changes; backward reshapes back.
final class Reshape: Operator {
    let node: Node
    init(node: Node) { self.node = node }
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .shapes }

    func axes(_ inputs: [RuntimeValue?]) throws -> [Int]? {
        if inputs.count > 1, let given = inputs[1] { return given.integers.data.map { Int($0) } }
        return node.attributes["axes"] == nil ? nil : try NodeAttributes(node: node).ints("axes")
    }

    func newShape(_ x: [Int], _ inputs: [RuntimeValue?]) throws -> [Int] {
        switch node.opType {
        case "Flatten":
            let requested = try NodeAttributes(node: node).int("axis", default: 1)
            let axis = try normalizeAxis(requested < 0 ? requested + x.count : requested, rank: x.count + 1, node)
            return [x[..<axis].reduce(1, *), x[axis...].reduce(1, *)]
        case "Squeeze":
            guard let axes = try axes(inputs) else { return x.filter { $0 != 1 } }
            let drop = try Set(axes.map { try normalizeAxis($0, rank: x.count, node) })
            for a in drop where x[a] != 1 { throw EngineError("node '\(node.name)' (Squeeze): axis \(a) of \(x) is not 1") }
            return x.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        case "Unsqueeze":
            guard let axes = try axes(inputs) else { throw EngineError("node '\(node.name)' (Unsqueeze) has no axes") }
            let rank = x.count + axes.count
            let add = try Set(axes.map { try normalizeAxis($0, rank: rank, node) })
            var source = x.makeIterator()
            return (0..<rank).map { add.contains($0) ? 1 : source.next() ?? 1 }
        default:  // Reshape
            let requested = try intInput(inputs, 1, node).data.map { Int($0) }
            let allowZero = try NodeAttributes(node: node).int("allowzero", default: 0) != 0
            var shape = requested.enumerated().map { i, d in d == 0 && !allowZero && i < x.count ? x[i] : d }
            let total = x.reduce(1, *)
            if let unknown = shape.firstIndex(of: -1) {
                let others = shape.enumerated().filter { $0.offset != unknown }.map(\.element)
                guard let known = Tensor.checkedElementCount(others), known > 0, total % known == 0 else {
                    throw EngineError("node '\(node.name)' (Reshape): cannot reshape \(x) to \(requested)")
                }
                shape[unknown] = total / known
            }
            guard Tensor.checkedElementCount(shape) == total else {
                throw EngineError("node '\(node.name)' (Reshape): cannot reshape \(x) (\(total) elements) to \(requested)")
            }
            return shape
        }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (\(node.opType)) has no input") }
        return [reshaped(x, try newShape(x.shape, inputs))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0] else { return [:] }
        return [0: Tensor(shape: x.shape, data: dy.data)]
    }
}

/// Permutes axes; backward applies the inverse permutation.
final class Transpose: Operator {
    let node: Node
    init(node: Node) { self.node = node }
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .shapes }

    static func permute<T>(_ data: [T], shape: [Int], perm: [Int], zero: T) -> [T] {
        // Moving only axes of size 1 keeps the element order: the same storage serves (a view).
        let moved = perm.filter { shape[$0] != 1 }
        if moved == moved.sorted() { return data }
        let rank = shape.count
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        let outShape = perm.map { shape[$0] }
        let sourceStrides = perm.map { strides[$0] }
        var out = [T](repeating: zero, count: data.count)
        walk(outShape, strides: sourceStrides) { flat, offset in out[flat] = data[offset] }
        return out
    }

    func permutation(rank: Int) throws -> [Int] {
        let perm = try NodeAttributes(node: node).ints("perm", default: Array((0..<rank).reversed()))
        guard perm.sorted() == Array(0..<rank) else { throw EngineError("node '\(node.name)' (Transpose): perm \(perm) is not a permutation of rank \(rank)") }
        return perm
    }

    /// Float tensors go through oneDNN reorders (any input layout, several threads); kept per
    /// (shape, layout) for the forward and per shape for the backward.
    var takesLaidOutValues: Bool { true }
    private var forwardKernel: TransposeKernel?, backwardKernel: TransposeKernel?
    /// Whether every reader of the result takes laid-out values (see `prepare(laidOutReaders:)`).
    private var laidOutReaders = false
    /// The layout the latest forward's input came in (nil: row-major): its gradient goes back in it.
    private var inputLayout: TensorLayout?

    func prepare(laidOutReaders: Bool) { self.laidOutReaders = laidOutReaders }

    /// Whether `perm` takes a channels-last tensor to channels-first ([0, r−1, 1, …, r−2]), as
    /// ConvNeXt's permute back before its per-channel scale, residual sum and next convolution does.
    private static func movesChannelsFirst(_ perm: [Int]) -> Bool {
        perm.count >= 3 && perm == [0, perm.count - 1] + Array(1..<(perm.count - 1))
    }

    /// x with its axes permuted: the same storage when only axes of size 1 move (a view), else a copy,
    /// left in oneDNN memory when `result` asks for a layout and the kernel can give it.
    private func permuted(_ x: KernelInput, _ perm: [Int], _ cached: inout TransposeKernel?,
                          result: TransposeKernel.Result = .rowMajor) throws -> RuntimeValue {
        let moved = perm.filter { x.shape[$0] != 1 }
        if moved == moved.sorted() || x.shape.contains(0) {
            let t: Tensor
            switch x { case .plain(let p): t = p; case .laidOut(let l): t = l.plain() }
            return .float(Tensor(shape: perm.map { x.shape[$0] }, data: t.data))
        }
        do {
            if cached?.fits(x, result: result) != true || cached?.permutation != perm {
                cached = try TransposeKernel(for: x, permutation: perm, result: result)
            }
            return cached!.laysOut ? .laidOut(try cached!.runLaidOut(x)) : .float(try cached!.run(x))
        } catch let error as KernelError { throw EngineError("node '\(node.name)' (Transpose): \(error)") }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Transpose) has no input") }
        let perm = try permutation(rank: x.shape.count)
        let shape = perm.map { x.shape[$0] }
        switch x {
        case .float, .laidOut, .released:
            if case .laidOut(let t) = x { inputLayout = t.tensorLayout } else { inputLayout = nil }
            if x.shape.isEmpty { return [.float(x.floats)] }
            // Readers that take laid-out values get a channels-first result in channel blocks: the
            // layout a convolution, a per-channel scale and a residual sum run in, reached in this one pass.
            let blocked = laidOutReaders && Self.movesChannelsFirst(perm)
            return [try permuted(x.kernelInput, perm, &forwardKernel, result: blocked ? .channelBlocked : .rowMajor)]
        case .int(let a): return [.int(IntArray(shape: shape, data: Self.permute(a.data, shape: a.shape, perm: perm, zero: 0)))]
        }
    }

    /// The inverse permutation of the gradient, in any layout, returned in the layout the forward's
    /// input came in (a convolution's blocked output gets its gradient in blocks, in one pass).
    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        guard let dy = g.first ?? nil else { return [:] }
        let perm = try permutation(rank: dy.shape.count)
        var inverse = perm
        for (i, p) in perm.enumerated() { inverse[p] = i }
        if dy.shape.isEmpty { return [0: .float(dy.floats)] }
        let input = inputLayout.flatMap { $0.shape == inverse.map { dy.shape[$0] } ? $0 : nil }
        return [0: try permuted(dy.kernelInput, inverse, &backwardKernel, result: input.map { .layout($0) } ?? .rowMajor)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        try backward(laidOut: g.map { $0.map { .float($0) } }, inputs: inputs, outputs: outputs, wanted: wanted).mapValues(\.floats)
    }
}

/// Joins along an axis; backward cuts the gradient back into the pieces. Activations in a oneDNN layout
/// joined along the channel axis (DenseNet's) are joined, and their gradient cut, in that layout
/// (`ChannelWise`) when every reader takes laid-out values.
final class Concat: Operator {
    let node: Node
    /// Whether every reader takes laid-out values, so that the result may stay in its inputs' layout.
    private var laidOutReaders = false
    init(node: Node) { self.node = node }
    var differentiableInputs: [Int] { Array(node.inputs.indices) }
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .shapes }
    var takesLaidOutValues: Bool { true }
    func prepare(laidOutReaders: Bool) { self.laidOutReaders = laidOutReaders }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw EngineError("node '\(node.name)' (Concat) has no inputs") }
        let axis = try normalizeAxis(try NodeAttributes(node: node).int("axis"), rank: first.shape.count, node)
        if laidOutReaders, axis == 1, parts.count == inputs.count {
            let laidOut = parts.compactMap { if case .laidOut(let t) = $0 { return t } else { return nil } }
            if laidOut.count == parts.count, let y = try ChannelWise.concatenated(laidOut) { return [.laidOut(y)] }
        }
        var shape = first.shape
        shape[axis] = 0
        for p in parts {
            guard p.shape.count == first.shape.count,
                  p.shape.enumerated().allSatisfy({ $0.offset == axis || $0.element == first.shape[$0.offset] }) else {
                throw EngineError("node '\(node.name)' (Concat): shapes \(parts.map(\.shape)) differ off axis \(axis)")
            }
            shape[axis] += p.shape[axis]
        }
        let outer = first.shape[..<axis].reduce(1, *)
        if parts.allSatisfy({ if case .int = $0 { return true } else { return false } }) {
            var out: [Int64] = []
            for o in 0..<outer { for p in parts { let a = p.integers; let n = a.data.count / max(outer, 1); out += a.data[(o * n)..<((o + 1) * n)] } }
            return [.int(IntArray(shape: shape, data: out))]
        }
        var out: [Float] = []
        out.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer { for p in parts { let t = p.floats; let n = t.count / max(outer, 1); out += t.data[(o * n)..<((o + 1) * n)] } }
        return [.float(Tensor(shape: shape, data: out))]
    }

    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        if case .laidOut(let dy)? = g.first ?? nil, try normalizeAxis(try NodeAttributes(node: node).int("axis"), rank: dy.shape.count, node) == 1,
           inputs.allSatisfy({ $0 != nil }), let parts = try ChannelWise.split(dy, channels: inputs.map { $0!.shape[1] }) {
            var result: [Int: RuntimeValue] = [:]
            for (i, part) in parts.enumerated() where wanted.contains(i) { result[i] = .laidOut(part) }
            return result
        }
        return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted)
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let axis = try normalizeAxis(try NodeAttributes(node: node).int("axis"), rank: dy.rank, node)
        let outer = dy.shape[..<axis].reduce(1, *), row = dy.count / max(outer, 1)
        var result: [Int: Tensor] = [:]
        var start = 0
        for (i, input) in inputs.enumerated() {
            guard let input else { continue }
            let n = input.shape.reduce(1, *) / max(outer, 1)
            if wanted.contains(i) {
                var part: [Float] = []
                part.reserveCapacity(n * outer)
                for o in 0..<outer { part += dy.data[(o * row + start)..<(o * row + start + n)] }
                result[i] = Tensor(shape: input.shape, data: part)
            }
            start += n
        }
        return result
    }
}

/// Whole slabs picked along one axis, in order (an index may repeat): what Gather and a Concat of
/// Slices of one tensor compute. The data is [outer, length, inner] around the axis.
struct AxisPicks {
    /// The product of the axes before the axis, the axis's length, the product of the axes after it.
    let outer: Int, length: Int, inner: Int
    /// The picked indices along the axis.
    let picks: [Int]

    /// The picked slabs of `v`, for each outer index in turn.
    func take<T>(_ v: [T]) -> [T] {
        var out: [T] = []
        out.reserveCapacity(outer * picks.count * inner)
        for o in 0..<outer { for p in picks { out += v[((o * length + p) * inner)..<((o * length + p + 1) * inner)] } }
        return out
    }

    /// The gradient of several picks along one axis that together take each index exactly once (q, k and v
    /// out of one projection; the two halves of a roll): each slab of each gradient copied to where it was
    /// picked from, with no zero fill and no additions. Nil when the picks differ in their axis, overlap or
    /// leave an index out (then gradients add up with `addBack`).
    static func placedBack(_ parts: [(picks: AxisPicks, gradient: Tensor)], shape: [Int]) -> Tensor? {
        guard let first = parts.first?.picks else { return nil }
        var seen = [Bool](repeating: false, count: first.length), taken = 0
        for (picks, gradient) in parts {
            guard picks.outer == first.outer, picks.length == first.length, picks.inner == first.inner,
                  gradient.count == picks.outer * picks.picks.count * picks.inner else { return nil }
            for p in picks.picks {
                guard !seen[p] else { return nil }
                seen[p] = true
                taken += 1
            }
        }
        guard taken == first.length, Tensor.elementCount(shape) == first.outer * first.length * first.inner else { return nil }
        let (outer, length, inner) = (first.outer, first.length, first.inner)
        let data = [Float](unsafeUninitializedCapacity: outer * length * inner) { target, initialized in
            for (picks, gradient) in parts {
                gradient.data.withUnsafeBufferPointer { source in
                    var k = 0
                    for o in 0..<outer {
                        for p in picks.picks {
                            (target.baseAddress! + (o * length + p) * inner).initialize(from: source.baseAddress! + k, count: inner)
                            k += inner
                        }
                    }
                }
            }
            initialized = outer * length * inner
        }
        return Tensor(shape: shape, data: data)
    }

    /// Adds each slab of `dy` (shaped like `take`'s result) to where it was picked from in `dx`.
    func addBack(_ dy: Tensor, into dx: inout Tensor) {
        dx.data.withUnsafeMutableBufferPointer { target in
            dy.data.withUnsafeBufferPointer { source in
                var k = 0
                for o in 0..<outer { for p in picks { let base = (o * length + p) * inner; for i in 0..<inner { target[base + i] += source[k]; k += 1 } } }
            }
        }
    }
}

/// `x`'s slabs picked by `picks`, as a value of `shape` (floats or integers, as `x`).
func picked(_ x: RuntimeValue, _ picks: AxisPicks, shape: [Int]) -> RuntimeValue {
    switch x {
    case .float, .laidOut, .released: return .float(Tensor(shape: shape, data: picks.take(x.floats.data)))
    case .int(let a): return .int(IntArray(shape: shape, data: picks.take(a.data)))
    }
}

/// Gather along an axis with integer indices (negative counts from the end). Several Gathers of one
/// tensor along one axis (q, k and v out of attention's packed projection) run as one node with an
/// index input and an output per Gather (see `Fusion`): their gradients go into one tensor instead of
/// one full-size tensor each, summed afterwards.
final class Gather: Operator {
    let node: Node
    /// The Gathers this node runs, one per index input (just `node` when it is not a group): errors
    /// name the one whose index failed.
    private let members: [Node]
    /// `members`: the original Gathers of a group, in the order of `node`'s index inputs.
    init(node: Node, members: [Node]? = nil) {
        self.node = node
        self.members = members ?? [node]
    }
    /// The data by shape; the indices (integers, kept anyway).
    func backwardReads(wanted: Set<Int>) -> BackwardReads { BackwardReads(inputs: Set(1..<max(node.inputs.count, 2)), outputs: false) }

    /// Where member `k` picks from data of shape `data`, by its index input (`inputs[k + 1]`).
    func plan(_ data: [Int], _ inputs: [RuntimeValue?], member k: Int = 0) throws -> (axis: Int, outer: Int, inner: Int, picks: [Int], shape: [Int]) {
        let gather = members[k]
        let indices = try intInput([inputs[0], k + 1 < inputs.count ? inputs[k + 1] : nil], 1, gather)
        let axis = try normalizeAxis(try NodeAttributes(node: gather).int("axis", default: 0), rank: data.count, gather)
        let length = data[axis]
        let picks = try indices.data.map { i -> Int in
            let j = Int(i) < 0 ? Int(i) + length : Int(i)
            guard j >= 0, j < length else { throw EngineError("node '\(gather.name)' (Gather): index \(i) is out of range for axis of length \(length)") }
            return j
        }
        return (axis, data[..<axis].reduce(1, *), data[(axis + 1)...].reduce(1, *), picks,
                Array(data[..<axis]) + indices.shape + Array(data[(axis + 1)...]))
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Gather) has no input") }
        return try members.indices.map { k in
            let (axis, outer, inner, picks, shape) = try plan(x.shape, inputs, member: k)
            return picked(x, AxisPicks(outer: outer, length: x.shape[axis], inner: inner, picks: picks), shape: shape)
        }
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let x = inputs[0], g.contains(where: { $0 != nil }) else { return [:] }
        let parts = try members.indices.compactMap { k -> (picks: AxisPicks, gradient: Tensor)? in
            guard k < g.count, let dy = g[k] else { return nil }
            let (axis, outer, inner, picks, _) = try plan(x.shape, inputs, member: k)
            return (AxisPicks(outer: outer, length: x.shape[axis], inner: inner, picks: picks), dy)
        }
        if let dx = AxisPicks.placedBack(parts, shape: x.shape) { return [0: dx] }
        var dx = Tensor.zeros(x.shape)
        for (picks, dy) in parts { picks.addBack(dy, into: &dx) }
        return [0: dx]
    }
}

/// Slice with starts/ends/axes/steps inputs (opset ≥ 10) or attributes (before).
final class Slice: Operator {
    let node: Node
    init(node: Node) { self.node = node }
    /// The data by shape; starts, ends, axes and steps.
    func backwardReads(wanted: Set<Int>) -> BackwardReads { BackwardReads(inputs: [1, 2, 3, 4], outputs: false) }

    /// For each axis: the source indices kept.
    func selection(_ shape: [Int], _ inputs: [RuntimeValue?]) throws -> [[Int]] {
        func list(_ i: Int, _ attribute: String) throws -> [Int]? {
            if inputs.count > i, let v = inputs[i] { return v.integers.data.map { Int(clamping: $0) } }
            return node.attributes[attribute] == nil ? nil : try NodeAttributes(node: node).ints(attribute)
        }
        guard let starts = try list(1, "starts"), let ends = try list(2, "ends") else {
            throw EngineError("node '\(node.name)' (Slice) needs starts and ends")
        }
        let axes = try (list(3, "axes") ?? Array(0..<starts.count)).map { try normalizeAxis($0, rank: shape.count, node) }
        let steps = try list(4, "steps") ?? Array(repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw EngineError("node '\(node.name)' (Slice): starts, ends, axes and steps have \(starts.count), \(ends.count), \(axes.count) and \(steps.count) values; each needs one per sliced axis")
        }
        var keep = shape.map { Array(0..<$0) }
        for (k, axis) in axes.enumerated() {
            let n = shape[axis], step = steps[k]
            guard step != 0 else { throw EngineError("node '\(node.name)' (Slice): step 0") }
            func clamp(_ v: Int, _ low: Int, _ high: Int) -> Int { min(max(v < 0 ? v + n : v, low), high) }
            if step > 0 {
                keep[axis] = Array(stride(from: clamp(starts[k], 0, n), to: clamp(ends[k], 0, n), by: step))
            } else {
                keep[axis] = Array(stride(from: clamp(starts[k], -1, n - 1), to: clamp(ends[k], -1, n - 1), by: step))
            }
        }
        return keep
    }

    /// The selection row by row: for each kept combination of the leading axes, the flat offset where its row
    /// starts; and the kept indices of the last axis, with the first of them when they are consecutive (one run
    /// to copy).
    func rows(_ shape: [Int], _ keep: [[Int]]) -> (starts: [Int], last: [Int], run: Int?) {
        let length = shape.last ?? 1, last = keep.last ?? [0]
        let starts = gatherOffsets(Array(shape.dropLast()), Array(keep.dropLast())).map { $0 * length }
        let consecutive = zip(last, last.dropFirst()).allSatisfy { $1 == $0 + 1 }
        return (starts, last, consecutive ? last.first : nil)
    }

    /// The selected elements of `source`, in output order.
    func gathered<T>(_ source: [T], _ shape: [Int], _ keep: [[Int]]) -> [T] {
        guard !shape.isEmpty else { return source }
        let (starts, last, run) = rows(shape, keep)
        var result: [T] = []
        result.reserveCapacity(starts.count * last.count)
        for start in starts {
            if let first = run { result.append(contentsOf: source[(start + first)..<(start + first + last.count)]) }
            else { for i in last { result.append(source[start + i]) } }
        }
        return result
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Slice) has no input") }
        let keep = try selection(x.shape, inputs), shape = keep.map(\.count)
        if selectsEverything(keep, of: x.shape) { return [x] }   // x[:, :H, :W] of an unpadded window grid
        switch x {
        case .float, .laidOut, .released: return [.float(Tensor(shape: shape, data: gathered(x.floats.data, x.shape, keep)))]
        case .int(let a): return [.int(IntArray(shape: shape, data: gathered(a.data, x.shape, keep)))]
        }
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0] else { return [:] }
        let keep = try selection(x.shape, inputs)
        guard !x.shape.isEmpty, !selectsEverything(keep, of: x.shape) else { return [0: dy] }
        var dx = Tensor.zeros(x.shape)
        let (starts, last, _) = rows(x.shape, keep)
        dx.data.withUnsafeMutableBufferPointer { target in
            dy.data.withUnsafeBufferPointer { source in
                var k = 0
                for start in starts { for i in last { target[start + i] += source[k]; k += 1 } }
            }
        }
        return [0: dx]
    }
}

/// A Concat whose inputs are all Slices of one tensor, each read by the Concat only: Swin's torch.roll,
/// two slices of a tensor swapped. When every slice keeps whole slabs along the Concat's axis (all of
/// each other axis, step 1 or not), the result is those slabs picked in order: one pass forward,
/// and one gradient tensor backward instead of a zero-filled one per slice, summed afterwards.
/// Otherwise the slices and the Concat run as they are. Inputs: the tensor, then each slice's other
/// inputs in turn.
final class ConcatOfSlices: Operator {
    let node: Node
    private let slices: [Slice]
    /// Per slice, the range of the node's inputs after the tensor that are its own (starts, ends, …).
    private let parameters: [Range<Int>]
    private let concat: Concat

    /// `slices` are the Slice nodes in the Concat's input order; `node` is the fused node.
    init(node: Node, slices: [Node], concat: Node) {
        self.node = node
        self.slices = slices.map { Slice(node: $0) }
        var start = 1
        parameters = slices.map { slice in
            defer { start += slice.inputs.count - 1 }
            return start..<(start + slice.inputs.count - 1)
        }
        self.concat = Concat(node: concat)
    }

    /// The tensor by shape; the slices' parameters (integers, kept anyway).
    func backwardReads(wanted: Set<Int>) -> BackwardReads { BackwardReads(inputs: Set(1..<max(node.inputs.count, 2)), outputs: false) }

    /// Slice `i`'s own inputs: the tensor, then its parameters.
    private func sliceInputs(_ i: Int, _ inputs: [RuntimeValue?]) -> [RuntimeValue?] {
        [inputs[0]] + parameters[i].map { $0 < inputs.count ? inputs[$0] : nil }
    }

    /// The slabs picked along the Concat's axis, when every slice keeps whole slabs along it; nil otherwise.
    private func plan(_ inputs: [RuntimeValue?]) throws -> (picks: AxisPicks, shape: [Int])? {
        guard let x = inputs[0], !x.shape.isEmpty else { return nil }
        let axis = try normalizeAxis(try NodeAttributes(node: node).int("axis"), rank: x.shape.count, node)
        var picks: [Int] = []
        for i in slices.indices {
            let keep = try slices[i].selection(x.shape, sliceInputs(i, inputs))
            for (a, indices) in keep.enumerated() where a != axis {
                guard indices.count == x.shape[a], indices.enumerated().allSatisfy({ $0.offset == $0.element }) else { return nil }
            }
            picks += keep[axis]
        }
        var shape = x.shape
        shape[axis] = picks.count
        return (AxisPicks(outer: x.shape[..<axis].reduce(1, *), length: x.shape[axis], inner: x.shape[(axis + 1)...].reduce(1, *), picks: picks), shape)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Concat of Slices) has no input") }
        if let (picks, shape) = try plan(inputs) { return [picked(x, picks, shape: shape)] }
        return try concat.forward(try slices.indices.map { try slices[$0].forward(sliceInputs($0, inputs))[0] })
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0] else { return [:] }
        let plan = try plan(inputs)
        if let (picks, _) = plan, let dx = AxisPicks.placedBack([(picks, dy)], shape: x.shape) { return [0: dx] }   // a roll
        var dx = Tensor.zeros(x.shape)
        if let (picks, _) = plan {
            picks.addBack(dy, into: &dx)
            return [0: dx]
        }
        // The Concat's and Slices' backward passes read the slices by shape only.
        let parts = try slices.indices.map { RuntimeValue.released(shape: try slices[$0].selection(x.shape, sliceInputs($0, inputs)).map(\.count)) }
        let partGradients = try concat.backward(g, inputs: parts, outputs: outputs, wanted: Set(parts.indices))
        for i in slices.indices {
            guard let part = partGradients[i], let d = try slices[i].backward([part], inputs: sliceInputs(i, inputs), outputs: [parts[i]], wanted: [0])[0] else { continue }
            dx.add(d)
        }
        return [0: dx]
    }
}


/// Whether per-axis source indices pick every element of `shape` in order (a slice or pad that copies).
func selectsEverything(_ perAxis: [[Int]], of shape: [Int]) -> Bool {
    perAxis.count == shape.count && zip(perAxis, shape).allSatisfy { indices, n in indices.count == n && indices.enumerated().allSatisfy { $0.offset == $0.element } }
}

final class Expand: Operator {
    let node: Node
    init(node: Node) { self.node = node }
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .shapes }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Expand) has no input") }
        let target = try intInput(inputs, 1, node).data.map { Int($0) }
        guard let shape = Tensor.broadcastShape(x.shape, target) else {
            throw EngineError("node '\(node.name)' (Expand): \(x.shape) does not broadcast to \(target)")
        }
        // A zero-filled tensor of the output's shape, then the sum: two arrays of floats; for integers, two
        // arrays of Int64s and one of offsets.
        let count = try checkedOutputCount(shape, node, bytesPerElement: x.isFloat ? 8 : 24)
        switch x {
        case .float, .laidOut, .released:
            let t = x.floats
            return [.float(try t.applying(.add, Tensor.zeros(shape)))]
        case .int(let a): return [.int(try broadcastIntegers(a, IntArray(shape: shape, data: Array(repeating: 0, count: count)), +))]
        }
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0] else { return [:] }
        return [0: dy.summed(to: x.shape)]
    }
}

/// ReduceMean / ReduceSum / ReduceMax / ReduceMin / ReduceL2 over axes (attribute before opset 18
/// — 13 for Sum —, input after). Empty reductions give 0 (Sum, L2), NaN (Mean), ∓∞ (Max, Min).
final class Reduce: Operator {
    enum Kind { case sum, mean, max, min, l2 }
    let node: Node
    let kind: Kind
    init(node: Node, _ kind: Kind) {
        self.node = node
        self.kind = kind
    }

    /// Sums and means: the data by shape, and the axes input. The others read everything.
    func backwardReads(wanted: Set<Int>) -> BackwardReads {
        kind == .sum || kind == .mean ? BackwardReads(inputs: [1], outputs: false) : .everything
    }

    /// The shape with reduced axes kept as 1, the reduced axes, and how many elements each output sums.
    func reduction(_ shape: [Int], _ inputs: [RuntimeValue?]) throws -> (kept: [Int], axes: Set<Int>, count: Int) {
        let a = NodeAttributes(node: node)
        var axes: [Int]? = node.attributes["axes"] == nil ? nil : try a.ints("axes")
        if inputs.count > 1, let given = inputs[1] { axes = given.integers.data.map { Int($0) } }
        if axes?.isEmpty ?? true, try a.int("noop_with_empty_axes", default: 0) != 0 { return (shape, [], 1) }
        let all = axes?.isEmpty ?? true ? Array(0..<shape.count) : axes!
        let chosen = try Set(all.map { try normalizeAxis($0, rank: shape.count, node) })
        let kept = shape.enumerated().map { chosen.contains($0.offset) ? 1 : $0.element }
        return (kept, chosen, chosen.map { shape[$0] }.reduce(1, *))
    }

    /// For each input element, the flat index of its output element.
    func targets(_ shape: [Int], _ kept: [Int]) -> [Int] {
        let picks = shape.enumerated().map { axis, n in kept[axis] == 1 && n != 1 ? Array(repeating: 0, count: n) : Array(0..<n) }
        return gatherOffsets(kept, picks)
    }

    /// Sums and means read an input in oneDNN's layouts as it is (see `channelSums`).
    var takesLaidOutValues: Bool { kind == .sum || kind == .mean }

    /// The latest forward's input layout when it was summed per channel where it lay, so backward hands
    /// its gradient back in that layout.
    private var inputLayout: TensorLayout?

    /// The output's shape: the input's with reduced axes kept as 1 (`kept`), or dropped without keepdims.
    private func outputShape(_ kept: [Int], _ axes: Set<Int>) throws -> [Int] {
        try NodeAttributes(node: node).int("keepdims", default: 1) == 0 ? kept.enumerated().filter { !axes.contains($0.offset) }.map(\.element) : kept
    }

    /// The per-channel sums (or means) of a laid-out input read in its own layout, with the bits of the
    /// row-major loop; nil when the reduction or the layout is another.
    private func channelSums(_ x: DNNLTensor, _ inputs: [RuntimeValue?]) throws -> (sums: Tensor, kept: [Int], axes: Set<Int>)? {
        let (kept, axes, count) = try reduction(x.shape, inputs)
        guard keepsBatchAndChannels(x.shape, kept), var sums = ChannelReduction.sums(x) else { return nil }
        if kind == .mean { for i in sums.indices { sums[i] /= Float(count) } }
        return (Tensor(shape: kept, data: sums), kept, axes)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        inputLayout = nil
        if case .laidOut(let t)? = inputs.first, let (y, kept, axes) = try channelSums(t, inputs) {
            inputLayout = t.tensorLayout
            return [.float(Tensor(shape: try outputShape(kept, axes), data: y.data))]
        }
        let x = try floatInput(inputs, 0, node)
        let (kept, axes, count) = try reduction(x.shape, inputs)
        if case .int = inputs[0], count == 0, kind == .max || kind == .min {
            throw EngineError("node '\(node.name)' (\(node.opType)): an empty reduction of integers or booleans is not supported (its value is the element type's extreme, which the engine's integer values do not record)")
        }
        var y: Tensor
        switch kind {
        case .sum, .mean:
            y = x.summed(to: kept)
            if kind == .mean { y = y.map { $0 / Float(count) } }
        case .l2:
            y = x.map { $0 * $0 }.summed(to: kept).map { $0.squareRoot() }
        case .max, .min:
            y = Tensor.filled(kept, with: kind == .max ? -.infinity : .infinity)
            for (i, t) in targets(x.shape, kept).enumerated() {
                y.data[t] = kind == .max ? Swift.max(y.data[t], x.data[i]) : Swift.min(y.data[t], x.data[i])
            }
        }
        let shape = try outputShape(kept, axes)
        if case .int = inputs[0], kind == .max || kind == .min || kind == .sum {
            return [.int(IntArray(shape: shape, data: y.data.map { $0.isFinite ? Int64($0) : ($0 > 0 ? Int64.max : Int64.min) }))]
        }
        return [.float(Tensor(shape: shape, data: y.data))]
    }

    /// A per-channel sum's gradient goes back in the layout its input came in; every other one row-major.
    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        if let layout = inputLayout, let dy = g[0], let x = inputs[0], x.shape == layout.shape {
            let (kept, _, count) = try reduction(x.shape, inputs)
            let divisor = Float(kind == .mean ? Swift.max(count, 1) : 1)
            if keepsBatchAndChannels(x.shape, kept), let dx = try ChannelReduction.spread(dy.floats.data.map { $0 / divisor }, over: layout) {
                return [0: .laidOut(dx)]
            }
        }
        return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted)
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0], let output = outputs.first else { return [:] }
        let (kept, _, count) = try reduction(x.shape, inputs)
        switch kind {
        case .sum, .mean:
            let divisor = Float(kind == .mean ? Swift.max(count, 1) : 1)
            // Trailing axes reduced (a global average pool): each gradient value fills its block.
            if dy.count > 0, blocksOfTrailingAxes(x.shape, kept) {
                let inner = x.shape.reduce(1, *) / dy.count
                var dx = Tensor.zeros(x.shape)
                dx.data.withUnsafeMutableBufferPointer { target in
                    for r in 0..<dy.count {
                        let value = dy.data[r] / divisor
                        for i in 0..<inner { target[r * inner + i] = value }
                    }
                }
                return [0: dx]
            }
            var dx = try Tensor(shape: kept, data: dy.data).applying(.add, Tensor.zeros(x.shape))
            if kind == .mean { dx = dx.map { $0 / divisor } }
            return [0: dx]
        case .l2:
            let (x, y) = (try floatInput(inputs, 0, node), output.floats)
            var dx = Tensor.zeros(x.shape)
            for (i, t) in targets(x.shape, kept).enumerated() where y.data[t] > 0 { dx.data[i] = dy.data[t] * x.data[i] / y.data[t] }
            return [0: dx]
        case .max, .min:   // to the first element holding the extreme
            let (x, y) = (try floatInput(inputs, 0, node), output.floats)
            var dx = Tensor.zeros(x.shape)
            var credited = Set<Int>()
            for (i, t) in targets(x.shape, kept).enumerated() where x.data[i] == y.data[t] && credited.insert(t).inserted { dx.data[i] = dy.data[t] }
            return [0: dx]
        }
    }
}
