import Tensor

let poolingOperators: [String: OperatorSet.Maker] = [
    "MaxPool": { Pool(node: $0, max: true) },
    "AveragePool": { Pool(node: $0, max: false) },
    "GlobalAveragePool": { GlobalPool(node: $0, max: false) },
    "GlobalMaxPool": { GlobalPool(node: $0, max: true) },
]

/// MaxPool and AveragePool through oneDNN, one kernel per input shape, in the input's layout.
final class Pool: Operator {
    let node: Node
    let isMax: Bool
    private var kernels: [[Int]: PoolingKernel] = [:]
    private var windows: [[Int]: (shape: [Int], taps: [[Int]], counts: [Float])] = [:]

    init(node: Node, max: Bool) {
        self.node = node
        isMax = max
    }

    var takesLaidOutValues: Bool { true }

    /// The kernel of the last forward: max pooling's backward needs its workspace (arg-max positions),
    /// whatever layout the values have been reordered to since.
    private var lastKernel: PoolingKernel?

    func kernel(for x: KernelInput) throws -> PoolingKernel {
        let k = try makeKernel(for: x)
        lastKernel = k
        return k
    }

    private func backwardKernel(for x: KernelInput) throws -> PoolingKernel {
        if let lastKernel, lastKernel.input == x.shape { return lastKernel }
        return try kernel(for: x)
    }

    private func makeKernel(for x: KernelInput) throws -> PoolingKernel {
        if let k = kernels[x.shape], k.fits(x) { return k }
        let a = NodeAttributes(node: node)
        let spatial = x.shape.count - 2
        guard spatial >= 1 else { throw EngineError("node '\(node.name)' (\(node.opType)): input \(x.shape) has no spatial axes") }
        let kernelShape = try a.ints("kernel_shape")
        guard kernelShape.count == spatial else {
            throw EngineError("node '\(node.name)' (\(node.opType)): kernel_shape \(kernelShape) does not fit input \(x.shape)")
        }
        let strides = try a.ints("strides", default: Array(repeating: 1, count: spatial))
        let dilations = try a.ints("dilations", default: Array(repeating: 1, count: spatial))
        let (begin, end) = try explicitPads(node: node, input: Array(x.shape.dropFirst(2)), kernel: kernelShape, strides: strides, dilations: dilations)
        let kind: PoolingKernel.Kind = isMax ? .max
            : (try a.int("count_include_pad", default: 0) != 0 ? .averageIncludingPadding : .averageExcludingPadding)
        do {
            let k = try PoolingKernel(input: x.shape, kind: kind, kernel: kernelShape, strides: strides, dilations: dilations,
                                      padsBegin: begin, padsEnd: end, ceilMode: try a.int("ceil_mode", default: 0) != 0, layoutOf: x)
            kernels[x.shape] = k
            return k
        } catch {
            throw EngineError("node '\(node.name)' (\(node.opType)): \(error)")
        }
    }

