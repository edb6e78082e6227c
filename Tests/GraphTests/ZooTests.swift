// The operators the model-zoo sweep added (Mod, Not, Range, GatherND, ScatterND, Tile, Sin, Cos,
// BatchNormalization on batch statistics) and the gradient self-check.
import Testing
import Tensor
@testable import Graph

@Suite struct ZooOperatorTests {
    func ints(_ v: [Int64], _ shape: [Int]? = nil) -> TensorValue { TensorValue(type: .int64, shape: shape ?? [v.count], storage: .integers(v)) }

    /// Runs a one-node graph on constant inputs through the reference path.
    func evaluate(_ op: String, _ inputs: [TensorValue], attributes: [String: Attribute] = [:]) throws -> TensorValue {
        let names = inputs.indices.map { "i\($0)" }
        let graph = Graph(nodes: [Node(name: "n", opType: op, inputs: names, outputs: ["y"], attributes: attributes)],
                          inputs: zip(names, inputs).map { ValueInfo(name: $0, type: $1.type, shape: $1.shape.map { .fixed($0) }) },
                          outputs: [ValueInfo(name: "y", type: nil, shape: nil)], opsets: ["": 18])
        return try #require(try Model(graph: graph).evaluate(Dictionary(uniqueKeysWithValues: zip(names, inputs)))["y"])
    }

    @Test func modFollowsTheDivisorsSignOrTheDividends() throws {
        let a = ints([7, -7, 7, -7, 6]), b = ints([3, 3, -3, -3, 3])
        #expect(try evaluate("Mod", [a, b]).storage == .integers([1, 2, -2, -1, 0]))                     // Python's %
        #expect(try evaluate("Mod", [a, b], attributes: ["fmod": .int(1)]).storage == .integers([1, -1, 1, -1, 0]))   // C's fmod
        let x = TensorValue(type: .float, shape: [3], storage: .floats([5.5, -5.5, 2]))
        let y = TensorValue(type: .float, shape: [1], storage: .floats([2]))
        #expect(try evaluate("Mod", [x, y], attributes: ["fmod": .int(1)]).storage == .floats([1.5, -1.5, 0]))
        #expect(throws: EngineError.self) { try evaluate("Mod", [a, ints([0])]) }
    }

    @Test func modGradients() throws {
        // Away from the jumps: ∂/∂a = 1, ∂/∂b = −⌊a/b⌋, with b broadcast.
        let b = randomTensor([3, 1], seed: 40, range: 0.7...1.3)
        try checkGradient(try singleNodeModel("Mod", input: [2, 3, 4], attributes: ["fmod": .int(1)], extra: [constant(b)]),
                          input: [2, 3, 4], seed: 41, range: 0.1...3, step: 1e-3)
    }

    @Test func tileRepeatsEachAxisAndSumsTheCopiesGradients() throws {
        let x = TensorValue(type: .float, shape: [2, 2], storage: .floats([1, 2, 3, 4]))
        let tiled = try evaluate("Tile", [x, ints([2, 3])])
        #expect(tiled.shape == [4, 6])
        #expect(tiled.storage == .floats([1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4]))
        #expect(try evaluate("Tile", [ints([5, 6]), ints([2])]).storage == .integers([5, 6, 5, 6]))
        #expect(try evaluate("Tile", [x, ints([0, 1])]).shape == [0, 2])
        // XCiT's positional encoding tiles a [1, 1, 4, 8]-like grid over the batch: every copy's gradient sums.
        try checkGradient(try singleNodeModel("Tile", input: [1, 3, 2], extra: [ints([2, 1, 3])]), input: [1, 3, 2], seed: 43)
        for (repeats, message) in [([2], "1 repeats for an input of rank 2"), ([1, -1], "repeat -1 on axis 1 is negative"),
                                   ([1, Int64.max], "overflow")] {
            #expect { try evaluate("Tile", [x, ints(repeats)]) } throws: { "\($0)".contains(message) }
        }
    }

