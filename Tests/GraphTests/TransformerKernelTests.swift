// Gradient and determinism checks of the oneDNN paths transformers and modern CNNs take: softmax over
// [B, heads, T, T], layer normalization over [B, T, C]'s last axis, folded and batched matrix
// products, broadcasting binaries and eltwise functions.
import Foundation
import Testing
@testable import Tensor
@testable import Graph

/// A one-node graph whose input "x" sits at `position` among the node's inputs, the others initializers.
func nodeModel(_ op: String, x shape: [Int], at position: Int = 0, others: [Tensor], attributes: [String: Attribute] = [:]) throws -> Model {
    var initializers: [String: TensorValue] = [:]
    var inputs = others.indices.map { "c\($0)" }
    for (i, t) in others.enumerated() { initializers["c\(i)"] = constant(t) }
    inputs.insert("x", at: position)
    let graph = Graph(nodes: [Node(name: "n", opType: op, inputs: inputs, outputs: ["y"], attributes: attributes)],
                      inputs: [ValueInfo(name: "x", type: .float, shape: shape.map { .fixed($0) })],
                      outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: initializers)
    return try Model(graph: graph)
}

@Suite struct TransformerKernelTests {
    @Test func attentionSoftmaxOverTheLastAxis() throws {
        for op in ["Softmax", "LogSoftmax"] {
            let model = try singleNodeModel(op, input: [2, 3, 5, 5], attributes: ["axis": .int(-1)])
            try checkGradient(model, input: [2, 3, 5, 5], seed: 101)
            // Against the definition.
            let x = randomTensor([2, 3, 5, 5], seed: 102, range: -4...4)
            let y = try model.encoder(outputs: ["y"]).forward(x)[0]
            for row in 0..<30 {
                let v = x.data[(row * 5)..<(row * 5 + 5)].map(Double.init)
                let m = v.max()!, total = v.reduce(0) { $0 + exp($1 - m) }
                for k in 0..<5 {
                    let expected = op == "Softmax" ? exp(v[k] - m) / total : v[k] - m - log(total)
                    #expect(abs(Double(y.data[row * 5 + k]) - expected) < 1e-5)
                }
            }
        }
    }

    @Test func softmaxOverAMiddleAxis() throws {
        try checkGradient(try singleNodeModel("Softmax", input: [2, 4, 3, 2], attributes: ["axis": .int(1)]), input: [2, 4, 3, 2], seed: 103)
    }

    @Test func layerNormalizationOverTheLastAxis() throws {
        let c = 8
        let scale = randomTensor([c], seed: 104, range: 0.5...1.5), bias = randomTensor([c], seed: 105)
        let model = try singleNodeModel("LayerNormalization", input: [2, 5, c], attributes: ["axis": .int(-1), "epsilon": .float(1e-5)],
                                        extra: [constant(scale), constant(bias)])
        try checkGradient(model, input: [2, 5, c], seed: 106)
        // Against the definition, and the Mean / InvStdDev outputs.
        let x = randomTensor([2, 5, c], seed: 107, range: -3...3)
        let y = try model.encoder(outputs: ["y"]).forward(x)[0]
        for row in 0..<10 {
            let v = x.data[(row * c)..<(row * c + c)].map(Double.init)
            let mean = v.reduce(0, +) / Double(c), variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(c)
            for k in 0..<c {
                let expected = (v[k] - mean) / (variance + 1e-5).squareRoot() * Double(scale.data[k]) + Double(bias.data[k])
                #expect(abs(Double(y.data[row * c + k]) - expected) < 1e-4)
            }
        }
        // Backward keeps the latest forward's statistics: after two forwards, the second one's gradient, bit for
        // bit what a fresh encoder computes, which is also what recomputing the statistics gives.
        let reused = try model.encoder(outputs: ["y"]), fresh = try model.encoder(outputs: ["y"])
        let other = randomTensor([2, 5, c], seed: 112, range: -1...5), seed = randomTensor([2, 5, c], seed: 113)
        _ = try reused.forward(other)
        _ = try reused.forward(x)
        _ = try fresh.forward(x)
        #expect(try reused.pullback([seed]).data == (try fresh.pullback([seed])).data)
        let k = try LayerNormKernel(rows: 10, size: c, epsilon: 1e-5)
        let (_, mean, variance) = try k.forward(x, scale: scale, shift: bias)
        #expect(try k.backward(seed, input: x, mean: mean, variance: variance, scale: scale).data == (try fresh.pullback([seed])).data)
        // Normalising the last two axes, a scale with a leading 1 and no bias.
        let wide = try singleNodeModel("LayerNormalization", input: [3, 4, 5], attributes: ["axis": .int(1)],
                                       extra: [constant(randomTensor([1, 4, 5], seed: 108, range: 0.5...1.5))])
        try checkGradient(wide, input: [3, 4, 5], seed: 109)
        // A scale broadcast over the normalised axes takes the general path.
        let broadcast = try singleNodeModel("LayerNormalization", input: [3, 4, 5], attributes: ["axis": .int(1)],
                                            extra: [constant(randomTensor([5], seed: 110, range: 0.5...1.5))])
        try checkGradient(broadcast, input: [3, 4, 5], seed: 111)
    }

