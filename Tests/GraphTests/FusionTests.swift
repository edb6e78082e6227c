/// Tests of the nodes the executor fuses: SiLU (Sigmoid then Mul), a MatMul with its bias, a Transpose read by a MatMul, Gathers of one tensor, a Concat of Slices.
import Testing
@testable import Graph
@testable import Tensor

@Suite struct FusionTests {
    /// x → MatMul(W) + b → SiLU → MatMul(W2) + b2 (the bias first, as some exporters write the Add),
    /// and a SiLU whose sigmoid another node also reads (not fused).
    static func model() throws -> Model {
        let weight = Weights()
        let nodes = [
            Node(name: "fc1", opType: "MatMul", inputs: ["x", weight("w1", [12, 16], 1)], outputs: ["h0"]),
            Node(name: "bias1", opType: "Add", inputs: ["h0", weight("b1", [16], 2)], outputs: ["h1"]),
            Node(name: "sigmoid", opType: "Sigmoid", inputs: ["h1"], outputs: ["s"]),
            Node(name: "silu", opType: "Mul", inputs: ["h1", "s"], outputs: ["h2"]),
            Node(name: "fc2", opType: "MatMul", inputs: ["h2", weight("w2", [16, 8], 3)], outputs: ["h3"]),
            Node(name: "bias2", opType: "Add", inputs: [weight("b2", [1, 1, 8], 4), "h3"], outputs: ["h4"]),
            Node(name: "sigmoid2", opType: "Sigmoid", inputs: ["h4"], outputs: ["t"]),
            Node(name: "silu2", opType: "Mul", inputs: ["t", "h4"], outputs: ["h5"]),
            Node(name: "gate", opType: "Add", inputs: ["h5", "t"], outputs: ["y"]),
        ]
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [.symbolic("batch"), .fixed(5), .fixed(12)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: weight.values)
        return try Model(graph: graph)
    }

    @Test func fusedPairsComputeWhatTheNodesDo() throws {
        let model = try Self.model()
        let fused = try model.encoder(outputs: ["y"]), plain = try model.encoder(outputs: ["y"], fusing: false)
        #expect(fused.stepLabels == ["MatMul+Add", "Sigmoid+Mul", "MatMul+Add", "Sigmoid", "Mul", "Add"])
        #expect(plain.stepLabels.count == 9)
        let x = randomTensor([3, 5, 12], seed: 5, range: -3...3), seed = randomTensor([3, 5, 8], seed: 6)
        let (y, y0) = (try fused.forward(x)[0], try plain.forward(x)[0])
        #expect(y.shape == [3, 5, 8] && largestDifference(y, y0) <= 1e-6)
        let (g, g0) = (try fused.pullback([seed]), try plain.pullback([seed]))
        #expect(largestDifference(g, g0) <= 1e-5 * max(1, g0.data.map(abs).max() ?? 0))
    }