    @Test func batchStatisticsNormalization() throws {
        // NFNet's weight standardisation: each channel to mean 0, variance 1, then scale and bias.
        let x = TensorValue(type: .float, shape: [1, 2, 3], storage: .floats([1, 2, 3, 10, 10, 10]))
        let scale = TensorValue(type: .float, shape: [2], storage: .floats([2, 1])), bias = TensorValue(type: .float, shape: [2], storage: .floats([0, 5]))
        let zero = TensorValue(type: .float, shape: [2], storage: .floats([0, 0]))
        let y = try evaluate("BatchNormalization", [x, scale, bias, zero, zero], attributes: ["training_mode": .int(1), "epsilon": .float(1e-6)])
        guard case .floats(let v) = y.storage else { Issue.record("not floats"); return }
        let s = 2 * Float(1.5).squareRoot()   // scale 2 × 1/√(2/3); channel 1 is constant: its bias
        for (a, b) in zip(v, [-s, 0, s, 5, 5, 5]) { #expect(abs(a - b) < 1e-4) }
        let c = [randomTensor([3], seed: 44, range: 0.5...1.5), randomTensor([3], seed: 45), randomTensor([3], seed: 46), randomTensor([3], seed: 47, range: 0.5...1.5)]
        try checkGradient(try singleNodeModel("BatchNormalization", input: [2, 3, 4], attributes: ["training_mode": .int(1)], extra: c.map(constant)),
                          input: [2, 3, 4], seed: 48)
    }

    @Test func notAndRange() throws {
        let flags = TensorValue(type: .bool, shape: [3], storage: .bools([true, false, true]))
        #expect(try evaluate("Not", [flags]).storage == .integers([0, 1, 0]))   // output type undeclared: int64
        #expect(try evaluate("Range", [ints([1], []), ints([10], []), ints([3], [])]).storage == .integers([1, 4, 7]))
        #expect(try evaluate("Range", [ints([5], []), ints([1], []), ints([-2], [])]).storage == .integers([5, 3]))
        #expect(try evaluate("Range", [ints([5], []), ints([1], []), ints([2], [])]).shape == [0])
        let f = { (v: Float) in TensorValue(type: .float, shape: [], storage: .floats([v])) }
        #expect(try evaluate("Range", [f(0), f(1), f(0.25)]).storage == .floats([0, 0.25, 0.5, 0.75]))
        #expect(throws: EngineError.self) { try evaluate("Range", [ints([0], []), ints([3], []), ints([0], [])]) }
    }

    @Test func gatherNDWithRepeatedIndicesAccumulatesGradients() throws {
        let data = TensorValue(type: .float, shape: [2, 2], storage: .floats([0, 1, 2, 3]))
        #expect(try evaluate("GatherND", [data, ints([0, 0, 1, 1], [2, 2])]).storage == .floats([0, 3]))
        #expect(try evaluate("GatherND", [data, ints([1, 0], [2, 1])]).storage == .floats([2, 3, 0, 1]))
        // batch_dims = 1: each batch row picks from its own slice.
        #expect(try evaluate("GatherND", [data, ints([1, 0], [2, 1])], attributes: ["batch_dims": .int(1)]).storage == .floats([1, 2]))
        // An attention-bias table: every index read several times; the gradient must sum every read.
        let indices = ints([2, 0, 2, 2, 1, 0], [6, 1])
        try checkGradient(try singleNodeModel("GatherND", input: [3, 4], extra: [indices]), input: [3, 4], seed: 42)
    }

    @Test func scatterNDReplacesAndAdds() throws {
        let data = TensorValue(type: .float, shape: [4], storage: .floats([1, 2, 3, 4]))
        let updates = TensorValue(type: .float, shape: [2], storage: .floats([10, 20]))
        let indices = ints([3, 1], [2, 1])
        #expect(try evaluate("ScatterND", [data, indices, updates]).storage == .floats([1, 20, 3, 10]))
        #expect(try evaluate("ScatterND", [data, indices, updates], attributes: ["reduction": .string("add")]).storage == .floats([1, 22, 3, 14]))
        #expect(try evaluate("ScatterND", [ints([1, 2, 3, 4]), indices, ints([10, 20])], attributes: ["reduction": .string("mul")]).storage == .integers([1, 40, 3, 40]))
    }

    @Test func scatterNDGradients() throws {
        // The data's gradient skips replaced rows; with `add` it flows everywhere.
        let updates = randomTensor([2, 4], seed: 43)
        for reduction in ["none", "add"] {
            try checkGradient(try singleNodeModel("ScatterND", input: [3, 4], attributes: ["reduction": .string(reduction)],
                                                  extra: [ints([2, 0], [2, 1]), constant(updates)]), input: [3, 4], seed: 44)
        }
        // Updates as the differentiable input, a duplicate index: only the last write receives gradient.
        let graph = Graph(nodes: [Node(name: "s", opType: "ScatterND", inputs: ["d", "i", "x"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(3), .fixed(2)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)],
                          initializers: ["d": constant(randomTensor([4, 2], seed: 45)), "i": ints([1, 3, 1], [3, 1])])
        let encoder = try Model(graph: graph).encoder(outputs: ["y"])
        let y = try encoder.forward(Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6]))[0]
        #expect(Array(y.data[2..<4]) == [5, 6])
        let g = try encoder.pullback([Tensor.ones([4, 2])])
        #expect(g.data == [0, 0, 1, 1, 1, 1])
    }
}