    /// AveragePool with count_include_pad and ceil_mode together, as ONNX defines it (its reference
    /// implementation): the output size rounds up unless the last window would start past the left
    /// pad and the input; the extra cells the last window needs are split between both ends; pads
    /// count, the extra cells do not. oneDNN cannot express this, so it is a plain loop: per output,
    /// the input offsets its window covers (per image plane) and the number of cells it counts.
    func includePadCeilWindows(_ shape: [Int]) throws -> (shape: [Int], taps: [[Int]], counts: [Float])? {
        if let cached = windows[shape] { return cached }
        let a = NodeAttributes(node: node)
        guard !isMax, try a.int("count_include_pad", default: 0) != 0, try a.int("ceil_mode", default: 0) != 0 else { return nil }
        let spatial = Array(shape.dropFirst(2)), n = spatial.count
        let kernelShape = try a.ints("kernel_shape")
        let strides = try a.ints("strides", default: Array(repeating: 1, count: n))
        let dilations = try a.ints("dilations", default: Array(repeating: 1, count: n))
        let (begin, end) = try explicitPads(node: node, input: spatial, kernel: kernelShape, strides: strides, dilations: dilations)
        var perAxis: [[[Int]]] = []     // per axis, per output position: input index (-1 for a counted pad)
        for d in 0..<n {
            let window = dilations[d] * (kernelShape[d] - 1) + 1
            let padded = spatial[d] + begin[d] + end[d]
            var out = Int((Double(padded - window) / Double(strides[d]) + 1).rounded(.up))
            if (out - 1) * strides[d] >= spatial[d] + begin[d] { out -= 1 }
            let extra = (out - 1) * strides[d] + window - padded
            let shift = begin[d] + (extra > 0 ? extra / 2 : 0)
            perAxis.append((0..<max(out, 0)).map { o in
                (0..<kernelShape[d]).compactMap { j -> Int? in
                    let p = strides[d] * o + j * dilations[d]
                    guard p < padded else { return nil }
                    let i = p - shift
                    return i >= 0 && i < spatial[d] ? i : -1
                }
            })
        }
        var strideOf = [Int](repeating: 1, count: n)
        for d in stride(from: n - 2, through: 0, by: -1) { strideOf[d] = strideOf[d + 1] * spatial[d + 1] }
        var taps: [[Int]] = [[]], counts: [Float] = [1]
        for d in 0..<n {
            var nextTaps: [[Int]] = [], nextCounts: [Float] = []
            for (t, c) in zip(taps, counts) {
                for cells in perAxis[d] {
                    let valid = cells.filter { $0 >= 0 }.map { $0 * strideOf[d] }
                    nextTaps.append(t.isEmpty && d == 0 ? valid : t.flatMap { base in valid.map { base + $0 } })
                    nextCounts.append(c * Float(cells.count))
                }
            }
            taps = nextTaps
            counts = nextCounts
        }
        let made = (Array(shape.prefix(2)) + perAxis.map(\.count), taps, counts)
        windows[shape] = made
        return made
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        guard let input = inputs.first ?? nil else { throw EngineError("node '\(node.name)' (\(node.opType)) is missing input 0") }
        let wantsIndices = isMax && node.outputs.count > 1 && !node.outputs[1].isEmpty
        if !wantsIndices, try includePadCeilWindows(input.shape) == nil {
            return [.laidOut(try kernel(for: input.kernelInput).forward(input.kernelInput))]
        }
        let x = input.floats
        if let (shape, taps, counts) = try includePadCeilWindows(x.shape) {
            let plane = x.shape.dropFirst(2).reduce(1, *), planes = x.shape[0] * x.shape[1]
            var y = Tensor.zeros(shape)
            for p in 0..<planes { for (k, t) in taps.enumerated() {
                var sum: Float = 0
                for offset in t { sum += x.data[p * plane + offset] }
                y.data[p * taps.count + k] = sum / counts[k]
            } }
            return [.float(y)]
        }
        let y = try kernel(for: .plain(x)).forward(x)
        return [.float(y), .int(try argmax(x, output: y.shape))]
    }

