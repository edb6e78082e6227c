import Testing
import Tensor
@testable import Graph

func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &g) })
}

func constant(_ t: Tensor) -> TensorValue { TensorValue(type: .float, shape: t.shape, storage: .floats(t.data)) }
func constantInts(_ v: [Int]) -> TensorValue { TensorValue(type: .int64, shape: [v.count], storage: .integers(v.map { Int64($0) })) }

/// A one-node graph: input "x", extra inputs as initializers, output "y".
func singleNodeModel(_ op: String, input: [Int], attributes: [String: Attribute] = [:], extra: [TensorValue] = []) throws -> Model {
    var initializers: [String: TensorValue] = [:]
    var inputs = ["x"]
    for (i, value) in extra.enumerated() {
        initializers["c\(i)"] = value
        inputs.append("c\(i)")
    }
    let graph = Graph(nodes: [Node(name: "n", opType: op, inputs: inputs, outputs: ["y"], attributes: attributes)],
                      inputs: [ValueInfo(name: "x", type: .float, shape: input.map { .fixed($0) })],
                      outputs: [ValueInfo(name: "y", type: .float, shape: nil)], initializers: initializers)
    return try Model(graph: graph)
}

/// Checks ⟨∇ₓ⟨s, f(x)⟩, v⟩ against the central difference of ⟨s, f(x ± h·v)⟩ along random directions.
func checkGradient(_ model: Model, output: String = "y", input: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1,
                   step h: Float = 1e-2, tolerance: Double = 2e-2) throws {
    let encoder = try model.encoder(outputs: [output])
    let x = randomTensor(input, seed: seed, range: range)
    let y = try encoder.forward(x)[0]
    let s = randomTensor(y.shape, seed: seed + 1)
    let gradient = try encoder.pullback([s])
    #expect(gradient.shape == x.shape)
    for direction in 0..<3 {
        let v = randomTensor(input, seed: seed + 10 + UInt64(direction))
        func loss(_ sign: Float) throws -> Double {
            let shifted = Tensor(shape: x.shape, data: zip(x.data, v.data).map { $0 + sign * h * $1 })
            return zip(try encoder.forward(shifted)[0].data, s.data).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let numeric = (try loss(1) - loss(-1)) / Double(2 * h)
        let analytic = zip(gradient.data, v.data).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(numeric - analytic) <= tolerance * max(1, abs(numeric)), "direction \(direction): numeric \(numeric), analytic \(analytic)")
    }
}

@Suite struct OperatorGradientTests {
    static let unary = ["Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Sin", "Cos", "Abs", "Erf", "Softplus", "LeakyRelu", "Elu", "HardSigmoid", "HardSwish", "Gelu", "Identity", "Dropout"]

    @Test(arguments: unary)
    func unaryOperators(op: String) throws {
        try checkGradient(try singleNodeModel(op, input: [2, 3, 4]), input: [2, 3, 4], seed: 1)
    }

    @Test(arguments: ["Log", "Sqrt", "Reciprocal"])
    func positiveDomainOperators(op: String) throws {
        try checkGradient(try singleNodeModel(op, input: [3, 5]), input: [3, 5], seed: 2, range: 0.5...2)
    }

    @Test(arguments: ["Add", "Sub", "Mul", "Div", "Max", "Min"])
    func broadcastingBinaryOperators(op: String) throws {
        let other = randomTensor([3, 1], seed: 3, range: 0.5...1.5)
        try checkGradient(try singleNodeModel(op, input: [2, 3, 4], extra: [constant(other)]), input: [2, 3, 4], seed: 4)
    }

    @Test func powWithPositiveBase() throws {
        try checkGradient(try singleNodeModel("Pow", input: [4, 3], extra: [constant(Tensor(shape: [3], data: [2, 0.5, 3]))]), input: [4, 3], seed: 5, range: 0.5...2)
    }

