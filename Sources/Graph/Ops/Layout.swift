import Tensor

/// Operators added for ONNX conformance that move or resample elements: Split, Pad, Tile, Resize, Einsum.
let layoutOperators: [String: OperatorSet.Maker] = [
    "Split": { Split(node: $0) },
    "Pad": { try Pad(node: $0) },
    "Tile": { Tile(node: $0) },
    "Resize": { try Resize(node: $0) },
    "Upsample": { try Resize(node: $0) },
    "Einsum": { try Einsum(node: $0) },
]

/// Flat source offsets of a gather given, per axis, the source index of every output position
/// (-1: no source, e.g. constant padding); -1 in the result where any axis has none.
func gatherOffsets(_ shape: [Int], _ perAxis: [[Int]]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
    var result = [0]
    for axis in 0..<shape.count {
        var next: [Int] = []
        next.reserveCapacity(result.count * perAxis[axis].count)
        for base in result {
            for i in perAxis[axis] { next.append(base < 0 || i < 0 ? -1 : base + i * strides[axis]) }
        }
        result = next
    }
    return result
}

/// Split along an axis into parts given by the `split` input (opset ≥ 13) or attribute, or into
/// `num_outputs` (opset 18; the last part smaller when uneven) or as many equal parts as outputs.
final class Split: Operator {
    let node: Node
    init(node: Node) { self.node = node }

    func parts(_ shape: [Int], _ inputs: [RuntimeValue?]) throws -> (axis: Int, sizes: [Int]) {
        let a = NodeAttributes(node: node)
        let axis = try normalizeAxis(try a.int("axis", default: 0), rank: shape.count, node)
        let length = shape[axis]
        var sizes: [Int]
        if inputs.count > 1, let given = inputs[1] {
            sizes = given.integers.data.map { Int($0) }
        } else if node.attributes["split"] != nil {
            sizes = try a.ints("split")
        } else {
            let n = node.attributes["num_outputs"] != nil ? try a.int("num_outputs") : node.outputs.count
            guard n > 0 else { throw EngineError("node '\(node.name)' (Split): no outputs") }
            let chunk = (length + n - 1) / n
            sizes = (0..<n).map { max(0, min(chunk, length - $0 * chunk)) }
        }
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == length else {
            throw EngineError("node '\(node.name)' (Split): parts \(sizes) do not add up to \(length) along axis \(axis) of \(shape)")
        }
        return (axis, sizes)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Split) has no input") }
        let (axis, sizes) = try parts(x.shape, inputs)
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *), length = x.shape[axis]
        var start = 0
        return sizes.map { size in
            defer { start += size }
            var shape = x.shape
            shape[axis] = size
            func cut<T>(_ v: [T]) -> [T] {
                var out: [T] = []
                out.reserveCapacity(outer * size * inner)
                for o in 0..<outer { out += v[((o * length + start) * inner)..<((o * length + start + size) * inner)] }
                return out
            }
            switch x {
            case .float, .laidOut, .released:
                let t = x.floats
                return .float(Tensor(shape: shape, data: cut(t.data)))
            case .int(let a): return .int(IntArray(shape: shape, data: cut(a.data)))
            }
        }
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let x = inputs[0] else { return [:] }
        let (axis, sizes) = try parts(x.shape, inputs)
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *), length = x.shape[axis]
        var dx = Tensor.zeros(x.shape)
        var start = 0
        for (k, size) in sizes.enumerated() {
            if k < g.count, let d = g[k] {
                for o in 0..<outer {
                    for i in 0..<(size * inner) { dx.data[(o * length + start) * inner + i] = d.data[o * size * inner + i] }
                }
            }
            start += size
        }
        return [0: dx]
    }
}

/// Pad: constant, reflect, edge or wrap, pads (and optional axes) from inputs (opset ≥ 11) or
/// attributes (before); negative pads crop.
/// Tile: the input repeated `repeats[i]` times along each axis i (XCiT's positional encoding). Its
/// gradient sums the copies.
final class Tile: Operator {
    let node: Node
    init(node: Node) { self.node = node }