    @Test func aFusedBiasGetsItsGradient() throws {
        let model = try Self.model()
        let fused = try model.encoder(outputs: ["y"]), plain = try model.encoder(outputs: ["y"], fusing: false)
        let x = randomTensor([2, 5, 12], seed: 7), seed = randomTensor([2, 5, 8], seed: 8)
        var gradients: [[String: Tensor]] = []
        for encoder in [fused, plain] {
            try encoder.trackGradients(of: ["b1", "b2", "w1"])
            _ = try encoder.forward(x)
            gradients.append(try encoder.parameterGradients([seed]))
        }
        for name in ["b1", "b2", "w1"] {
            let (a, b) = (try #require(gradients[0][name]), try #require(gradients[1][name]))
            #expect(a.shape == b.shape && largestDifference(a, b) <= 1e-5, "\(name)")
        }
    }

    /// Attention's q·kᵀ (the transpose made before q, so the pair must run at the product's place), a
    /// transposed A (batched, not folded), a transposed matrix B (folded into one product), and a
    /// transpose that also feeds another node or moves other axes (not fused).
    static func transposeModel() throws -> Model {
        let weight = Weights()
        let nodes = [
            Node(name: "key", opType: "MatMul", inputs: ["x", weight("wk", [6, 5], 1)], outputs: ["k"]),
            Node(name: "keyT", opType: "Transpose", inputs: ["k"], outputs: ["kT"], attributes: ["perm": .ints([0, 2, 1])]),
            Node(name: "query", opType: "MatMul", inputs: ["x", weight("wq", [6, 5], 2)], outputs: ["q"]),
            Node(name: "scores", opType: "MatMul", inputs: ["q", "kT"], outputs: ["s"]),
            Node(name: "xT", opType: "Transpose", inputs: ["x"], outputs: ["xt"], attributes: ["perm": .ints([0, 2, 1])]),
            Node(name: "mix", opType: "MatMul", inputs: ["xt", weight("wm", [4, 3], 3)], outputs: ["m"]),
            Node(name: "value", opType: "MatMul", inputs: ["x", weight("wv", [6, 4], 4)], outputs: ["v"]),
            Node(name: "mean", opType: "ReduceMean", inputs: ["v"], outputs: ["v0"], attributes: ["axes": .ints([0]), "keepdims": .int(0)]),
            Node(name: "vT", opType: "Transpose", inputs: ["v0"], outputs: ["woT"], attributes: ["perm": .ints([1, 0])]),
            Node(name: "out", opType: "MatMul", inputs: ["s", "woT"], outputs: ["o"]),
            Node(name: "moved", opType: "Transpose", inputs: ["m"], outputs: ["mt"], attributes: ["perm": .ints([1, 0, 2])]),
            Node(name: "both", opType: "MatMul", inputs: ["mt", "mt2"], outputs: ["p"]),
            Node(name: "shared", opType: "Transpose", inputs: ["m"], outputs: ["mt2"], attributes: ["perm": .ints([1, 2, 0])]),
        ]
        var ordered = nodes
        ordered.swapAt(11, 12)   // "shared" before "both"
        ordered.append(Node(name: "reuse", opType: "Add", inputs: ["mt2", "mt2"], outputs: ["r"]))
        let graph = Graph(nodes: ordered, inputs: [ValueInfo(name: "x", type: .float, shape: [.symbolic("batch"), .fixed(4), .fixed(6)])],
                          outputs: [ValueInfo(name: "o", type: .float, shape: nil), ValueInfo(name: "p", type: .float, shape: nil),
                                    ValueInfo(name: "r", type: .float, shape: nil)], initializers: weight.values)
        return try Model(graph: graph)
    }

    @Test func aTransposeReadByAProductIsReadThroughStrides() throws {
        let model = try Self.transposeModel()
        let fused = try model.encoder(outputs: ["o", "p", "r"]), plain = try model.encoder(outputs: ["o", "p", "r"], fusing: false)
        #expect(fused.stepLabels == ["MatMul", "MatMul", "Transpose+MatMul", "Transpose+MatMul", "MatMul", "ReduceMean", "Transpose+MatMul",
                                     "Transpose", "Transpose", "MatMul", "Add"])
        let x = randomTensor([3, 4, 6], seed: 9, range: -2...2)
        let (y, y0) = (try fused.forward(x), try plain.forward(x))
        #expect(y.map(\.shape) == [[3, 4, 4], [6, 3, 3], [6, 3, 3]] && y.map(\.shape) == y0.map(\.shape))
        for (a, b) in zip(y, y0) { #expect(largestDifference(a, b) <= 1e-5) }
        let seeds = y.enumerated().map { i, t in randomTensor(t.shape, seed: 20 + UInt64(i)) }
        let (g, g0) = (try fused.pullback(seeds), try plain.pullback(seeds))
        #expect(g.shape == x.shape && largestDifference(g, g0) <= 1e-5 * max(1, g0.data.map(abs).max() ?? 0))
        #expect(g0.data.contains { $0 != 0 })
        var gradients: [[String: Tensor]] = []
        for encoder in [fused, plain] {
            try encoder.trackGradients(of: ["wk", "wv", "wm"])
            _ = try encoder.forward(x)
            gradients.append(try encoder.parameterGradients(seeds))
        }
        for name in ["wk", "wv", "wm"] {
            let (a, b) = (try #require(gradients[0][name]), try #require(gradients[1][name]))
            #expect(a.shape == b.shape && largestDifference(a, b) <= 1e-5 * max(1, b.data.map(abs).max() ?? 0), "\(name)")
        }
    }

    /// A fused Transpose whose permutation does not fit its input's rank is refused, as the Transpose is.
    @Test func aFusedTransposeOfTheWrongRankIsRefused() throws {
        let weight = Weights()
        let nodes = [Node(name: "flip", opType: "Transpose", inputs: ["x"], outputs: ["xt"], attributes: ["perm": .ints([1, 0])]),
                     Node(name: "product", opType: "MatMul", inputs: [weight("w", [3, 2], 1), "xt"], outputs: ["y"])]
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(2), .fixed(4), .fixed(3)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: weight.values)
        for fusing in [true, false] {
            let encoder = try Model(graph: graph).encoder(outputs: ["y"], fusing: fusing)
            #expect(encoder.stepLabels == (fusing ? ["Transpose+MatMul"] : ["Transpose", "MatMul"]))
            #expect(throws: EngineError.self) { try encoder.forward(randomTensor([2, 4, 3], seed: 1)) }
        }
    }

