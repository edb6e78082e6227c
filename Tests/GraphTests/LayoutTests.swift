import Testing
import Tensor
@testable import Graph

/// A residual block wide enough for oneDNN's blocked layouts (16+ channels):
/// Conv → BN → Relu → Conv → BN, plus a 1×1 Conv → BN shortcut, Add → Relu → MaxPool → Conv → Relu,
/// then a Flatten and a Gemm (a plain-layout operator at the end).
func residualBlock(channels c: Int = 16) -> Graph {
    var initializers = SeededInitializers(seed: 300)
    func weight(_ name: String, _ shape: [Int], range: ClosedRange<Float> = -0.3...0.3) -> String {
        initializers.weight(name, shape, range: range)
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
                 outputs: [ValueInfo(name: "logits", type: .float, shape: nil)], initializers: initializers.values)
}

/// Seeded random initializers for graphs built in tests: each `weight` draws from the next seed.
struct SeededInitializers {
    /// The initializers so far, by name.
    var values: [String: TensorValue] = [:]
    /// The seed the latest weight was drawn from.
    var seed: UInt64
    init(seed: UInt64) { self.seed = seed }

    /// Adds a weight of `shape`, uniform in `range`, and returns its name.
    mutating func weight(_ name: String, _ shape: [Int], range: ClosedRange<Float> = -0.3...0.3) -> String {
        seed += 1
        values[name] = constant(randomTensor(shape, seed: seed, range: range))
        return name
    }
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

/// A ConvNeXt-style block on 16 channels: a 1×1 Conv stem, then a depthwise Conv, a permute to channels-last,
/// LayerNorm, a Linear layer (MatMul + Add), a permute back, a per-channel scale, the residual sum and another
/// depthwise Conv. `backPermutation` is the permute back (ConvNeXt's is [0, 3, 1, 2]); `reshapeReads` adds a
/// Reshape (an operator that takes row-major values only) as a second reader of its result.
func convNeXtBlock(backPermutation: [Int] = [0, 3, 1, 2], reshapeReads: Bool = false) -> Graph {
    let c = 16
    var initializers = SeededInitializers(seed: 360)
    func weight(_ name: String, _ shape: [Int], range: ClosedRange<Float> = -0.3...0.3) -> String {
        initializers.weight(name, shape, range: range)
    }
    let depthwise: [String: Attribute] = ["pads": .ints([1, 1, 1, 1]), "group": .int(c)]
    var nodes = [
        Node(name: "stem", opType: "Conv", inputs: ["input", weight("ws", [c, 3, 1, 1]), weight("bs", [c])], outputs: ["x"]),
        Node(name: "dw", opType: "Conv", inputs: ["x", weight("wd", [c, 1, 3, 3]), weight("bd", [c])], outputs: ["d"], attributes: depthwise),
        Node(name: "toLast", opType: "Transpose", inputs: ["d"], outputs: ["t"], attributes: ["perm": .ints([0, 2, 3, 1])]),
        Node(name: "ln", opType: "LayerNormalization", inputs: ["t", weight("g", [c], range: 0.5...1.5), weight("beta", [c])], outputs: ["n"],
             attributes: ["axis": .int(-1)]),
        Node(name: "fc", opType: "MatMul", inputs: ["n", weight("wf", [c, c])], outputs: ["f"]),
        Node(name: "fcBias", opType: "Add", inputs: ["f", weight("bf", [c])], outputs: ["fb"]),
        Node(name: "toFirst", opType: "Transpose", inputs: ["fb"], outputs: ["back"], attributes: ["perm": .ints(backPermutation)]),
        Node(name: "scale", opType: "Mul", inputs: [weight("gamma", [c, 1, 1], range: 0.5...1.5), "back"], outputs: ["scaled"]),
        Node(name: "residual", opType: "Add", inputs: ["x", "scaled"], outputs: ["sum"]),
        Node(name: "dw2", opType: "Conv", inputs: ["sum", weight("wd2", [c, 1, 3, 3])], outputs: ["features"], attributes: depthwise),
    ]
    var outputs = [ValueInfo(name: "features", type: .float, shape: nil)]
    if reshapeReads {
        initializers.values["flat"] = constantInts([0, -1])
        nodes.append(Node(name: "flatten", opType: "Reshape", inputs: ["back", "flat"], outputs: ["flatBack"]))
        outputs.append(ValueInfo(name: "flatBack", type: .float, shape: nil))
    }
    return Graph(nodes: nodes,
                 inputs: [ValueInfo(name: "input", type: .float, shape: [.symbolic("batch"), .fixed(3), .fixed(6), .fixed(6)])],
                 outputs: outputs, initializers: initializers.values)
}

@Suite struct ChannelsFirstTransposeTests {
    /// Runs `graph`'s outputs on the fast path and on the plain one (no fusion, row-major values only):
    /// forward and input gradient must agree; returns the fast encoder for further checks.
    @discardableResult
    private func matchesPlain(_ graph: Graph, outputs: [String], seed: UInt64) throws -> Encoder {
        let model = try Model(graph: graph)
        let fast = try model.encoder(outputs: outputs)
        let plain = try model.encoder(outputs: outputs, fusing: false)
        plain.plainValuesOnly = true
        for batch in [1, 3] {
            let x = randomTensor([batch, 3, 6, 6], seed: seed + UInt64(batch), range: 0...1)
            let a = try fast.forward(x), b = try plain.forward(x)
            for (p, q) in zip(a, b) { #expect(relativeError(p, q) < 1e-5) }
            let seeds = a.enumerated().map { randomTensor($0.element.shape, seed: seed + 10 + UInt64($0.offset)) }
            #expect(relativeError(try fast.pullback(seeds), try plain.pullback(seeds)) < 1e-5)
        }
        return fast
    }

    @Test func permuteBackToChannelsFirstLeavesChannelBlocksForItsReaders() throws {
        let fast = try matchesPlain(convNeXtBlock(), outputs: ["features"], seed: 380)
        let x = randomTensor([2, 3, 6, 6], seed: 390, range: 0...1)
        fast.keepsEveryValue = true
        _ = try fast.forward(x)
        // The permute back, the scale and the residual sum stay in the convolutions' layout.
        #expect(fast.laidOutValueNames.isSuperset(of: ["back", "scaled", "sum", "x", "d"]))
        #expect(!fast.laidOutValueNames.contains("t"))        // LayerNorm reads row-major values
        // The same result, bit for bit, on a second run.
        let first = try fast.forward(x)[0], seed = randomTensor(first.shape, seed: 391)
        let gradient = try fast.pullback([seed])
        #expect(try fast.forward(x)[0] == first)
        #expect(try fast.pullback([seed]) == gradient)
    }

    @Test func aRowMajorReaderOrAnotherPermutationKeepsTheResultRowMajor() throws {
        let withReshape = try matchesPlain(convNeXtBlock(reshapeReads: true), outputs: ["features", "flatBack"], seed: 400)
        withReshape.keepsEveryValue = true
        _ = try withReshape.forward(randomTensor([2, 3, 6, 6], seed: 410, range: 0...1))
        #expect(!withReshape.laidOutValueNames.contains("back") && withReshape.laidOutValueNames.contains("x"))
        // [0, 3, 2, 1] also ends channels-first, but is not the channels-last → channels-first move.
        let other = try matchesPlain(convNeXtBlock(backPermutation: [0, 3, 2, 1]), outputs: ["features"], seed: 420)
        other.keepsEveryValue = true
        _ = try other.forward(randomTensor([2, 3, 6, 6], seed: 430, range: 0...1))
        #expect(!other.laidOutValueNames.contains("back") && other.laidOutValueNames.contains("x"))
    }
}