@Suite struct GradientCheckTests {
    @Test func aCorrectModelPasses() throws {
        let w = randomTensor([4, 3, 3, 3], seed: 50)
        let graph = Graph(nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])]),
                                  Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"]),
                                  Node(name: "pool", opType: "MaxPool", inputs: ["r"], outputs: ["y"], attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])],
                          inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(2), .fixed(3), .fixed(8), .fixed(8)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: ["w": constant(w)])
        let report = try GradientCheck.run(try Model(graph: graph), output: "y", input: randomTensor([2, 3, 8, 8], seed: 51), directions: 3, seed: 1)
        #expect(report.verdict == .ok, "\(report)")
        #expect(report.relativeError < 1e-2)
        #expect(report.forwardMismatch == nil && report.firstNonFinite == nil && report.firstWrongGradient == nil)
        #expect(report.directions.count == 3)
    }

    @Test func aDroppedGradientIsCaughtAndLocated() throws {
        // Range's inputs carry no gradient in the engine, yet its values move with `start`: the engine's
        // gradient through it is 0 where the true one is not. The check must say so and name the tensor.
        let graph = Graph(nodes: [Node(name: "scale", opType: "Mul", inputs: ["x", "two"], outputs: ["s"]),
                                  Node(name: "squeeze", opType: "Squeeze", inputs: ["s"], outputs: ["start"]),
                                  Node(name: "range", opType: "Range", inputs: ["start", "limit", "delta"], outputs: ["r"]),
                                  Node(name: "out", opType: "Add", inputs: ["r", "s"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(1)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)],
                          initializers: ["two": constant(Tensor(shape: [1], data: [2])), "limit": constant(Tensor(shape: [], data: [4.5])),
                                         "delta": constant(Tensor(shape: [], data: [1]))], opsets: ["": 18])
        let report = try GradientCheck.run(try Model(graph: graph), output: "y", input: Tensor(shape: [1], data: [0.3]), directions: 2, seed: 2)
        #expect(report.verdict == .wrong, "\(report)")
        #expect(report.firstWrongGradient == "r")
        #expect(report.description.contains("WRONG"))
    }

    @Test func nonFiniteValuesAreNamed() throws {
        let graph = Graph(nodes: [Node(name: "log", opType: "Log", inputs: ["x"], outputs: ["l"]),
                                  Node(name: "out", opType: "Mul", inputs: ["l", "x"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x", type: .float, shape: [.fixed(3)])],
                          outputs: [ValueInfo(name: "y", type: .float, shape: nil)])
        let report = try GradientCheck.run(try Model(graph: graph), output: "y", input: Tensor(shape: [3], data: [1, -1, 2]))
        #expect(report.verdict == .wrong)
        #expect(report.firstNonFinite == "l")
    }
}

@Suite struct SummedToTests {
    /// The backward of broadcasting by its definition: each element added to its target, in flat order.
    func reference(_ x: Tensor, to shape: [Int]) -> Tensor {
        let aligned = [Int](repeating: 1, count: x.rank - shape.count) + shape
        var out = Tensor.zeros(shape)
        for flat in 0..<x.count {
            var rest = flat, offset = 0, scale = 1
            for axis in stride(from: x.rank - 1, through: 0, by: -1) {
                let i = rest % x.shape[axis]
                rest /= x.shape[axis]
                if aligned[axis] != 1 { offset += i * scale; scale *= aligned[axis] }
            }
            out.data[offset] += x.data[flat]
        }
        return out
    }

    @Test(arguments: [([2, 3, 4, 5], [2, 3, 1, 1]), ([4, 6, 8], [8]), ([4, 6, 8], [6, 8]), ([2, 3, 4], [1, 3, 1]), ([3, 4], [1, 1]), ([5], [1])])
    func fastPathsAddInTheDefinitionsOrder(shape: [Int], target: [Int]) {
        let x = randomTensor(shape, seed: 50)
        #expect(x.summed(to: target) == reference(x, to: target))   // bit for bit
    }
}