    /// MaxPool's Indices output: per output, the flat index (over the whole input, row-major, or
    /// column-major within each plane for storage_order 1) of the first maximum in its window.
    func argmax(_ x: Tensor, output: [Int]) throws -> IntArray {
        let a = NodeAttributes(node: node)
        let spatial = Array(x.shape.dropFirst(2)), n = spatial.count
        let kernelShape = try a.ints("kernel_shape")
        let strides = try a.ints("strides", default: Array(repeating: 1, count: n))
        let dilations = try a.ints("dilations", default: Array(repeating: 1, count: n))
        let (begin, _) = try explicitPads(node: node, input: spatial, kernel: kernelShape, strides: strides, dilations: dilations)
        let columnMajor = try a.int("storage_order", default: 0) != 0
        var rowStrides = [Int](repeating: 1, count: n), columnStrides = rowStrides
        for d in stride(from: n - 2, through: 0, by: -1) { rowStrides[d] = rowStrides[d + 1] * spatial[d + 1] }
        for d in 1..<max(n, 1) { columnStrides[d] = columnStrides[d - 1] * spatial[d - 1] }
        // Per axis and output position: the input positions of the window inside the input.
        var cells: [[[Int]]] = []
        for d in 0..<n {
            var axis: [[Int]] = []
            for o in 0..<output[d + 2] {
                var window: [Int] = []
                for j in 0..<kernelShape[d] {
                    let i: Int = o * strides[d] - begin[d] + j * dilations[d]
                    if i >= 0 && i < spatial[d] { window.append(i) }
                }
                axis.append(window)
            }
            cells.append(axis)
        }
        let plane = spatial.reduce(1, *), planes = x.shape[0] * x.shape[1]
        let outPlane = output.dropFirst(2).reduce(1, *)
        var result = [Int64](repeating: -1, count: planes * outPlane)
        var position = [Int](repeating: 0, count: n)
        for k in 0..<outPlane {
            var rest = k
            for d in stride(from: n - 1, through: 0, by: -1) { position[d] = rest % output[d + 2]; rest /= output[d + 2] }
            // Window cells as (row-major, column-major) offsets.
            var window: [(Int, Int)] = [(0, 0)]
            for d in 0..<n {
                window = window.flatMap { w in cells[d][position[d]].map { (w.0 + $0 * rowStrides[d], w.1 + $0 * columnStrides[d]) } }
            }
            for p in 0..<planes {
                var best: Float?, index = -1
                for (row, column) in window where best == nil || x.data[p * plane + row] > best! {
                    best = x.data[p * plane + row]
                    index = p * plane + (columnMajor ? column : row)
                }
                result[p * outPlane + k] = Int64(index)
            }
        }
        return IntArray(shape: output, data: result)
    }

    func backward(laidOut g: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        guard let dy = g[0], let input = inputs.first ?? nil else { return [:] }
        if try includePadCeilWindows(input.shape) == nil {
            return [0: .laidOut(try backwardKernel(for: input.kernelInput).backward(dy.kernelInput))]
        }
        return try rowMajorBackward(g, inputs: inputs, outputs: outputs, wanted: wanted)
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node)
        if let (_, taps, counts) = try includePadCeilWindows(x.shape) {
            let plane = x.shape.dropFirst(2).reduce(1, *), planes = x.shape[0] * x.shape[1]
            var dx = Tensor.zeros(x.shape)
            for p in 0..<planes { for (k, t) in taps.enumerated() {
                let d = dy.data[p * taps.count + k] / counts[k]
                for offset in t { dx.data[p * plane + offset] += d }
            } }
            return [0: dx]
        }
        return [0: try backwardKernel(for: .plain(x)).backward(dy)]
    }
}

/// Mean or max over all spatial positions, per sample and channel: [N, C, …] → [N, C, 1, …].
final class GlobalPool: Operator {
    let node: Node
    let isMax: Bool
    init(node: Node, max: Bool) {
        self.node = node
        isMax = max
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        let x = try floatInput(inputs, 0, node)
        guard x.rank >= 3 else { throw EngineError("node '\(node.name)' (\(node.opType)): input \(x.shape) has no spatial axes") }
        let planes = x.shape[0] * x.shape[1], size = x.count / max(planes, 1)
        var out = [Float](repeating: 0, count: planes)
        x.data.withUnsafeBufferPointer { v in
            for p in 0..<planes {
                let plane = UnsafeBufferPointer(rebasing: v[(p * size)..<((p + 1) * size)])
                out[p] = isMax ? (plane.max() ?? 0) : plane.reduce(0, +) / Float(size)
            }
        }
        return [.float(Tensor(shape: [x.shape[0], x.shape[1]] + Array(repeating: 1, count: x.rank - 2), data: out))]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard let dy = g[0], case .float(let y) = outputs[0] else { return [:] }
        let x = try floatInput(inputs, 0, node)
        let planes = x.shape[0] * x.shape[1], size = x.count / max(planes, 1)
        var dx = Tensor.zeros(x.shape)
        for p in 0..<planes {
            for i in 0..<size {
                if isMax {
                    if x.data[p * size + i] == y.data[p] { dx.data[p * size + i] = dy.data[p] }
                } else {
                    dx.data[p * size + i] = dy.data[p] / Float(size)
                }
            }
        }
        return [0: dx]
    }
}
