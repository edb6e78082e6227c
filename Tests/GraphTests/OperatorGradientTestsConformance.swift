import Testing
import Tensor
@testable import Graph

/// Finite-difference gradient checks of the operators added for ONNX conformance.
@Suite struct OperatorGradientTestsConformance {
    @Test func convTranspose() throws {
        // Groups, strides, dilations, pads and output_padding; weight [C_in, C_out/group, k…].
        let w = randomTensor([4, 3, 3, 2], seed: 300), b = randomTensor([6], seed: 301)
        let model = try singleNodeModel("ConvTranspose", input: [2, 4, 3, 4],
                                        attributes: ["group": .int(2), "strides": .ints([2, 1]), "dilations": .ints([1, 2]),
                                                     "pads": .ints([1, 0, 0, 1]), "output_padding": .ints([1, 0])],
                                        extra: [constant(w), constant(b)])
        try checkGradient(model, input: [2, 4, 3, 4], seed: 302)
        // output_shape larger than the natural extent: negative pads, zero extension.
        let w2 = randomTensor([1, 2, 3, 3], seed: 303)
        let model2 = try singleNodeModel("ConvTranspose", input: [1, 1, 3, 3], attributes: ["strides": .ints([3, 2]), "output_shape": .ints([10, 8])], extra: [constant(w2)])
        let y = try model2.encoder(outputs: ["y"]).forward(randomTensor([1, 1, 3, 3], seed: 1))[0]
        #expect(y.shape == [1, 2, 10, 8])
        try checkGradient(model2, input: [1, 1, 3, 3], seed: 304)
    }

    @Test func convTransposeWeightGradient() throws {
        // The weight as the differentiated input: a graph whose input is the weight.
        let x = randomTensor([1, 2, 3, 3], seed: 305)
        let graph = Graph(nodes: [Node(name: "n", opType: "ConvTranspose", inputs: ["c", "w"], outputs: ["y"], attributes: ["strides": .ints([2, 2])])],
                          inputs: [ValueInfo(name: "w", type: .float, shape: nil)], outputs: [ValueInfo(name: "y", type: .float, shape: nil)],
                          initializers: ["c": constant(x)])
        try checkGradient(try Model(graph: graph), input: [2, 3, 2, 2], seed: 306)
    }

