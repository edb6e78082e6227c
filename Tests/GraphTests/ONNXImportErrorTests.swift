import Foundation
import Testing
@testable import Graph

/// The error raised by loading `name` from the fixtures directory (by path).
private func loadError(_ name: String, options: ONNXImport.Options = .init(),
                       sourceLocation: SourceLocation = #_sourceLocation) -> ModelError? {
    #expect(throws: ModelError.self, sourceLocation: sourceLocation) {
        _ = try ONNXImport.load(path: Fixtures.path(name), options: options)
    }
}

private func bytesError(_ bytes: [UInt8], directory: String? = nil,
                        sourceLocation: SourceLocation = #_sourceLocation) -> ModelError? {
    #expect(throws: ModelError.self, sourceLocation: sourceLocation) {
        _ = try ONNXImport.load(bytes: bytes, directory: directory)
        // (also checks that the exact API of the brief exists as function references)
        let _: (String) throws -> Graph = ONNXImport.load(path:)
    }
}

@Suite("ONNX import: errors")
struct ONNXImportErrorTests {
    @Test func truncatedBytes() throws {
        let bytes = try Fixtures.bytes("conv_relu_gemm.onnx")
        let error = bytesError(Array(bytes.prefix(bytes.count / 2)))
        #expect(error?.message.hasPrefix("not an ONNX model: protobuf decoding failed at byte ") == true)
        #expect(error?.message.contains("in field 7 (graph)") == true)
        #expect(error?.message.hasSuffix("(truncated?)") == true)
    }

    @Test func randomBytes() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<50 {
            let bytes = (0..<Int(rng.next() % 4000 + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let error = bytesError(bytes)
            let message = error?.message ?? ""
            #expect(message.hasPrefix("not an ONNX model") || message.hasPrefix("model has no graph"), "\(message)")
        }
    }

    @Test func emptyInput() {
        #expect(bytesError([])?.message == "not an ONNX model: no bytes")
    }

    @Test func textFile() {
        // Plain text is not protobuf (or, by chance, protobuf without a graph).
        let error = bytesError(Array("ir_version: 8\ngraph { name: \"g\" }\n".utf8))
        #expect(error?.message.hasPrefix("not an ONNX model") == true || error?.message.hasPrefix("model has no graph") == true)
    }

    @Test func noGraph() {
        #expect(loadError("no_graph.onnx")?.message == "model has no graph")
    }

    @Test func danglingInput() {
        #expect(loadError("dangling_input.onnx")?.message
            == "node 'Conv_3' (Conv) input 'x9' is produced by no node, input or initializer")
    }

    @Test func opsetOutOfRange() {
        #expect(loadError("opset22.onnx")?.message == "opset 22 of ai.onnx is newer than supported (7–21)")
        #expect(loadError("opset6.onnx")?.message == "opset 6 of ai.onnx is older than supported (7–21)")
    }