    @Test func matrixProductsAsTransformersUseThem() throws {
        // ViT's tokens [T, B, C] times a weight: the batch axes fold into rows.
        try checkGradient(try nodeModel("MatMul", x: [5, 1, 4], others: [randomTensor([4, 6], seed: 112)]), input: [5, 1, 4], seed: 113)
        try checkGradient(try nodeModel("MatMul", x: [2, 3, 4], others: [randomTensor([1, 4, 6], seed: 114)]), input: [2, 3, 4], seed: 115)
        // Attention: batched products on both sides, the input as either operand.
        try checkGradient(try nodeModel("MatMul", x: [2, 3, 4, 5], others: [randomTensor([2, 3, 5, 4], seed: 116)]), input: [2, 3, 4, 5], seed: 117)
        try checkGradient(try nodeModel("MatMul", x: [2, 3, 5, 4], at: 1, others: [randomTensor([2, 3, 4, 5], seed: 118)]), input: [2, 3, 5, 4], seed: 119)
        // Transposed operands (strides, no copies).
        for (ta, tb) in [(1, 0), (0, 1), (1, 1)] {
            let w = randomTensor(tb == 1 ? [6, 4] : [4, 6], seed: 120)
            let shape = ta == 1 ? [4, 3] : [3, 4]
            try checkGradient(try nodeModel("Gemm", x: shape, others: [w, randomTensor([6], seed: 121)],
                                            attributes: ["transA": .int(ta), "transB": .int(tb)]), input: shape, seed: 122)
        }
    }

    @Test(arguments: ["Add", "Sub", "Mul", "Div"])
    func broadcastingBinariesEitherWay(op: String) throws {
        let positive: ClosedRange<Float> = 0.5...1.5
        // A bias [C] on [B, T, C], a per-row factor [T, 1], and the input as the broadcast operand.
        try checkGradient(try nodeModel(op, x: [2, 5, 8], others: [randomTensor([8], seed: 123, range: positive)]), input: [2, 5, 8], seed: 124)
        try checkGradient(try nodeModel(op, x: [2, 5, 8], others: [randomTensor([5, 1], seed: 125, range: positive)]), input: [2, 5, 8], seed: 126)
        try checkGradient(try nodeModel(op, x: [8], at: 1, others: [randomTensor([2, 5, 8], seed: 127, range: positive)]), input: [8], seed: 128,
                          range: positive)
        // Same shapes, and the result against the scalar loop, bit for bit.
        let a = randomTensor([3, 7, 9], seed: 129), b = randomTensor([7, 1], seed: 130, range: positive)
        let y = try nodeModel(op, x: [3, 7, 9], others: [b]).encoder(outputs: ["y"]).forward(a)[0]
        let operation: BinaryOperation = ["Add": .add, "Sub": .subtract, "Mul": .multiply, "Div": .divide][op]!
        #expect(y == (try a.applying(operation, b)))
    }

    @Test func eltwiseFunctionsAgreeWithTheirDefinitions() throws {
        let x = randomTensor([3, 1000], seed: 131, range: -5...5)
        for op in ["Sigmoid", "Tanh", "Exp", "Softplus", "HardSwish", "Gelu"] {
            let node = Node(name: "n", opType: op, inputs: ["x"], outputs: ["y"])
            let unary = try #require(try OperatorSet.make(node) as? Unary)
            #expect(unary.eltwise != nil)
            let y = try unary.forward([.float(x)])[0].floats
            for (got, expected) in zip(y.data, x.data.map(unary.function)) {
                #expect(abs(got - expected) <= 2e-6 * max(1, abs(expected)), "\(op)")
            }
        }
        try checkGradient(try singleNodeModel("Gelu", input: [4, 6], attributes: ["approximate": .string("tanh")]), input: [4, 6], seed: 132, range: -3...3)
        try checkGradient(try singleNodeModel("Gelu", input: [4, 6]), input: [4, 6], seed: 133, range: -3...3)
        try checkGradient(try singleNodeModel("Log", input: [4, 6]), input: [4, 6], seed: 134, range: 0.5...3)
    }