    @Test func prelu() throws {
        try checkGradient(try singleNodeModel("PRelu", input: [2, 3, 4], extra: [constant(randomTensor([3, 1], seed: 307))]), input: [2, 3, 4], seed: 308)
        let graph = Graph(nodes: [Node(name: "n", opType: "PRelu", inputs: ["c", "slope"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "slope", type: .float, shape: nil)], outputs: [ValueInfo(name: "y", type: .float, shape: nil)],
                          initializers: ["c": constant(randomTensor([2, 3, 4], seed: 309))])
        try checkGradient(try Model(graph: graph), input: [4], seed: 310)
    }

    @Test func layerNormalization() throws {
        let model = try singleNodeModel("LayerNormalization", input: [2, 3, 5], attributes: ["axis": .int(-2), "epsilon": .float(1e-3)],
                                        extra: [constant(randomTensor([3, 5], seed: 311)), constant(randomTensor([5], seed: 312))])
        try checkGradient(model, input: [2, 3, 5], seed: 313)
    }

    @Test func instanceNormalization() throws {
        let model = try singleNodeModel("InstanceNormalization", input: [2, 3, 4, 2],
                                        extra: [constant(randomTensor([3], seed: 314)), constant(randomTensor([3], seed: 315))])
        try checkGradient(model, input: [2, 3, 4, 2], seed: 316)
    }

    @Test func lrn() throws {
        let model = try singleNodeModel("LRN", input: [2, 5, 3, 3], attributes: ["size": .int(3), "alpha": .float(0.5), "beta": .float(0.75), "bias": .float(1)])
        try checkGradient(model, input: [2, 5, 3, 3], seed: 317)
    }

    @Test func split() throws {
        let graph = Graph(nodes: [Node(name: "n", opType: "Split", inputs: ["x", "parts"], outputs: ["a", "b"], attributes: ["axis": .int(1)])],
                          inputs: [ValueInfo(name: "x", type: .float, shape: nil)],
                          outputs: [ValueInfo(name: "a", type: .float, shape: nil), ValueInfo(name: "b", type: .float, shape: nil)],
                          initializers: ["parts": constantInts([2, 3])])
        let model = try Model(graph: graph)
        try checkGradient(model, output: "a", input: [2, 5], seed: 318)
        try checkGradient(model, output: "b", input: [2, 5], seed: 319)
    }

    @Test(arguments: ["constant", "reflect", "edge", "wrap"])
    func pad(mode: String) throws {
        let model = try singleNodeModel("Pad", input: [2, 3, 4], attributes: ["mode": .string(mode)],
                                        extra: [constantInts([0, 2, 1, 0, 1, 3]), constant(Tensor(scalar: 0.5))])
        try checkGradient(model, input: [2, 3, 4], seed: 320)
    }

    @Test(arguments: [("nearest", "asymmetric"), ("linear", "half_pixel"), ("linear", "align_corners"), ("cubic", "half_pixel")])
    func resize(mode: String, transform: String) throws {
        let none = TensorValue(type: .float, shape: [0], storage: .floats([]))
        let model = try singleNodeModel("Resize", input: [1, 2, 3, 4], attributes: ["mode": .string(mode), "coordinate_transformation_mode": .string(transform)],
                                        extra: [none, constant(Tensor(shape: [4], data: [1, 1, 2, 0.6]))])
        // Nearest is piecewise constant in position, linear in value: a plain linear map too.
        try checkGradient(model, input: [1, 2, 3, 4], seed: 321)
    }

    @Test func resizeWithAntialias() throws {
        let none = TensorValue(type: .float, shape: [0], storage: .floats([]))
        let model = try singleNodeModel("Resize", input: [1, 1, 6, 6], attributes: ["mode": .string("linear"), "antialias": .int(1)],
                                        extra: [none, none, constantInts([1, 1, 3, 4])])
        try checkGradient(model, input: [1, 1, 6, 6], seed: 322)
    }

    @Test(arguments: ["bij,bjk->bik", "ij->ji", "...ii->...i", "i,i", "ij,j", "bij,kj->bik"])
    func einsum(equation: String) throws {
        let shapes: [String: ([Int], [Int]?)] = ["bij,bjk->bik": ([2, 3, 4], [2, 4, 5]), "ij->ji": ([3, 4], nil), "...ii->...i": ([2, 3, 3], nil),
                                                 "i,i": ([5], [5]), "ij,j": ([3, 4], [4]), "bij,kj->bik": ([2, 3, 4], [5, 4])]
        let (x, other) = shapes[equation]!
        let extra = other.map { [constant(randomTensor($0, seed: 323))] } ?? []
        try checkGradient(try singleNodeModel("Einsum", input: x, attributes: ["equation": .string(equation)], extra: extra), input: x, seed: 324)
    }

    @Test(arguments: ["ReduceMax", "ReduceMin", "ReduceL2"])
    func reductions(op: String) throws {
        try checkGradient(try singleNodeModel(op, input: [2, 3, 4], attributes: ["keepdims": .int(0)], extra: [constantInts([1])]), input: [2, 3, 4], seed: 325, step: 1e-3)
    }

    @Test(arguments: ["Sum", "Mean", "Max", "Min"])
    func variadic(op: String) throws {
        let graph = Graph(nodes: [Node(name: "n", opType: op, inputs: ["x", "c", "x"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x", type: .float, shape: nil)], outputs: [ValueInfo(name: "y", type: .float, shape: nil)],
                          initializers: ["c": constant(randomTensor([3, 1], seed: 326))])
        try checkGradient(try Model(graph: graph), input: [2, 3, 4], seed: 327, step: 1e-3)
    }
}

extension OperatorGradientTestsConformance {
    @Test func averagePoolCountingPadsInCeilMode() throws {
        let model = try singleNodeModel("AveragePool", input: [1, 2, 7, 8],
                                        attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([3, 2]), "pads": .ints([1, 0, 1, 1]),
                                                     "dilations": .ints([1, 2]), "count_include_pad": .int(1), "ceil_mode": .int(1)])
        try checkGradient(model, input: [1, 2, 7, 8], seed: 330)
    }
}
