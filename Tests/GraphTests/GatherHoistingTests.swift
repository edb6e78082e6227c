/// Tests of moving a Gather of one index above the row-wise operators before it (ViT's class token read after the last block).
import Testing
@testable import Graph
@testable import Tensor

@Suite struct GatherHoistingTests {
    /// The tail of a ViT on [batch, 5, 8] tokens: a Transpose pair (the export's sequence-first attention), a residual Add,
    /// LayerNorm, an MLP (MatMul + bias, GELU, MatMul + bias), a second residual Add that reads the first's output again,
    /// the final LayerNorm, and token 0 taken. With `declared`, every intermediate's shape is declared, as `torch.onnx.export` does.
    static func model(declared: Bool = true) throws -> Model {
        let weight = Weights()
        let nodes = [
            Node(name: "toSequence", opType: "Transpose", inputs: ["x"], outputs: ["t"], attributes: ["perm": .ints([1, 0, 2])]),
            Node(name: "toBatch", opType: "Transpose", inputs: ["t"], outputs: ["u"], attributes: ["perm": .ints([1, 0, 2])]),
            Node(name: "residual1", opType: "Add", inputs: ["u", "x"], outputs: ["r"]),
            Node(name: "norm1", opType: "LayerNormalization", inputs: ["r", weight("s1", [8], 1), weight("b1", [8], 2)], outputs: ["n"]),
            Node(name: "fc1", opType: "MatMul", inputs: ["n", weight("w1", [8, 16], 3)], outputs: ["h"]),
            Node(name: "bias1", opType: "Add", inputs: ["h", weight("c1", [16], 4)], outputs: ["hb"]),
            Node(name: "gelu", opType: "Gelu", inputs: ["hb"], outputs: ["g"]),
            Node(name: "fc2", opType: "MatMul", inputs: ["g", weight("w2", [16, 8], 5)], outputs: ["m"]),
            Node(name: "bias2", opType: "Add", inputs: ["m", weight("c2", [8], 6)], outputs: ["mb"]),
            Node(name: "residual2", opType: "Add", inputs: ["r", "mb"], outputs: ["r2"]),
            Node(name: "norm2", opType: "LayerNormalization", inputs: ["r2", weight("s2", [8], 7), weight("b2", [8], 8)], outputs: ["e"],
                 attributes: ["axis": .int(2)]),
            Node(name: "classToken", opType: "Gather", inputs: ["e", "zero"], outputs: ["features"], attributes: ["axis": .int(1)]),
        ]
        var initializers = weight.values
        initializers["zero"] = TensorValue(type: .int64, shape: [], storage: .integers([0]))
        let tokens: [Dimension] = [.symbolic("batch"), .fixed(5), .fixed(8)]
        var shapes: [String: [Dimension]] = [:]
        for name in ["u", "r", "n", "mb", "m", "r2", "e"] { shapes[name] = tokens }
        shapes["t"] = [.fixed(5), .symbolic("batch"), .fixed(8)]
        for name in ["h", "hb", "g"] { shapes[name] = [.symbolic("batch"), .fixed(5), .fixed(16)] }
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", type: .float, shape: tokens)],
                          outputs: [ValueInfo(name: "features", type: .float, shape: [.symbolic("batch"), .fixed(8)])], initializers: initializers,
                          valueInfo: declared ? shapes.mapValues { ValueInfo(name: "", type: .float, shape: $0) } : [:])
        return try Model(graph: graph)
    }

    @Test func theClassTokenIsTakenBeforeTheTail() throws {
        let model = try Self.model()
        let moved = try model.encoder(outputs: ["features"]), plain = try model.encoder(outputs: ["features"], fusing: false)
        // x's token 0 is taken first (the Gathers of x by the residual Add and by the Transpose pair are one), and
        // everything after runs on [batch, 8].
        #expect(moved.stepLabels == ["Gather", "Transpose", "Transpose", "Add", "LayerNormalization", "MatMul+Add", "Gelu", "MatMul+Add",
                                     "Add", "LayerNormalization"])
        #expect(plain.stepLabels.last == "Gather")
        let x = randomTensor([3, 5, 8], seed: 11, range: -2...2), seed = randomTensor([3, 8], seed: 12)
        let (y, y0) = (try moved.forward(x)[0], try plain.forward(x)[0])
        #expect(y.shape == [3, 8] && largestDifference(y, y0) <= 1e-5)
        let (g, g0) = (try moved.pullback([seed]), try plain.pullback([seed]))
        #expect(g.shape == [3, 5, 8] && largestDifference(g, g0) <= 1e-5 * max(1, g0.data.map(abs).max() ?? 0))
        // Tokens 1–4 get no gradient, as before.
        #expect((0..<3).allSatisfy { b in (8..<40).allSatisfy { g.data[b * 40 + $0] == 0 } })
    }

    @Test func nothingMovesWithoutDeclaredShapesOrAboveAnAskedValue() throws {
        let undeclared = try Self.model(declared: false).encoder(outputs: ["features"])
        #expect(undeclared.stepLabels.last == "Gather")
        #expect(undeclared.stepLabels.count == 10)   // 12 nodes, two MatMul+Add pairs
        // Asking for r2 too keeps it whole: the Gather moves above the final LayerNorm only.
        let model = try Self.model()
        let asked = try model.encoder(outputs: ["features", "r2"])
        #expect(asked.stepLabels.suffix(2) == ["Gather", "LayerNormalization"])
        let x = randomTensor([2, 5, 8], seed: 13)
        let outputs = try asked.forward(x), plain = try model.encoder(outputs: ["features", "r2"], fusing: false).forward(x)
        #expect(outputs[1].shape == [2, 5, 8] && largestDifference(outputs[0], plain[0]) <= 1e-5 && largestDifference(outputs[1], plain[1]) <= 1e-5)
    }
}