    @Test func convolutionWithGroupsStridesAndPadding() throws {
        let w = randomTensor([6, 2, 3, 3], seed: 6), b = randomTensor([6], seed: 7)
        let model = try singleNodeModel("Conv", input: [2, 4, 7, 7], attributes: ["group": .int(2), "strides": .ints([2, 1]), "pads": .ints([1, 0, 1, 2])],
                                        extra: [constant(w), constant(b)])
        try checkGradient(model, input: [2, 4, 7, 7], seed: 8)
    }

    @Test func convolutionWithSamePadding() throws {
        let w = randomTensor([3, 3, 3, 3], seed: 9)
        let model = try singleNodeModel("Conv", input: [1, 3, 6, 6], attributes: ["auto_pad": .string("SAME_UPPER"), "dilations": .ints([2, 2])], extra: [constant(w)])
        let y = try model.encoder(outputs: ["y"]).forward(randomTensor([1, 3, 6, 6], seed: 1))[0]
        #expect(y.shape == [1, 3, 6, 6])
        try checkGradient(model, input: [1, 3, 6, 6], seed: 10)
    }

    @Test func gemmAsPyTorchLinearExportsIt() throws {
        let w = randomTensor([5, 7], seed: 11), b = randomTensor([5], seed: 12)
        try checkGradient(try singleNodeModel("Gemm", input: [3, 7], attributes: ["transB": .int(1), "alpha": .float(0.5)], extra: [constant(w), constant(b)]), input: [3, 7], seed: 13)
    }

    @Test func batchedBroadcastMatMul() throws {
        try checkGradient(try singleNodeModel("MatMul", input: [2, 3, 4, 5], extra: [constant(randomTensor([5, 6], seed: 14))]), input: [2, 3, 4, 5], seed: 15)
        try checkGradient(try singleNodeModel("MatMul", input: [5], extra: [constant(randomTensor([2, 5, 3], seed: 16))]), input: [5], seed: 17)
    }

