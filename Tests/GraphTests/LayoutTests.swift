import Testing
import Tensor
@testable import Graph

/// A residual block wide enough for oneDNN's blocked layouts (16+ channels):
/// Conv → BN → Relu → Conv → BN, plus a 1×1 Conv → BN shortcut, Add → Relu → MaxPool → Conv → Relu,
/// then a Flatten and a Gemm (a plain-layout operator at the end).
func residualBlock(channels c: Int = 16) -> Graph {
    var initializers: [String: TensorValue] = [:]
    var seed: UInt64 = 300
    func weight(_ name: String, _ shape: [Int], range: ClosedRange<Float> = -0.3...0.3) -> String {
        seed += 1
        initializers[name] = constant(randomTensor(shape, seed: seed, range: range))
        return name
    }
    func bn(_ name: String, _ x: String, _ y: String) -> Node {
        Node(name: name, opType: "BatchNormalization",
             inputs: [x, weight(name + ".g", [c], range: 0.5...1.5), weight(name + ".b", [c]), weight(name + ".m", [c]),
                      weight(name + ".v", [c], range: 0.5...2)],
             outputs: [y], attributes: ["epsilon": .float(1e-5)])
    }
    let pads: [String: Attribute] = ["pads": .ints([1, 1, 1, 1])]
    let nodes = [
        Node(name: "conv1", opType: "Conv", inputs: ["input", weight("w1", [c, 3, 3, 3]), weight("b1", [c])], outputs: ["c1"], attributes: pads),
        bn("bn1", "c1", "n1"),
        Node(name: "relu1", opType: "Relu", inputs: ["n1"], outputs: ["r1"]),
        Node(name: "conv2", opType: "Conv", inputs: ["r1", weight("w2", [c, c, 3, 3])], outputs: ["c2"], attributes: pads),
        bn("bn2", "c2", "n2"),
        Node(name: "shortcut", opType: "Conv", inputs: ["input", weight("ws", [c, 3, 1, 1])], outputs: ["cs"]),
        bn("bns", "cs", "ns"),
        Node(name: "add", opType: "Add", inputs: ["n2", "ns"], outputs: ["sum"]),
        Node(name: "relu2", opType: "Relu", inputs: ["sum"], outputs: ["r2"]),
        Node(name: "pool", opType: "MaxPool", inputs: ["r2"], outputs: ["p"], attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])]),
        Node(name: "conv3", opType: "Conv", inputs: ["p", weight("w3", [2 * c, c, 3, 3]), weight("b3", [2 * c])], outputs: ["c3"], attributes: pads),
        Node(name: "relu3", opType: "Relu", inputs: ["c3"], outputs: ["features"]),
        Node(name: "flatten", opType: "Flatten", inputs: ["features"], outputs: ["flat"]),
        Node(name: "fc", opType: "Gemm", inputs: ["flat", weight("fw", [5, 2 * c * 4 * 4], range: -0.05...0.05)], outputs: ["logits"],
             attributes: ["transB": .int(1)]),
    ]
    return Graph(nodes: nodes,
                 inputs: [ValueInfo(name: "input", type: .float, shape: [.symbolic("batch"), .fixed(3), .fixed(8), .fixed(8)])],
                 outputs: [ValueInfo(name: "logits", type: .float, shape: nil)], initializers: initializers)
}

/// Largest |a − b| relative to the largest |b|.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    #expect(a.shape == b.shape)
    let scale = max(b.data.map(abs).max() ?? 0, 1e-6)
    return zip(a.data, b.data).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

@Suite struct LayoutTests {
    @Test func batchNormalizationFoldsIntoTheConvolutionBeforeIt() throws {
        let folded = try Model(graph: residualBlock())
        let unfolded = try Model(graph: residualBlock(), foldBatchNormalization: false)
        #expect(!folded.liveNodes.contains { $0.opType == "BatchNormalization" })
        #expect(unfolded.liveNodes.filter { $0.opType == "BatchNormalization" }.count == 3)
        let x = randomTensor([2, 3, 8, 8], seed: 310, range: 0...1)
        // Outputs: the folded encoder against the unfolded graph's reference evaluation.
        let reference = try unfolded.evaluate(["input": TensorValue(type: .float, shape: x.shape, storage: .floats(x.data))])
        guard case .floats(let expected)? = reference["logits"]?.storage else { Issue.record("no reference output"); return }
        let foldedEncoder = try folded.encoder(outputs: ["logits"])
        let y = try foldedEncoder.forward(x)[0]
        #expect(relativeError(y, Tensor(shape: y.shape, data: expected)) < 1e-5)
        // Input gradients: folded against unfolded.
        let seed = randomTensor(y.shape, seed: 311)
        let unfoldedEncoder = try unfolded.encoder(outputs: ["logits"])
        _ = try unfoldedEncoder.forward(x)
        #expect(relativeError(try foldedEncoder.pullback([seed]), try unfoldedEncoder.pullback([seed])) < 1e-5)
    }

    @Test func modelInfoListsFusedAndFoldedNodes() throws {
        let info = try Model(graph: residualBlock()).info()
        #expect(info.tensors.filter { $0.operation == "Relu" }.count == 3)       // a row each, though fused when run
        #expect(!info.tensors.contains { $0.operation == "BatchNormalization" })
        let conv1 = info.tensors.first { $0.name == "n1" }                       // conv1 now makes bn1's output
        #expect(conv1?.operation == "Conv" && conv1?.parameters == 16 * 3 * 3 * 3 + 16 && conv1?.shape == [1, 16, 8, 8])
    }

    @Test func fusedConvolutionReLUGradientMatchesFiniteDifferences() throws {
        let model = try Model(graph: residualBlock())
        let encoder = try model.encoder(outputs: ["features"])
        #expect(encoder.stepLabels.filter { $0 == "Conv+Relu" }.count == 2)   // conv1 (BN folded) and conv3
        try checkGradient(model, output: "features", input: [2, 3, 8, 8], seed: 320, range: 0...1, step: 2e-4)
        try checkGradient(model, output: "logits", input: [1, 3, 8, 8], seed: 321, range: 0...1, step: 2e-4)
    }

    @Test func blockedLayoutChainsMatchPlainOperatorByOperator() throws {
        let model = try Model(graph: residualBlock(channels: 32))
        let propagated = try model.encoder(outputs: ["logits", "r2"])
        let plain = try model.encoder(outputs: ["logits", "r2"], fusing: false)
        plain.plainValuesOnly = true
        #expect(!plain.stepLabels.contains("Conv+Relu"))
        for batch in [1, 3] {
            let x = randomTensor([batch, 3, 8, 8], seed: 330 + UInt64(batch), range: 0...1)
            let a = try propagated.forward(x), b = try plain.forward(x)
            for (p, q) in zip(a, b) { #expect(relativeError(p, q) < 1e-5) }
            let seeds = a.enumerated().map { randomTensor($0.element.shape, seed: 340 + UInt64($0.offset)) }
            #expect(relativeError(try propagated.pullback(seeds), try plain.pullback(seeds)) < 1e-5)
        }
    }

    @Test func repeatedStepsReuseBuffersAndGiveTheSameResult() throws {
        let encoder = try Model(graph: residualBlock()).encoder(outputs: ["logits"])
        let x = randomTensor([2, 3, 8, 8], seed: 350, range: 0...1)
        let first = try encoder.forward(x)[0]
        let seed = randomTensor(first.shape, seed: 351)
        let gradient = try encoder.pullback([seed])
        for _ in 0..<3 {
            #expect(try encoder.forward(x)[0] == first)
            #expect(try encoder.pullback([seed]) == gradient)
        }
    }
}
