import Testing
import Tensor
@testable import Graph

/// A small CNN shaped like the bundled MNIST encoder.
/// Input [batch, 1, 12, 12] → features [batch, 8] → logits [batch, 3], with PyTorch's flatten pattern
/// (Shape → Gather → Unsqueeze → Concat → Reshape) so that shape subgraphs run too.
func smallCNN() -> Graph {
    let w1 = randomTensor([4, 1, 3, 3], seed: 100), b1 = randomTensor([4], seed: 101)
    let w2 = randomTensor([6, 4, 3, 3], seed: 102)
    let fw = randomTensor([8, 6 * 2 * 2], seed: 103), fb = randomTensor([8], seed: 104)
    let ow = randomTensor([3, 8], seed: 105), ob = randomTensor([3], seed: 106)
    return Graph(
        nodes: [
            Node(name: "conv1", opType: "Conv", inputs: ["input", "w1", "b1"], outputs: ["c1"], attributes: ["pads": .ints([1, 1, 1, 1])]),
            Node(name: "relu1", opType: "Relu", inputs: ["c1"], outputs: ["r1"]),
            Node(name: "pool1", opType: "MaxPool", inputs: ["r1"], outputs: ["p1"], attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])]),
            Node(name: "conv2", opType: "Conv", inputs: ["p1", "w2"], outputs: ["c2"]),
            Node(name: "relu2", opType: "Relu", inputs: ["c2"], outputs: ["r2"]),
            Node(name: "pool2", opType: "MaxPool", inputs: ["r2"], outputs: ["p2"], attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])]),
            Node(name: "shape", opType: "Shape", inputs: ["p2"], outputs: ["s"]),
            Node(name: "gather", opType: "Gather", inputs: ["s", "zero"], outputs: ["n"], attributes: ["axis": .int(0)]),
            Node(name: "unsq", opType: "Unsqueeze", inputs: ["n", "axes0"], outputs: ["n1"]),
            Node(name: "cat", opType: "Concat", inputs: ["n1", "minus1"], outputs: ["newshape"], attributes: ["axis": .int(0)]),
            Node(name: "flatten", opType: "Reshape", inputs: ["p2", "newshape"], outputs: ["flat"]),
            Node(name: "fc1", opType: "Gemm", inputs: ["flat", "fw", "fb"], outputs: ["f"], attributes: ["transB": .int(1)]),
            Node(name: "relu3", opType: "Relu", inputs: ["f"], outputs: ["features"]),
            Node(name: "fc2", opType: "Gemm", inputs: ["features", "ow", "ob"], outputs: ["logits"], attributes: ["transB": .int(1)]),
        ],
        inputs: [ValueInfo(name: "input", type: .float, shape: [.symbolic("batch"), .fixed(1), .fixed(12), .fixed(12)])],
        outputs: [ValueInfo(name: "logits", type: .float, shape: nil)],
        initializers: ["w1": constant(w1), "b1": constant(b1), "w2": constant(w2), "fw": constant(fw), "fb": constant(fb),
                       "ow": constant(ow), "ob": constant(ob),
                       "zero": TensorValue(type: .int64, shape: [], storage: .integers([0])),
                       "axes0": constantInts([0]), "minus1": constantInts([-1])])
}

@Suite struct ModelTests {
    @Test func wholeModelInputGradientAlongRandomDirections() throws {
        let model = try Model(graph: smallCNN())
        // ReLU and max make the model piecewise linear; a 2e-4 step rarely straddles a kink, and
        // float32 still resolves the difference quotient to about 1e-3 at this scale.
        try checkGradient(model, output: "logits", input: [3, 1, 12, 12], seed: 200, range: 0...1, step: 2e-4)
        try checkGradient(model, output: "features", input: [1, 1, 12, 12], seed: 201, range: 0...1, step: 2e-4)
    }

    @Test func severalOutputsAndBatchSizesShareOneEncoder() throws {
        let encoder = try Model(graph: smallCNN()).encoder(outputs: ["features", "logits"])
        for batch in [1, 4, 1] {
            let outputs = try encoder.forward(randomTensor([batch, 1, 12, 12], seed: 202, range: 0...1))
            #expect(outputs.map(\.shape) == [[batch, 8], [batch, 3]])
        }
    }

    @Test func batchSamplesAreIndependent() throws {
        let encoder = try Model(graph: smallCNN()).encoder(outputs: ["logits"])
        let batch = randomTensor([3, 1, 12, 12], seed: 203, range: 0...1)
        let together = try encoder.forward(batch)[0]
        for i in 0..<3 {
            let alone = try encoder.forward(Tensor(shape: [1, 1, 12, 12], data: batch.slice(i).data))[0]
            #expect(zip(alone.data, together.slice(i).data).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    @Test func prunesToTheRequestedTensor() throws {
        let model = try Model(graph: smallCNN())
        let encoder = try model.encoder(outputs: ["p1"])
        #expect(try encoder.forward(randomTensor([2, 1, 12, 12], seed: 204))[0].shape == [2, 4, 6, 6])
    }

    @Test func explainsBadRequests() throws {
        let model = try Model(graph: smallCNN())
        #expect { try model.encoder(outputs: ["featurez"]) } throws: { "\($0)".contains("did you mean 'features'") }
        #expect { try model.encoder(outputs: ["w1"]) } throws: { "\($0)".contains("does not depend on the input") }
        let encoder = try model.encoder(outputs: ["logits"])
        #expect { try encoder.forward(Tensor.zeros([1, 3, 12, 12])) } throws: { "\($0)".contains("expects shape [batch, 1, 12, 12], got [1, 3, 12, 12]") }
        #expect { try encoder.pullback([Tensor.zeros([1, 3])]) } throws: { "\($0)".contains("forward pass first") }
    }

    @Test func reportsEveryUnsupportedOperatorAtOnce() {
        var graph = smallCNN()
        graph.nodes.insert(Node(name: "weird1", opType: "NonMaxSuppression", inputs: ["input"], outputs: ["q"]), at: 0)
        graph.nodes.insert(Node(name: "weird2", opType: "Loop", inputs: ["input"], outputs: ["q2"]), at: 0)
        #expect { try Model(graph: graph) } throws: { error in
            let text = "\(error)"
            return text.contains("Loop") && text.contains("NonMaxSuppression") && text.contains("weird1") && text.contains("weird2")
        }
    }

    @Test func foldsConstantSubgraphs() throws {
        var graph = smallCNN()
        // A constant-only chain: folded at load, absent from the live nodes.
        graph.nodes.insert(Node(name: "double", opType: "Mul", inputs: ["fb", "two"], outputs: ["fb2"]), at: 0)
        graph.initializers["two"] = constant(Tensor(scalar: 2))
        graph.nodes[12].inputs[2] = "fb2"
        let model = try Model(graph: graph)
        #expect(!model.liveNodes.contains { $0.name == "double" })
        #expect(model.constants["fb2"] != nil)
        _ = try model.encoder(outputs: ["logits"]).forward(randomTensor([1, 1, 12, 12], seed: 205))
    }
}