    /// The flat source offset of every output element, and the output shape.
    func plan(_ shape: [Int], _ inputs: [RuntimeValue?]) throws -> (offsets: [Int], shape: [Int]) {
        let repeats = try intInput(inputs, 1, node).data
        guard repeats.count == shape.count else {
            throw EngineError("node '\(node.name)' (Tile): \(repeats.count) repeats for an input of rank \(shape.count)")
        }
        if let axis = repeats.firstIndex(where: { $0 < 0 }) {
            throw EngineError("node '\(node.name)' (Tile): repeat \(repeats[axis]) on axis \(axis) is negative")
        }
        var output: [Int] = [], count = 1
        for (n, r) in zip(shape, repeats) {
            let (size, overflow) = n.multipliedReportingOverflow(by: Int(r))
            let (total, overflowTotal) = count.multipliedReportingOverflow(by: size)
            guard !overflow, !overflowTotal else { throw EngineError("node '\(node.name)' (Tile): repeats \(repeats) of \(shape) overflow") }
            output.append(size)
            count = total
        }
        // Each output element costs a float and its source offset while the gather runs.
        try MemoryLimit.check(elements: count, elementSize: 12, what: "the output of node '\(node.name)' (Tile), shape \(output)")
        return (gatherOffsets(shape, zip(shape, output).map { n, size in (0..<size).map { $0 % n } }), output)
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Tile) has no input") }
        let (offsets, shape) = try plan(x.shape, inputs)
        switch x {
        case .float, .laidOut, .released:
            let t = x.floats
            return [.float(Tensor(shape: shape, data: offsets.map { t.data[$0] }))]
        case .int(let a):
            return [.int(IntArray(shape: shape, data: offsets.map { a.data[$0] }))]
        }
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0] else { return [:] }
        var dx = Tensor.zeros(x.shape)
        for (k, offset) in try plan(x.shape, inputs).offsets.enumerated() { dx.data[offset] += dy.data[k] }
        return [0: dx]
    }
}

final class Pad: Operator {
    let node: Node
    let mode: String

    init(node: Node) throws {
        self.node = node
        mode = try NodeAttributes(node: node).string("mode", default: "constant")
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else {
            throw EngineError("node '\(node.name)' (Pad): mode '\(mode)' is not supported")
        }
    }

    /// Per axis, the source index of each output position (-1 for the constant).
    func plan(_ shape: [Int], _ inputs: [RuntimeValue?]) throws -> [[Int]] {
        let rank = shape.count
        let pads: [Int]
        if inputs.count > 1, let given = inputs[1] { pads = given.integers.data.map { Int($0) } }
        else { pads = try NodeAttributes(node: node).ints("pads") }
        var axes = Array(0..<rank)
        if inputs.count > 3, let given = inputs[3] { axes = try given.integers.data.map { try normalizeAxis(Int($0), rank: rank, node) } }
        guard pads.count == 2 * axes.count else {
            throw EngineError("node '\(node.name)' (Pad): \(pads.count) pads for \(axes.count) axes")
        }
        var begin = [Int](repeating: 0, count: rank), end = begin
        for (k, axis) in axes.enumerated() { begin[axis] = pads[k]; end[axis] = pads[k + axes.count] }
        return try (0..<rank).map { axis in
            let n = shape[axis], size = n + begin[axis] + end[axis]
            guard size >= 0 else { throw EngineError("node '\(node.name)' (Pad): pads crop axis \(axis) of \(shape) below zero") }
            return try (0..<size).map { o -> Int in
                let i = o - begin[axis]
                if i >= 0 && i < n { return i }
                switch mode {
                case "edge":
                    guard n > 0 else { throw EngineError("node '\(node.name)' (Pad): edge padding of an empty axis") }
                    return min(max(i, 0), n - 1)
                case "wrap":
                    guard n > 0 else { throw EngineError("node '\(node.name)' (Pad): wrap padding of an empty axis") }
                    return ((i % n) + n) % n
                case "reflect":
                    if n == 1 { return 0 }
                    guard n > 0 else { throw EngineError("node '\(node.name)' (Pad): reflect padding of an empty axis") }
                    let period = 2 * (n - 1)
                    let r = ((i % period) + period) % period
                    return r < n ? r : period - r
                default:
                    return -1
                }
            }
        }
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let x = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (Pad) has no input") }
        let perAxis = try plan(x.shape, inputs)
        if selectsEverything(perAxis, of: x.shape) { return [x] }   // Swin pads its window grid even by 0
        let offsets = gatherOffsets(x.shape, perAxis), shape = perAxis.map(\.count)
        let constant: RuntimeValue? = inputs.count > 2 ? inputs[2] : nil
        switch x {
        case .float, .laidOut, .released:
            let t = x.floats
            let attribute = try NodeAttributes(node: node).float("value", default: 0)
            let fill = constant?.floats.data.first ?? attribute
            return [.float(Tensor(shape: shape, data: offsets.map { $0 < 0 ? fill : t.data[$0] }))]
        case .int(let a):
            let attribute = Int64(try NodeAttributes(node: node).float("value", default: 0))
            let fill = constant?.integers.data.first ?? attribute
            return [.int(IntArray(shape: shape, data: offsets.map { $0 < 0 ? fill : a.data[$0] }))]
        }
    }

    /// The data by shape; pads and axes (integers).
    func backwardReads(wanted: Set<Int>) -> BackwardReads { BackwardReads(inputs: [1, 3], outputs: false) }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], let x = inputs[0] else { return [:] }
        let perAxis = try plan(x.shape, inputs)
        if selectsEverything(perAxis, of: x.shape) { return [0: dy] }
        var dx = Tensor.zeros(x.shape)
        for (k, offset) in gatherOffsets(x.shape, perAxis).enumerated() where offset >= 0 { dx.data[offset] += dy.data[k] }
        return [0: dx]
    }
}