    /// A transformer block large enough for two threads in every kernel: the forward and the
    /// gradient are bit-identical between runs and between one and two threads.
    @Test func transformerBlockIsBitIdenticalAcrossThreadCounts() throws {
        let (b, t, c, h) = (4, 128, 96, 4)
        var nodes: [Node] = []
        var initializers: [String: TensorValue] = [:]
        func weight(_ name: String, _ shape: [Int], _ seed: UInt64, range: ClosedRange<Float> = -0.2...0.2) -> String {
            initializers[name] = constant(randomTensor(shape, seed: seed, range: range))
            return name
        }
        func ints(_ name: String, _ v: [Int]) -> String { initializers[name] = constantInts(v); return name }
        func node(_ op: String, _ inputs: [String], _ out: String, _ attributes: [String: Attribute] = [:]) {
            nodes.append(Node(name: out, opType: op, inputs: inputs, outputs: [out], attributes: attributes))
        }
        // Swin's roll of the tokens (a Concat of two Slices, run as one step).
        node("Slice", ["x", ints("from3", [3]), ints("toEnd", [t]), ints("tokenAxis", [1])], "tail")
        node("Slice", ["x", ints("from0", [0]), ints("to3", [3]), "tokenAxis"], "head")
        node("Concat", ["tail", "head"], "rolled", ["axis": .int(1)])
        node("LayerNormalization", ["rolled", weight("g", [c], 1, range: 0.5...1.5), weight("beta", [c], 2)], "ln", ["axis": .int(-1)])
        node("MatMul", ["ln", weight("wq", [c, c], 3)], "q0")
        node("MatMul", ["ln", weight("wk", [c, c], 4)], "k0")
        node("Reshape", ["q0", ints("heads", [b, t, h, c / h])], "q1")
        node("Reshape", ["k0", "heads"], "k1")
        node("Transpose", ["q1"], "q", ["perm": .ints([0, 2, 1, 3])])
        node("Transpose", ["k1"], "k", ["perm": .ints([0, 2, 1, 3])])
        node("Transpose", ["k"], "kt", ["perm": .ints([0, 1, 3, 2])])   // read by the product through strides
        node("MatMul", ["q", "kt"], "scores")
        node("Softmax", ["scores"], "attention", ["axis": .int(-1)])
        node("MatMul", ["attention", "q"], "mixed")
        node("Transpose", ["mixed"], "mixed1", ["perm": .ints([0, 2, 1, 3])])
        node("Reshape", ["mixed1", ints("tokens", [b, t, c])], "mixed2")
        node("Add", ["mixed2", "x"], "residual")
        node("MatMul", ["residual", weight("w1", [c, 4 * c], 5)], "h0")
        node("Add", ["h0", weight("b1", [4 * c], 6)], "h1")
        node("Gelu", ["h1"], "h2")
        node("MatMul", ["h2", weight("w2", [4 * c, c], 7)], "h3")
        node("Mul", ["h3", "residual"], "y")
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: [b, t, c].map { .fixed($0) })],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: initializers)
        let model = try Model(graph: graph)
        let x = randomTensor([b, t, c], seed: 8), seed = randomTensor([b, t, c], seed: 9)
        func run(threads: Int32?) throws -> (Tensor, Tensor) {
            try DNNLWork.run(on: threads) {
                let encoder = try model.encoder(outputs: ["y"])
                #expect(encoder.stepLabels.contains("Slice+Concat") && encoder.stepLabels.contains("Transpose+MatMul"))
                let y = try encoder.forward(x)[0]
                return (y, try encoder.pullback([seed]))
            }
        }
        let (y2, g2) = try run(threads: nil)
        let (y2again, g2again) = try run(threads: nil)
        let (y1, g1) = try run(threads: 1)
        #expect(y2 == y2again && g2 == g2again)
        #expect(y1 == y2)
        #expect(g1 == g2)
    }
}
