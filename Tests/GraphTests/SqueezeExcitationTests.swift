// Tests of squeeze-and-excitation blocks: per-channel means and scales computed where the activations lie.
import Testing
@testable import Graph
@testable import Tensor

/// EfficientNet's block in small: a SiLU'd convolution, its per-channel mean through two 1×1 convolutions
/// and a sigmoid, the activation scaled per channel by the result, and a global average pool at the end.
func squeezeExcitationBlock(channels c: Int = 32) -> Graph {
    var initializers = SeededInitializers(seed: 500)
    func weight(_ name: String, _ shape: [Int]) -> String { initializers.weight(name, shape) }
    let spatial: [String: Attribute] = ["axes": .ints([2, 3]), "keepdims": .int(1)]
    let nodes = [
        Node(name: "stem", opType: "Conv", inputs: ["input", weight("w0", [c, 3, 3, 3]), weight("b0", [c])], outputs: ["x"],
             attributes: ["pads": .ints([1, 1, 1, 1])]),
        Node(name: "gate", opType: "Sigmoid", inputs: ["x"], outputs: ["g"]),
        Node(name: "silu", opType: "Mul", inputs: ["x", "g"], outputs: ["a"]),
        Node(name: "squeeze", opType: "ReduceMean", inputs: ["a"], outputs: ["m"], attributes: spatial),
        Node(name: "reduce", opType: "Conv", inputs: ["m", weight("w1", [c / 4, c, 1, 1]), weight("b1", [c / 4])], outputs: ["r"]),
        Node(name: "relu", opType: "Relu", inputs: ["r"], outputs: ["rr"]),
        Node(name: "expand", opType: "Conv", inputs: ["rr", weight("w2", [c, c / 4, 1, 1]), weight("b2", [c])], outputs: ["e"]),
        Node(name: "excite", opType: "Sigmoid", inputs: ["e"], outputs: ["s"]),
        Node(name: "scale", opType: "Mul", inputs: ["a", "s"], outputs: ["scaled"]),
        Node(name: "project", opType: "Conv", inputs: ["scaled", weight("w3", [c, c, 1, 1])], outputs: ["y"]),
        Node(name: "pool", opType: "ReduceMean", inputs: ["y"], outputs: ["features"], attributes: ["axes": .ints([2, 3]), "keepdims": .int(0)]),
    ]
    return Graph(nodes: nodes, inputs: [ValueInfo(name: "input", type: .float, shape: [.symbolic("batch"), .fixed(3), .fixed(9), .fixed(7)])],
                 outputs: [ValueInfo(name: "features", type: .float, shape: nil)], initializers: initializers.values)
}

@Suite struct SqueezeExcitationTests {
    /// A [N, C, H, W] tensor in channel blocks of 16.
    private func blocked(_ t: Tensor) throws -> DNNLTensor {
        let layout = try #require(try DNNLLayout.channelBlocked(t.shape))
        let result = try DNNLTensor(shape: t.shape, layout: layout)
        try LayoutConformer(shape: t.shape, layout: layout).write(.plain(t), into: result.memory)
        return result
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }

    @Test func theBlockAgreesWithThePlainPathAndRepeatsBitForBit() throws {
        let model = try Model(graph: squeezeExcitationBlock())
        let fast = try model.encoder(outputs: ["features"]), plain = try model.encoder(outputs: ["features"], fusing: false)
        plain.plainValuesOnly = true
        for batch in [1, 3] {
            let x = randomTensor([batch, 3, 9, 7], seed: 510 + UInt64(batch), range: 0...1)
            let (y, y0) = (try fast.forward(x)[0], try plain.forward(x)[0])
            #expect(y.shape == [batch, 32] && relativeError(y, y0) < 1e-5)
            let seed = randomTensor(y.shape, seed: 520 + UInt64(batch))
            let g = try fast.pullback([seed])
            #expect(relativeError(g, try plain.pullback([seed])) < 1e-5)
            #expect(g.data.contains { $0 != 0 })
            #expect(try fast.forward(x)[0] == y && (try fast.pullback([seed])) == g)
        }
        fast.keepsEveryValue = true
        _ = try fast.forward(randomTensor([2, 3, 9, 7], seed: 530, range: 0...1))
        #expect(fast.laidOutValueNames.isSuperset(of: ["a", "y"]))     // what the two means read, in blocks
    }

    /// ReduceMean over a blocked input: the row-major path's bits forward, and its gradient back in the input's blocks.
    @Test func aMeanOverChannelBlocksHasTheRowMajorBitsAndAnswersInBlocks() throws {
        let node = Node(name: "squeeze", opType: "ReduceMean", inputs: ["a"], outputs: ["m"], attributes: ["axes": .ints([2, 3]), "keepdims": .int(1)])
        let (fast, plain) = (try OperatorSet.make(node), try OperatorSet.make(node))
        let x = randomTensor([2, 32, 5, 6], seed: 540)
        let xb = try blocked(x)
        let y = try fast.forwardAdapting([.laidOut(xb)])[0].floats, y0 = try plain.forward([.float(x)])[0].floats
        #expect(y.shape == [2, 32, 1, 1] && bits(y) == bits(y0))
        let dy = randomTensor(y.shape, seed: 541)
        let dx = try #require(try fast.backward(laidOut: [.float(dy)], inputs: [.released(shape: x.shape)], outputs: [.float(y)], wanted: [0])[0])
        guard case .laidOut(let d) = dx else { Issue.record("the gradient came back row-major"); return }
        #expect(d.sharesLayout(with: xb))
        let dx0 = try #require(try plain.backward([dy], inputs: [.released(shape: x.shape)], outputs: [.float(y0)], wanted: [0])[0])
        #expect(bits(d.plain()) == bits(dx0))
    }

    /// x · s with s per channel: s's gradient Σ dy·x is summed where dy and x lie, with the row-major path's bits.
    @Test func aPerChannelScalesGradientHasTheRowMajorBits() throws {
        let node = Node(name: "scale", opType: "Mul", inputs: ["a", "s"], outputs: ["scaled"])
        let (fast, plain) = (try OperatorSet.make(node), try OperatorSet.make(node))
        let x = randomTensor([3, 48, 4, 7], seed: 550), s = randomTensor([3, 48, 1, 1], seed: 551), dy = randomTensor(x.shape, seed: 552)
        let (xb, dyb) = (try blocked(x), try blocked(dy))
        let y = try fast.forwardAdapting([.laidOut(xb), .float(s)])[0]
        let g = try fast.backward(laidOut: [.laidOut(dyb)], inputs: [.laidOut(xb), .float(s)], outputs: [y], wanted: [0, 1])
        let g0 = try plain.backward([dy], inputs: [.float(x), .float(s)], outputs: [.float(y.floats)], wanted: [0, 1])
        let (ds, ds0) = (try #require(g[1]).floats, try #require(g0[1]))
        #expect(ds.shape == s.shape && bits(ds) == bits(ds0))
        #expect(bits(try #require(g[0]).floats) == bits(try #require(g0[0])))
    }
}
