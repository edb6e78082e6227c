import Foundation
import Testing
@testable import Graph

/// The fixtures are made by scripts/onnx/make_import_fixtures.py; the expectations below mirror it.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { directory + "/" + name }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    /// Every fixture file, valid or not.
    static var all: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".onnx") }.sorted()
    }
}

/// (i - shift) / scale for i in 0..<n: exactly representable, as in the fixture script.
private func ramp(_ n: Int, _ shift: Int, _ scale: Float = 8) -> [Float] {
    (0..<n).map { Float($0 - shift) / scale }
}

@Suite("ONNX import: decoded graphs")
struct ONNXImportTests {
    @Test func convReluGemm() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("conv_relu_gemm.onnx"))
        #expect(graph.name == "convnet")
        #expect(graph.producer == "mirage-fixtures 1.0")
        #expect(graph.opsets == ["": 17])
        // conv.weight and conv.bias are listed among the inputs (old exporters): not real inputs.
        #expect(graph.inputs == [ValueInfo(name: "x", type: .float, shape: [.symbolic("N"), .fixed(3), .fixed(4), .fixed(4)])])
        #expect(graph.outputs == [ValueInfo(name: "y", type: .float, shape: [.symbolic("N"), .symbolic("")])])
        #expect(graph.valueInfo == [
            "c": ValueInfo(name: "c", type: .float, shape: [.symbolic("N"), .fixed(4), .fixed(2), .fixed(2)]),
            "f": ValueInfo(name: "f", type: .float, shape: nil),
        ])
        #expect(graph.nodes == [
            Node(name: "conv1", opType: "Conv", inputs: ["x", "conv.weight", "conv.bias"], outputs: ["c"],
                 attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([0, 0, 0, 0]), "strides": .ints([1, 1])]),
            Node(name: "relu1", opType: "Relu", inputs: ["c"], outputs: ["r"]),
            Node(name: "Flatten_2", opType: "Flatten", inputs: ["r"], outputs: ["f"], attributes: ["axis": .int(1)]),
            Node(name: "fc", opType: "Gemm", inputs: ["f", "fc.weight", "fc.bias"], outputs: ["y"],
                 attributes: ["transB": .int(1), "alpha": .float(1), "beta": .float(1)]),
        ])
        #expect(graph.initializers == [
            "conv.weight": TensorValue(type: .float, shape: [4, 3, 3, 3], storage: .floats(ramp(108, 54))),   // raw_data
            "conv.bias": TensorValue(type: .float, shape: [4], storage: .floats([0.5, -0.25, 1, 0])),        // float_data
            "fc.weight": TensorValue(type: .float, shape: [3, 16], storage: .floats(ramp(48, 24, 16))),
            "fc.bias": TensorValue(type: .float, shape: [3], storage: .floats([1, 2, 3])),
        ])
    }

    @Test func bytesAndPathGiveTheSameGraph() throws {
        let fromPath = try ONNXImport.load(path: Fixtures.path("conv_relu_gemm.onnx"))
        let fromBytes = try ONNXImport.load(bytes: Fixtures.bytes("conv_relu_gemm.onnx"), directory: nil)
        #expect(fromPath == fromBytes)
    }

    @Test func everyAttributeKind() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("attributes.onnx"))
        #expect(graph.opsets == ["": 17, "test.domain": 3])
        #expect(graph.nodes.count == 2)
        let node = graph.nodes[0]
        #expect(node.name == "all")
        #expect(node.opType == "AllKinds")
        #expect(node.domain == "test.domain")    // unknown domains are kept for the planner
        #expect(node.attributes == [
            "f": .float(1.5),
            "i": .int(-7),
            "s": .string("hello"),
            "t": .tensor(TensorValue(type: .int32, shape: [2], storage: .integers([1, 2]))),
            "fs": .floats([0.5, -2]),
            "is": .ints([1, -2, 3]),
            "ss": .strings(["a", "bc"]),
            "g": .unsupported(kind: "GRAPH"),
            "gs": .unsupported(kind: "GRAPHS"),
            "sp": .unsupported(kind: "SPARSE_TENSOR"),
            "tp": .unsupported(kind: "TYPE_PROTO"),
            "ts": .unsupported(kind: "TENSORS"),
            "empty_ints": .ints([]),
        ])
        #expect(graph.nodes[1] == Node(name: "Relu_1", opType: "Relu", inputs: ["y"], outputs: ["z"]))
    }

    @Test func constantNodes() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("constants.onnx"))
        let expected: [(String, String, Attribute)] = [
            ("c_value", "value", .tensor(TensorValue(type: .float, shape: [2, 2], storage: .floats([1, 2, 3, 4])))),
            ("c_float", "value_float", .float(2.5)),
            ("c_floats", "value_floats", .floats([1, -1])),
            ("c_int", "value_int", .int(42)),
            ("c_ints", "value_ints", .ints([3, 4, 5])),
            ("c_string", "value_string", .string("text")),
            ("c_strings", "value_strings", .strings(["p", "q"])),
        ]
        #expect(graph.nodes.count == expected.count + 1)
        for (index, (output, key, value)) in expected.enumerated() {
            #expect(graph.nodes[index] == Node(name: "Constant_\(index)", opType: "Constant", inputs: [], outputs: [output],
                                               attributes: [key: value]))
        }
        #expect(graph.nodes.last == Node(name: "Add_7", opType: "Add", inputs: ["x", "c_value"], outputs: ["y"]))
        #expect(graph.initializers.isEmpty)
    }

    @Test func externalData() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("external.onnx"))
        #expect(graph.initializers == [
            "w": TensorValue(type: .float, shape: [2, 3], storage: .floats([0, 0.5, 1, 1.5, 2, 2.5])),
            "b": TensorValue(type: .int64, shape: [2], storage: .integers([-1, 7])),
        ])
        // From memory, with the directory given explicitly.
        let fromBytes = try ONNXImport.load(bytes: Fixtures.bytes("external.onnx"), directory: Fixtures.directory)
        #expect(fromBytes == graph)
    }

    @Test func int64ShapeInitializers() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("shape_int64.onnx"))
        #expect(graph.initializers == [
            "shape": TensorValue(type: .int64, shape: [2], storage: .integers([1, -1])),      // int64_data
            "shape_raw": TensorValue(type: .int64, shape: [2], storage: .integers([2, 3])),   // raw_data
        ])
        #expect(graph.nodes.map(\.name) == ["Reshape_0", "Reshape_1"])
        #expect(graph.outputs == [ValueInfo(name: "z", type: .float, shape: [.fixed(2), .fixed(3)])])
    }

    @Test func elementTypes() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("types.onnx"))
        let i = graph.initializers
        #expect(i["f16_raw"] == TensorValue(type: .float16, shape: [4], storage: .floats([1, -2, 0.5, 65504])))
        #expect(i["f16_int32"] == TensorValue(type: .float16, shape: [4], storage: .floats([1, -2, 0.5, 65504])))
        #expect(i["bf16"] == TensorValue(type: .bfloat16, shape: [2], storage: .floats([1.5, -2])))
        #expect(i["bool_raw"] == TensorValue(type: .bool, shape: [3], storage: .bools([true, false, true])))
        #expect(i["bool_int32"] == TensorValue(type: .bool, shape: [2], storage: .bools([false, true])))
        #expect(i["int8"] == TensorValue(type: .int8, shape: [3], storage: .integers([-128, 0, 127])))
        #expect(i["uint8_raw"] == TensorValue(type: .uint8, shape: [3], storage: .integers([0, 200, 255])))
        #expect(i["int16"] == TensorValue(type: .int16, shape: [2], storage: .integers([-32768, 32767])))
        #expect(i["uint16"] == TensorValue(type: .uint16, shape: [2], storage: .integers([0, 65535])))
        #expect(i["int32_raw"] == TensorValue(type: .int32, shape: [2], storage: .integers([-5, 1 << 30])))
        #expect(i["double"] == TensorValue(type: .double, shape: [2], storage: .doubles([0.1, -1e300])))
        #expect(i["uint32"] == TensorValue(type: .uint32, shape: [1], storage: .integers([4_000_000_000])))
        // uint64 is stored by bit pattern: 2^64 - 1 reads as -1.
        #expect(i["uint64"] == TensorValue(type: .uint64, shape: [2], storage: .integers([1, -1])))
        #expect(i["strings"] == TensorValue(type: .string, shape: [2], storage: .strings(["ab", "é"])))
        #expect(i["scalar"] == TensorValue(type: .float, shape: [], storage: .floats([3.25])))
        #expect(i["empty"] == TensorValue(type: .float, shape: [0, 3], storage: .floats([])))
        #expect(i.count == 16)
        #expect(graph.inputs == [ValueInfo(name: "x", type: .float16, shape: [.fixed(4)])])
    }

    @Test func halfPrecisionConversion() {
        #expect(TensorDecoder.halfToFloat(0x3C00) == 1)
        #expect(TensorDecoder.halfToFloat(0xC000) == -2)
        #expect(TensorDecoder.halfToFloat(0x0001) == 0x1p-24)          // smallest subnormal
        #expect(TensorDecoder.halfToFloat(0x8000).sign == .minus)      // -0
        #expect(TensorDecoder.halfToFloat(0x7C00) == .infinity)
        #expect(TensorDecoder.halfToFloat(0xFC00) == -.infinity)
        #expect(TensorDecoder.halfToFloat(0x7E00).isNaN)
        #expect(TensorDecoder.halfToFloat(0x7BFF) == 65504)
    }

    @Test func float8ConstantIsKeptAsUnsupported() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("float8_constant.onnx"))
        #expect(graph.nodes[0] == Node(name: "Constant_0", opType: "Constant", inputs: [], outputs: ["q"],
                                       attributes: ["value": .unsupported(kind: "TENSOR(float8e4m3fn)")]))
    }

    @Test func untypedAttributeIsInferred() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("untyped_attribute.onnx"))
        #expect(graph.nodes == [Node(name: "leaky", opType: "LeakyRelu", inputs: ["x"], outputs: ["y"], attributes: ["alpha": .float(0.25)])])
    }

    @Test func aiOnnxDomainIsTheDefaultDomain() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("ai_onnx_domain.onnx"))
        #expect(graph.opsets == ["": 13])
        #expect(graph.nodes.first?.domain == "")
    }

    @Test func widenedOpsetRangeForConformance() throws {
        let graph = try ONNXImport.load(path: Fixtures.path("opset22.onnx"), options: .init(opsets: 1...99))
        #expect(graph.opsets == ["": 22])
        #expect(ONNXImport.supportedOpsets == 7...21)
    }
}