    /// Three Gathers of x along axis 1 by constant indices (a scalar twice, a repeated pair), one along
    /// axis 0 and one by a computed index: the first three run as one step, whose gradient sums all.
    @Test func gathersOfOneTensorRunAsOneStep() throws {
        let scalar = { (i: Int64) in TensorValue(type: .int64, shape: [], storage: .integers([i])) }
        let nodes = [
            Node(name: "g0", opType: "Gather", inputs: ["x", "i0"], outputs: ["a"], attributes: ["axis": .int(1)]),
            Node(name: "shape", opType: "Shape", inputs: ["x"], outputs: ["s"]),
            Node(name: "pick", opType: "Gather", inputs: ["s", "i1"], outputs: ["c"], attributes: ["axis": .int(0)]),
            Node(name: "sub", opType: "Sub", inputs: ["c", "one"], outputs: ["last"]),
            Node(name: "g1", opType: "Gather", inputs: ["x", "i2"], outputs: ["b"], attributes: ["axis": .int(1)]),
            Node(name: "product", opType: "Mul", inputs: ["a", "b"], outputs: ["p"]),
            Node(name: "g2", opType: "Gather", inputs: ["x", "pair"], outputs: ["q"], attributes: ["axis": .int(1)]),
            Node(name: "rows", opType: "Gather", inputs: ["x", "i0"], outputs: ["r"], attributes: ["axis": .int(0)]),
            Node(name: "computed", opType: "Gather", inputs: ["x", "last"], outputs: ["t"], attributes: ["axis": .int(1)]),
        ]
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(2), .fixed(3), .fixed(4)])],
                          outputs: ["p", "q", "r", "t"].map { ValueInfo(name: $0, type: .float, shape: nil) },
                          initializers: ["i0": scalar(0), "i1": scalar(1), "i2": scalar(2), "one": constantInts([1]), "pair": constantInts([2, 2])])
        let model = try Model(graph: graph)
        let fused = try model.encoder(outputs: ["p", "q", "r", "t"]), plain = try model.encoder(outputs: ["p", "q", "r", "t"], fusing: false)
        #expect(fused.stepLabels.filter { $0.hasPrefix("Gather") }.sorted() == ["Gather", "Gather", "Gather", "Gather×3"])
        let x = randomTensor([2, 3, 4], seed: 11, range: -2...2)
        let (y, y0) = (try fused.forward(x), try plain.forward(x))
        #expect(y.map(\.shape) == [[2, 4], [2, 2, 4], [3, 4], [2, 1, 4]] && y.map(\.shape) == y0.map(\.shape))
        for (a, b) in zip(y, y0) { #expect(a.data == b.data) }
        let seeds = y.enumerated().map { i, t in randomTensor(t.shape, seed: 30 + UInt64(i)) }
        let (g, g0) = (try fused.pullback(seeds), try plain.pullback(seeds))
        #expect(g.shape == x.shape && largestDifference(g, g0) <= 1e-6)
        // Row 2 of every sample is picked by g1 (times a), twice by g2, and by the computed index.
        #expect(abs(g0.data[8] - (seeds[0].data[0] * x.data[0] + seeds[1].data[0] + seeds[1].data[4] + seeds[3].data[0] + seeds[2].data[8])) <= 1e-5)
        // An index out of range is reported with the Gather it belongs to, not the group's first.
        let bad = Graph(nodes: [Node(name: "first", opType: "Gather", inputs: ["x", "i0"], outputs: ["a"], attributes: ["axis": .int(1)]),
                                Node(name: "second", opType: "Gather", inputs: ["x", "i7"], outputs: ["b"], attributes: ["axis": .int(1)])],
                        inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(2), .fixed(3), .fixed(4)])],
                        outputs: ["a", "b"].map { ValueInfo(name: $0, type: .float, shape: nil) }, initializers: ["i0": scalar(0), "i7": scalar(7)])
        let badEncoder = try Model(graph: bad).encoder(outputs: ["a", "b"])
        #expect(badEncoder.stepLabels == ["Gather×2"])
        #expect(throws: EngineError.self) { try badEncoder.forward(x) }
        do { _ = try badEncoder.forward(x) } catch {
            #expect("\(error)" == "node 'second' (Gather): index 7 is out of range for axis of length 3")
        }
    }

    /// q, k and v out of one packed projection (Gathers along axis 0 by 0, 1 and 2, then a product): each
    /// index picked once, so the group's gradient is the three gradients copied into place, with the plain
    /// path's values.
    @Test func gathersThatPickEachIndexOnceCopyTheirGradientsIntoPlace() throws {
        let scalar = { (i: Int64) in TensorValue(type: .int64, shape: [], storage: .integers([i])) }
        let nodes = [
            Node(name: "q", opType: "Gather", inputs: ["x", "i0"], outputs: ["q"], attributes: ["axis": .int(0)]),
            Node(name: "k", opType: "Gather", inputs: ["x", "i1"], outputs: ["k"], attributes: ["axis": .int(0)]),
            Node(name: "v", opType: "Gather", inputs: ["x", "i2"], outputs: ["v"], attributes: ["axis": .int(0)]),
            Node(name: "qk", opType: "Mul", inputs: ["q", "k"], outputs: ["qk"]),
            Node(name: "out", opType: "Add", inputs: ["qk", "v"], outputs: ["y"]),
        ]
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(3), .fixed(4), .fixed(5)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)],
                          initializers: ["i0": scalar(0), "i1": scalar(1), "i2": scalar(-1)])
        let model = try Model(graph: graph)
        let fused = try model.encoder(outputs: ["y"]), plain = try model.encoder(outputs: ["y"], fusing: false)
        #expect(fused.stepLabels.contains("Gather×3"))
        let x = randomTensor([3, 4, 5], seed: 13, range: -2...2)
        #expect(try fused.forward(x)[0].data == (try plain.forward(x)[0]).data)
        let seed = randomTensor([4, 5], seed: 14)
        let (g, g0) = (try fused.pullback([seed]), try plain.pullback([seed]))
        #expect(g.shape == x.shape && g.data == g0.data)
        // dq = seed·k, dk = seed·q, dv = seed, each in its own slab of x's gradient.
        for i in 0..<20 {
            #expect(g.data[i] == seed.data[i] * x.data[20 + i] && g.data[20 + i] == seed.data[i] * x.data[i] && g.data[40 + i] == seed.data[i])
        }
        // Picks that overlap or leave an index out are refused (their gradients add up instead).
        let slab = Tensor(shape: [1, 2], data: [1, 2])
        let picks = { (p: [Int]) in AxisPicks(outer: 1, length: 2, inner: 2, picks: p) }
        #expect(AxisPicks.placedBack([(picks([0]), slab), (picks([0]), slab)], shape: [2, 2]) == nil)
        #expect(AxisPicks.placedBack([(picks([1]), slab)], shape: [2, 2]) == nil)
        #expect(AxisPicks.placedBack([(picks([1]), slab), (picks([0]), Tensor(shape: [1, 2], data: [3, 4]))], shape: [2, 2])?.data == [3, 4, 1, 2])
    }

    /// torch.roll (two slices swapped), a reversal and a range, slices cutting another axis than the
    /// Concat's (the general path), and a slice the Concat reads twice (not fused).
    @Test func aConcatOfSlicesOfOneTensorRunsAsOneStep() throws {
        var initializers: [String: TensorValue] = [:]
        var count = 0
        func slice(_ starts: [Int], _ ends: [Int], _ axes: [Int], _ steps: [Int]? = nil) -> Node {
            count += 1
            let names = ["s", "e", "a", "p"].map { "\($0)\(count)" }
            for (name, v) in zip(names, [starts, ends, axes] + (steps.map { [$0] } ?? [])) { initializers[name] = constantInts(v) }
            return Node(name: "slice\(count)", opType: "Slice", inputs: ["x"] + names.prefix(steps == nil ? 3 : 4), outputs: ["t\(count)"])
        }
        let pieces = [slice([3], [100], [1]), slice([0], [3], [1]), slice([0], [2], [2]), slice([1], [3], [2]),
                      slice([-1], [-100], [1], [-1]), slice([1], [3], [1]), slice([0], [1], [1])]
        func concat(_ name: String, _ parts: [Int]) -> Node {
            Node(name: name, opType: "Concat", inputs: parts.map { "t\($0)" }, outputs: [name], attributes: ["axis": .int(1)])
        }
        let nodes = pieces + [concat("roll", [1, 2]), concat("cut", [3, 4]), concat("mirror", [5, 6]), concat("twice", [7, 7])]
        let outputs = ["roll", "cut", "mirror", "twice"]
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(2), .fixed(5), .fixed(3)])],
                          outputs: outputs.map { ValueInfo(name: $0, type: .float, shape: nil) }, initializers: initializers)
        let model = try Model(graph: graph)
        let fused = try model.encoder(outputs: outputs), plain = try model.encoder(outputs: outputs, fusing: false)
        #expect(fused.stepLabels == ["Slice", "Slice+Concat", "Slice+Concat", "Slice+Concat", "Concat"])
        let x = randomTensor([2, 5, 3], seed: 12, range: -2...2)
        let (y, y0) = (try fused.forward(x), try plain.forward(x))
        #expect(y.map(\.shape) == [[2, 5, 3], [2, 10, 2], [2, 7, 3], [2, 2, 3]] && y.map(\.shape) == y0.map(\.shape))
        for (a, b) in zip(y, y0) { #expect(a.data == b.data) }
        #expect(y[0].data[0] == x.data[9] && y[0].data[6] == x.data[0])   // the roll: rows 3, 4, 0, 1, 2
        let seeds = y.enumerated().map { i, t in randomTensor(t.shape, seed: 40 + UInt64(i)) }
        let (g, g0) = (try fused.pullback(seeds), try plain.pullback(seeds))
        #expect(g.shape == x.shape && largestDifference(g, g0) <= 1e-6)
        // x[0, 1, 0]: row 1 is the roll's row 3, the cut's row 1 (column 0 of the first part), the mirror's rows 3 and 5.
        let expected = seeds[0].data[9] + seeds[1].data[2] + seeds[2].data[9] + seeds[2].data[15]
        #expect(abs(g0.data[3] - expected) <= 1e-6)
    }
}

/// Random constant weights for the test graphs, by name.
final class Weights {
    var values: [String: TensorValue] = [:]
    /// Adds a weight of `shape`, uniform in ±0.5 from `seed`, and returns its name.
    func callAsFunction(_ name: String, _ shape: [Int], _ seed: UInt64) -> String {
        values[name] = constant(randomTensor(shape, seed: seed, range: -0.5...0.5))
        return name
    }
}

func largestDifference(_ a: Tensor, _ b: Tensor) -> Float { zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0 }