    @Test(arguments: ["MaxPool", "AveragePool"])
    func pooling(op: String) throws {
        let model = try singleNodeModel(op, input: [2, 3, 7, 7], attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])])
        // Max is piecewise linear: a small step keeps the difference quotient off the kinks.
        try checkGradient(model, input: [2, 3, 7, 7], seed: 18, step: 1e-3)
    }

    @Test(arguments: ["GlobalAveragePool", "GlobalMaxPool"])
    func globalPooling(op: String) throws {
        try checkGradient(try singleNodeModel(op, input: [2, 3, 4, 4]), input: [2, 3, 4, 4], seed: 19)
    }

    @Test func batchNormalizationInference() throws {
        let c = 3
        let model = try singleNodeModel("BatchNormalization", input: [2, c, 4, 4], extra: [
            constant(randomTensor([c], seed: 20)), constant(randomTensor([c], seed: 21)),
            constant(randomTensor([c], seed: 22)), constant(randomTensor([c], seed: 23, range: 0.5...2)),
        ])
        try checkGradient(model, input: [2, c, 4, 4], seed: 24)
    }

    @Test(arguments: ["Softmax", "LogSoftmax"])
    func softmaxes(op: String) throws {
        try checkGradient(try singleNodeModel(op, input: [3, 6], attributes: ["axis": .int(1)]), input: [3, 6], seed: 25)
        try checkGradient(try singleNodeModel(op, input: [2, 4, 3], attributes: ["axis": .int(1)]), input: [2, 4, 3], seed: 26)
    }

    @Test func shapeOperators() throws {
        try checkGradient(try singleNodeModel("Transpose", input: [2, 3, 4], attributes: ["perm": .ints([2, 0, 1])]), input: [2, 3, 4], seed: 27)
        try checkGradient(try singleNodeModel("Flatten", input: [2, 3, 4], attributes: ["axis": .int(1)]), input: [2, 3, 4], seed: 28)
        try checkGradient(try singleNodeModel("Reshape", input: [2, 3, 4], extra: [constantInts([0, -1])]), input: [2, 3, 4], seed: 29)
        try checkGradient(try singleNodeModel("Unsqueeze", input: [2, 3], extra: [constantInts([0, 3])]), input: [2, 3], seed: 30)
        try checkGradient(try singleNodeModel("Slice", input: [4, 6], extra: [constantInts([1, 5]), constantInts([3, 0]), constantInts([0, 1]), constantInts([1, -2])]), input: [4, 6], seed: 31)
        try checkGradient(try singleNodeModel("Gather", input: [5, 3], attributes: ["axis": .int(0)], extra: [constantInts([4, 0, 4, -1])]), input: [5, 3], seed: 32)
        try checkGradient(try singleNodeModel("Expand", input: [3, 1], extra: [constantInts([2, 3, 4])]), input: [3, 1], seed: 33)
        try checkGradient(try singleNodeModel("ReduceMean", input: [2, 3, 4], attributes: ["axes": .ints([1, 2]), "keepdims": .int(0)]), input: [2, 3, 4], seed: 34)
        try checkGradient(try singleNodeModel("ReduceSum", input: [2, 3, 4], extra: [constantInts([-1])]), input: [2, 3, 4], seed: 35)
    }

    @Test func concatOfInputWithItself() throws {
        let graph = Graph(nodes: [Node(name: "cat", opType: "Concat", inputs: ["x", "x"], outputs: ["y"], attributes: ["axis": .int(1)])],
                          inputs: [ValueInfo(name: "x", type: .float, shape: nil)], outputs: [ValueInfo(name: "y", type: .float, shape: nil)])
        try checkGradient(try Model(graph: graph), input: [2, 3], seed: 36)
    }

    @Test func clipHonoursItsBounds() throws {
        let model = try singleNodeModel("Clip", input: [4, 4], extra: [constant(Tensor(scalar: -0.5)), constant(Tensor(scalar: 0.5))])
        let y = try model.encoder(outputs: ["y"]).forward(randomTensor([4, 4], seed: 37))[0]
        #expect(y.data.allSatisfy { $0 >= -0.5 && $0 <= 0.5 })
        try checkGradient(model, input: [4, 4], seed: 38)
    }
}

/// Integer shape arithmetic at sizes float indices cannot count, and output shapes past Int.
@Suite struct ShapeArithmeticTests {
    /// Expand of integers to 2²⁵ + 4 elements: each element comes from the right source. Broadcasting by
    /// float indices rounded the last index, 2²⁵ + 3, up to 2²⁵ + 4 and read past the end (found by fuzzing).
    @Test func expandingIntegersPastTwoToTheTwentyFiveKeepsEveryElement() throws {
        let expand = try OperatorSet.make(Node(name: "wide", opType: "Expand", inputs: ["x", "shape"], outputs: ["y"]))
        let rows = (1 << 23) + 1
        let y = try expand.forward([.int(IntArray(shape: [1, 4], data: [7, 8, 9, 10])), .int(IntArray(shape: [2], data: [Int64(rows), 4]))])[0]
        guard case .int(let a) = y else { Issue.record("Expand of integers gave floats"); return }
        #expect(a.shape == [rows, 4] && a.data.count == (1 << 25) + 4)
        #expect(Array(a.data.suffix(8)) == [7, 8, 9, 10, 7, 8, 9, 10])
    }

    @Test func anOutputShapePastIntIsAnErrorNamingTheNode() throws {
        for (op, inputs) in [("Expand", [RuntimeValue.float(Tensor(scalar: 1)), .int(IntArray(shape: [3], data: [1 << 40, 1 << 40, 4]))]),
                             ("ConstantOfShape", [.int(IntArray(shape: [2], data: [1 << 40, 1 << 40]))])] {
            let node = Node(name: "huge", opType: op, inputs: op == "Expand" ? ["x", "shape"] : ["shape"], outputs: ["y"])
            #expect { try OperatorSet.make(node).forward(inputs) } throws: { "\($0)".contains("node 'huge' (\(op))") }
        }
    }
}
