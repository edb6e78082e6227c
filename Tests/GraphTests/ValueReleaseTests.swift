/// Tests that releasing forward values no backward step reads changes no gradient, bit for bit.
import Testing
@testable import Graph
@testable import Tensor

@Suite struct ValueReleaseTests {
    /// A small CNN stem and a transformer block in one graph: convolutions with and without a fused ReLU,
    /// a residual sum, a constant scale, reshapes, transposes, products by weights and between activations,
    /// softmax, layer normalisation, GELU, a slice and a concatenation.
    static func model() throws -> Model {
        var nodes: [Node] = []
        var initializers = SeededInitializers(seed: 400)
        func weight(_ name: String, _ shape: [Int], range: ClosedRange<Float> = -0.3...0.3) -> String {
            initializers.weight(name, shape, range: range)
        }
        func ints(_ name: String, _ v: [Int]) -> String { initializers.values[name] = constantInts(v); return name }
        func node(_ op: String, _ inputs: [String], _ out: String, _ attributes: [String: Attribute] = [:]) {
            nodes.append(Node(name: out, opType: op, inputs: inputs, outputs: [out], attributes: attributes))
        }
        let pads: [String: Attribute] = ["pads": .ints([1, 1, 1, 1])]
        node("Conv", ["x", weight("c1", [16, 3, 3, 3]), weight("c1b", [16])], "a", pads)
        node("Relu", ["a"], "a1")
        node("Conv", ["a1", weight("c2", [16, 16, 3, 3])], "b", pads)
        node("Add", ["b", "a1"], "r")
        node("Mul", ["r", weight("scale", [1, 16, 1, 1], range: 0.5...1.5)], "s")
        node("Reshape", ["s", ints("tokens", [2, 16, 64])], "t0")
        node("Transpose", ["t0"], "t", ["perm": .ints([0, 2, 1])])                     // [2, 64, 16]
        node("LayerNormalization", ["t", weight("g", [16], range: 0.5...1.5), weight("beta", [16])], "ln", ["axis": .int(-1)])
        node("MatMul", ["ln", weight("wq", [16, 16])], "q")
        node("MatMul", ["ln", weight("wk", [16, 16])], "k")
        node("Transpose", ["k"], "kt", ["perm": .ints([0, 2, 1])])
        node("MatMul", ["q", "kt"], "scores")
        node("Softmax", ["scores"], "attention", ["axis": .int(-1)])
        node("MatMul", ["attention", "q"], "mixed")
        node("Add", ["mixed", "t"], "residual")
        node("MatMul", ["residual", weight("w1", [16, 32])], "h0")
        node("Gelu", ["h0"], "h1")
        node("Slice", ["h1", ints("starts", [0]), ints("ends", [16]), ints("axes", [2])], "h2")
        node("Concat", ["h2", "residual"], "y", ["axis": .int(-1)])
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [2, 3, 8, 8].map { .fixed($0) })],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: initializers.values)
        return try Model(graph: graph)
    }

    @Test func releasedValuesChangeNoGradient() throws {
        let model = try Self.model()
        let x = randomTensor([2, 3, 8, 8], seed: 1), seed = randomTensor([2, 64, 32], seed: 2)
        let releasing = try model.encoder(outputs: ["y"])
        let keeping = try model.encoder(outputs: ["y"])
        keeping.keepsEveryValue = true
        let y = try releasing.forward(x)[0]
        #expect(y == (try keeping.forward(x)[0]))
        #expect(keeping.releasedValueCount == 0)
        // The sums, reshapes, transposes, the LayerNorm input's copy… go; what backward reads stays.
        #expect(releasing.releasedValueCount >= 6, "released \(releasing.releasedValueCount)")
        let g = try releasing.pullback([seed])
        #expect(g == (try keeping.pullback([seed])))
        // A second pullback after one forward (the Jacobian spectrum's loop) reads the same values.
        #expect(g == (try releasing.pullback([seed.map { -$0 }])).map { -$0 })
    }

    @Test func trackedWeightsKeepWhatTheirGradientsRead() throws {
        let model = try Self.model()
        let x = randomTensor([2, 3, 8, 8], seed: 3), seed = randomTensor([2, 64, 32], seed: 4)
        let names = ["c2", "wq", "w1", "g"]
        let releasing = try model.encoder(outputs: ["y"]), keeping = try model.encoder(outputs: ["y"])
        keeping.keepsEveryValue = true
        for encoder in [releasing, keeping] {
            try encoder.trackGradients(of: names)
            _ = try encoder.forward(x)
        }
        let released = releasing.releasedValueCount
        let (a, b) = (try releasing.parameterGradients([seed]), try keeping.parameterGradients([seed]))
        for name in names { #expect(a[name] == b[name], "\(name)") }
        // Tracking the weights keeps the activations their gradients read: fewer values go.
        let inputOnly = try model.encoder(outputs: ["y"])
        _ = try inputOnly.forward(x)
        #expect(released < inputOnly.releasedValueCount)
    }

    /// A standalone ReLU (not after a Conv) on a laid-out value, read by a Reshape (so its gradient
    /// arrives row-major, in another layout than the output's), and one on a row-major value.
    static func reluModel() throws -> Model {
        var initializers: [String: TensorValue] = [
            "w": constant(randomTensor([16, 3, 1, 1], seed: 440)), "scale": constant(randomTensor([1, 16, 1, 1], seed: 441, range: 0.5...1.5)),
            "flat": constantInts([0, -1]),
        ]
        initializers["shift"] = constant(randomTensor([16 * 25], seed: 442, range: -0.2...0.2))
        let nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"]),
            Node(name: "scaled", opType: "Mul", inputs: ["c", "scale"], outputs: ["m"]),
            Node(name: "relu", opType: "Relu", inputs: ["m"], outputs: ["r"]),
            Node(name: "flatten", opType: "Reshape", inputs: ["r", "flat"], outputs: ["f"]),
            Node(name: "shifted", opType: "Add", inputs: ["f", "shift"], outputs: ["p"]),
            Node(name: "relu2", opType: "Relu", inputs: ["p"], outputs: ["y"]),
        ]
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [2, 3, 5, 5].map { .fixed($0) })],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: initializers)
        return try Model(graph: graph)
    }

    @Test func aReLUKeepsAByteMaskNotItsOutput() throws {
        let model = try Self.reluModel()
        let encoder = try model.encoder(outputs: ["y"])
        let x = randomTensor([2, 3, 5, 5], seed: 443)
        _ = try encoder.forward(x)
        let kept = Set(encoder.lastFloatValues().map(\.name))
        #expect(!kept.contains("r") && !kept.contains("m") && !kept.contains("p"), "kept \(kept.sorted())")
        // The gradient: the same bits as with every value kept, and right by finite differences.
        let keeping = try model.encoder(outputs: ["y"])
        keeping.keepsEveryValue = true
        let y = try keeping.forward(x)[0]
        let seed = randomTensor(y.shape, seed: 444)
        let dp = try encoder.pullback([seed])
        #expect(dp == (try keeping.pullback([seed])))
        let values = Dictionary(uniqueKeysWithValues: keeping.lastFloatValues().map { ($0.name, $0.value) })
        let positive = values["y"]!.data.filter { $0 > 0 }.count
        #expect(positive > 0 && positive < y.count)      // both sides of the kink are exercised
        try checkGradient(model, output: "y", input: [2, 3, 5, 5], seed: 445, step: 1e-3)
    }

    @Test func aReLUOnAScalarTakesItsGradientFromTheMask() throws {
        var initializers = SeededInitializers(seed: 450)
        let graph = Graph(nodes: [
            Node(name: "sum", opType: "ReduceSum", inputs: ["x"], outputs: ["s"], attributes: ["keepdims": .int(0)]),
            Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["r"]),
            Node(name: "scale", opType: "Mul", inputs: ["r", initializers.weight("k", [3], range: 0.5...1.5)], outputs: ["y"]),
        ], inputs: [ValueInfo(name: "x", type: .float, shape: [2, 3].map { .fixed($0) })],
           outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: initializers.values)
        let encoder = try Model(graph: graph).encoder(outputs: ["y"])
        guard case .floats(let k)? = initializers.values["k"]?.storage else { Issue.record("no scale"); return }
        for (x, positive) in [(Tensor(shape: [2, 3], data: [1, 2, 3, -1, 0.5, 0.25]), true), (Tensor(shape: [2, 3], data: [-1, -2, 0, 1, 0.5, 0.25]), false)] {
            _ = try encoder.forward(x)
            let g = try encoder.pullback([Tensor(shape: [3], data: [1, 1, 1])])
            let expected: Float = positive ? k.reduce(0, +) : 0
            #expect(g == Tensor(shape: [2, 3], data: Array(repeating: expected, count: 6)))
        }
    }
}