    @Test func duplicateOutput() {
        #expect(loadError("duplicate_output.onnx")?.message
            == "duplicate output name 'y': node 'b' (Relu) produces it, but it is already the output of node 'a' (Relu)")
    }

    @Test func rawDataOfTheWrongSize() {
        #expect(loadError("bad_raw_size.onnx")?.message
            == "initializer 'conv1.weight': raw_data has 100 bytes, expected 6912 for float [64, 3, 3, 3]")
    }

    @Test func segmentedTensor() {
        #expect(loadError("segment.onnx")?.message
            == "initializer 'seg': segmented tensors (TensorProto.segment) are not supported")
    }

    @Test func externalDataEscapingTheDirectory() {
        #expect(loadError("external_escape.onnx")?.message
            == "initializer 'w': external data location '../escape.bin' escapes the model directory")
        #expect(loadError("external_absolute.onnx")?.message
            == "initializer 'w': external data location '/etc/passwd' is an absolute path; it must be relative to the model directory")
    }

    @Test func externalFileMissing() {
        #expect(loadError("external_missing.onnx")?.message
            == "initializer 'w': external data file 'missing.bin' not found (looked in '\(Fixtures.directory)')")
    }

    @Test func externalFileTooShort() {
        #expect(loadError("external_short.onnx")?.message
            == "initializer 'w': external data file 'external.bin' has 48 bytes, but float [2, 3] needs bytes 40..<64 (24 bytes)")
    }

    @Test func externalDataWithoutDirectory() throws {
        #expect(bytesError(try Fixtures.bytes("external.onnx"))?.message
            == "initializer 'w' keeps its data in external file 'external.bin', but no model directory was given")
    }

    @Test func externalDataThroughASymbolicLink() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("mirage-onnx-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: root + "/model", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: root) }
        try fm.copyItem(atPath: Fixtures.path("external.onnx"), toPath: root + "/model/external.onnx")
        try fm.copyItem(atPath: Fixtures.path("external.bin"), toPath: root + "/outside.bin")
        try fm.createSymbolicLink(atPath: root + "/model/external.bin", withDestinationPath: root + "/outside.bin")
        let error = #expect(throws: ModelError.self) { _ = try ONNXImport.load(path: root + "/model/external.onnx") }
        #expect(error?.message
            == "initializer 'w': external data location 'external.bin' escapes the model directory (through a symbolic link)")
    }

    @Test func pathErrorsNameTheFile() {
        let path = Fixtures.path("dangling_input.onnx")
        let error = loadError("dangling_input.onnx")
        #expect(error?.file == path)
        #expect(error?.description == "\(path): node 'Conv_3' (Conv) input 'x9' is produced by no node, input or initializer")
        let missing = #expect(throws: ModelError.self) { _ = try ONNXImport.load(path: "/nonexistent/model.onnx") }
        #expect(missing?.message == "model file '/nonexistent/model.onnx' not found")
    }

    @Test func notEnoughMemory() {
        // Pretend an import needs 2^50 × the file size: refused before reading.
        let message = loadError("conv_relu_gemm.onnx", options: .init(memoryFactor: 1 << 50))?.message ?? ""
        #expect(message.hasPrefix("file is 1.2 KB; importing needs about "), "\(message)")
        #expect(message.contains("more than the memory available ("), "\(message)")
    }

    @Test func hostileShapes() {
        #expect(loadError("overflow_dims.onnx")?.message
            == "initializer 'huge': shape [1099511627776, 1099511627776, 1099511627776] has more elements than can be addressed")
        #expect(loadError("negative_dim.onnx")?.message == "initializer 'neg': negative dimension -3 in [2, -3]")
        #expect(loadError("float_data_count.onnx")?.message
            == "initializer 'w': float_data has 3 values, expected 4 for float [2, 2]")
    }

    @Test func unsupportedElementTypeInInitializer() {
        #expect(loadError("float8_initializer.onnx")?.message
            == "initializer 'q': element type float8e4m3fn (17) is not supported")
    }

    @Test func nodesOutOfOrder() {
        #expect(loadError("unsorted.onnx")?.message
            == "node 'second' (Relu) input 'r' is produced by a later node 'first' (Relu): nodes are not in topological order")
    }

    @Test func outputProducedByNothing() {
        #expect(loadError("missing_output.onnx")?.message
            == "graph output 'nowhere' is produced by no node, input or initializer")
    }

    @Test func sparseInitializer() {
        #expect(loadError("sparse_initializer.onnx")?.message == "sparse initializers are not supported (1: 'sp')")
    }

    @Test func deeplyNestedMessagesAreRefused() {
        // GraphProto.node(1) → NodeProto.attribute(5) → AttributeProto.g(6) → GraphProto … 10,000 deep,
        // inside ModelProto.graph(7): swift-protobuf stops at the depth limit instead of overflowing the stack.
        var inner: [UInt8] = []
        for _ in 0..<10_000 {
            let attribute = field(6, inner)
            let node = field(5, attribute)
            inner = field(1, node)
        }
        let model = [0x08, 0x08] + field(7, inner)    // ir_version 8, graph
        let error = bytesError(model)
        #expect(error?.message.hasPrefix("not an ONNX model: protobuf decoding failed inside field 7 (graph)") == true)
        #expect(error?.message.hasSuffix("(messages nested more than 64 deep)") == true)
    }

    @Test func deeplyNestedUnknownGroupsAreRefused() {
        // Unknown fields made of nested groups (wire types 3/4), as in CVE-2024-7254 against protobuf-java:
        // swift-protobuf skips them with the same depth limit.
        for groups in [100, 100_000] {
            let start = varint(99 << 3 | 3), end = varint(99 << 3 | 4)
            let model = [0x08, 0x08] + Array([[UInt8]](repeating: start, count: groups).joined())
                + Array([[UInt8]](repeating: end, count: groups).joined())
            let error = bytesError(model)
            #expect(error?.message.hasPrefix("not an ONNX model: protobuf decoding failed") == true, "\(error?.message ?? "")")
        }
        // Inside the graph too.
        let start = varint(99 << 3 | 3), end = varint(99 << 3 | 4)
        let graph = Array([[UInt8]](repeating: start, count: 100_000).joined()) + Array([[UInt8]](repeating: end, count: 100_000).joined())
        let error = bytesError([0x08, 0x08] + field(7, graph))
        #expect(error?.message.hasPrefix("not an ONNX model: protobuf decoding failed") == true, "\(error?.message ?? "")")
    }
}

/// A length-delimited protobuf field.
func field(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
    varint(number << 3 | 2) + varint(UInt64(payload.count)) + payload
}

func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var bytes: [UInt8] = []
    repeat {
        var byte = UInt8(value & 0x7f)
        value >>= 7
        if value != 0 { byte |= 0x80 }
        bytes.append(byte)
    } while value != 0
    return bytes
}

/// Deterministic pseudo-random numbers (SplitMix64) for the seeded tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
