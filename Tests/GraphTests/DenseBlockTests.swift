// Tests of a DenseNet-style block run in the convolutions' layout: Concat, BatchNormalization and its fused ReLU never go row-major.
import Testing
@testable import Graph
@testable import Tensor

/// A DenseNet-style block on 16-channel growth: a stem Conv, then two layers that each normalise the
/// running concatenation (BatchNormalization, ReLU), convolve it and append the result (Concat), and
/// a final BatchNormalization, ReLU and mean over positions.
func denseBlock() -> Graph {
    var initializers = SeededInitializers(seed: 500)
    func weight(_ name: String, _ shape: [Int], range: ClosedRange<Float> = -0.3...0.3) -> String { initializers.weight(name, shape, range: range) }
    /// Normalisation of `c` channels: scale, bias, mean, variance (positive).
    func norm(_ name: String, _ input: String, _ c: Int, _ output: String) -> Node {
        Node(name: name, opType: "BatchNormalization",
             inputs: [input, weight(name + ".g", [c], range: 0.5...1.5), weight(name + ".b", [c]), weight(name + ".m", [c]), weight(name + ".v", [c], range: 0.5...2)],
             outputs: [output])
    }
    let same: [String: Attribute] = ["pads": .ints([1, 1, 1, 1])]
    let nodes = [
        Node(name: "stem", opType: "Conv", inputs: ["input", weight("w0", [16, 3, 3, 3])], outputs: ["a0"], attributes: same),
        norm("bn0", "a0", 16, "n0"),
        Node(name: "relu0", opType: "Relu", inputs: ["n0"], outputs: ["r0"]),
        Node(name: "conv1", opType: "Conv", inputs: ["r0", weight("w1", [16, 16, 1, 1])], outputs: ["a1"]),
        Node(name: "cat1", opType: "Concat", inputs: ["a0", "a1"], outputs: ["c1"], attributes: ["axis": .int(1)]),
        norm("bn1", "c1", 32, "n1"),
        Node(name: "relu1", opType: "Relu", inputs: ["n1"], outputs: ["r1"]),
        Node(name: "conv2", opType: "Conv", inputs: ["r1", weight("w2", [16, 32, 3, 3])], outputs: ["a2"], attributes: same),
        Node(name: "cat2", opType: "Concat", inputs: ["c1", "a2"], outputs: ["c2"], attributes: ["axis": .int(1)]),
        norm("bn2", "c2", 48, "n2"),
        Node(name: "relu2", opType: "Relu", inputs: ["n2"], outputs: ["r2"]),
        Node(name: "pool", opType: "ReduceMean", inputs: ["r2"], outputs: ["features"], attributes: ["axes": .ints([2, 3]), "keepdims": .int(0)]),
    ]
    return Graph(nodes: nodes, inputs: [ValueInfo(name: "input", type: .float, shape: [.symbolic("batch"), .fixed(3), .fixed(6), .fixed(6)])],
                 outputs: [ValueInfo(name: "features", type: .float, shape: nil)], initializers: initializers.values)
}

@Suite struct DenseBlockTests {
    @Test func theBlockStaysInTheConvolutionsLayoutAndComputesWhatRowMajorValuesDo() throws {
        let model = try Model(graph: denseBlock())
        let fast = try model.encoder(outputs: ["features"])
        let plain = try model.encoder(outputs: ["features"], fusing: false)
        plain.plainValuesOnly = true
        #expect(fast.stepLabels.filter { $0 == "BatchNormalization+Relu" }.count == 3)
        for batch in [1, 3] {
            let x = randomTensor([batch, 3, 6, 6], seed: 510 + UInt64(batch), range: 0...1)
            let y = try fast.forward(x)[0], y0 = try plain.forward(x)[0]
            // The same arithmetic element by element: the same bits.
            #expect(y.shape == [batch, 48] && y == y0)
            let seed = randomTensor(y.shape, seed: 520)
            let g = try fast.pullback([seed]), g0 = try plain.pullback([seed])
            #expect(relativeError(g, g0) < 1e-6)
        }
        fast.keepsEveryValue = true
        let x = randomTensor([2, 3, 6, 6], seed: 530, range: 0...1)
        let first = try fast.forward(x)[0]
        // The joins and the normalised activations are in the convolutions' layout, never row-major.
        #expect(fast.laidOutValueNames.isSuperset(of: ["a0", "a1", "c1", "a2", "c2", "r0", "r1"]))
        // The same bits on a second run.
        let seed = randomTensor(first.shape, seed: 531)
        let gradient = try fast.pullback([seed])
        #expect(try fast.forward(x)[0] == first)
        #expect(try fast.pullback([seed]) == gradient)
    }
}
