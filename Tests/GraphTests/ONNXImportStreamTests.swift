/// The split import (ONNXImportStream.swift): the same graphs as decoding the whole model, read one initializer at a time.

import Foundation
import Testing
import ONNXProto
@testable import Graph

/// Bytes in memory that remember the largest single read.
private final class CountingBytes: ModelBytes {
    let bytes: [UInt8]
    var largestRead = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var count: Int { bytes.count }
    func read(_ range: Range<Int>) throws -> [UInt8] {
        largestRead = max(largestRead, range.count)
        return Array(bytes[range])
    }
}

@Suite("ONNX import: split reading")
struct ONNXImportStreamTests {
    /// The graph decoded from the whole ModelProto at once, the way a model the scan does not split is read.
    func wholeDecode(_ bytes: [UInt8], directory: String?) throws -> Graph {
        var model = try ONNXImport.parse(bytes)
        return try ONNXImport.importGraph(&model, directory: directory, options: .init())
    }

    /// A model with `count` initializers of `size` floats each, between its nodes' fields, serialised by swift-protobuf.
    func model(initializers count: Int, size: Int) throws -> [UInt8] {
        var graph = Onnx_GraphProto()
        graph.name = "chain"
        var input = Onnx_ValueInfoProto()
        input.name = "x0"
        input.type.tensorType.elemType = 1
        input.type.tensorType.shape.dim = [Onnx_TensorShapeProto.Dimension.with { $0.dimValue = Int64(size) }]
        graph.input = [input]
        for i in 0 ..< count {
            var w = Onnx_TensorProto()
            w.name = "w\(i)"
            w.dataType = 1
            w.dims = [Int64(size)]
            w.rawData = Data((0 ..< size).flatMap { withUnsafeBytes(of: Float(i * size + $0).bitPattern.littleEndian) { Array($0) } })
            graph.initializer.append(w)
            graph.node.append(Onnx_NodeProto.with { $0.name = "add\(i)"; $0.opType = "Add"; $0.input = ["x\(i)", "w\(i)"]; $0.output = ["x\(i + 1)"] })
        }
        graph.output = [Onnx_ValueInfoProto.with { $0.name = "x\(count)" }]
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "split-test"
        model.opsetImport = [Onnx_OperatorSetIdProto.with { $0.version = 17 }]
        model.graph = graph
        let bytes: [UInt8] = try model.serializedBytes()
        return bytes
    }

    @Test func fixturesGiveTheSameGraphAsTheWholeDecode() throws {
        var compared = 0
        for name in Fixtures.all {
            let bytes = try Fixtures.bytes(name)
            guard let whole = try? wholeDecode(bytes, directory: Fixtures.directory) else { continue }   // the invalid fixtures
            #expect(try ModelSplit.scan(bytes) != nil, "\(name)")
            #expect(try ONNXImport.load(path: Fixtures.path(name)) == whole, "\(name)")
            compared += 1
        }
        #expect(compared >= 5)
    }

    @Test func initializersAreReadOneAtATime() throws {
        let bytes = try model(initializers: 12, size: 50_000)   // 200 KB each, 2.4 MB in all
        let counting = CountingBytes(bytes)
        let split = try #require(try ModelSplit.scan(counting))
        #expect(split.initializers.count == 12)
        #expect(split.skeleton.count < 4_000)
        let graph = try ONNXImport.importGraph(split, of: counting, directory: nil, options: .init())
        #expect(graph == (try wholeDecode(bytes, directory: nil)))
        #expect(graph.initializers["w11"]?.count == 50_000)
        #expect(counting.largestRead < 210_000)   // one initializer's TensorProto, never the file
    }

    /// Protobuf merges a message field given twice; the split keeps both parts, so the graphs agree.
    @Test func aGraphGivenTwiceMergesAsInTheWholeDecode() throws {
        let bytes = try model(initializers: 2, size: 4)
        var second = Onnx_GraphProto()
        second.initializer = [Onnx_TensorProto.with { $0.name = "extra"; $0.dataType = 1; $0.dims = [1]; $0.floatData = [7] }]
        var tail = Onnx_ModelProto()
        tail.graph = second
        let merged = bytes + (try tail.serializedBytes() as [UInt8])
        let split = try #require(try ModelSplit.scan(merged))
        #expect(split.initializers.count == 3)
        let graph = try ONNXImport.load(bytes: merged, directory: nil)
        #expect(graph == (try wholeDecode(merged, directory: nil)))
        #expect(graph.initializers["extra"] == TensorValue(type: .float, shape: [1], storage: .floats([7])))
    }

    @Test func malformedWireIsLeftToTheWholeDecode() throws {
        let bytes = try model(initializers: 2, size: 4)
        #expect(try ModelSplit.scan(Array(bytes.dropLast(3))) == nil)   // the graph's length runs past the end
        #expect(try ModelSplit.scan(bytes + [0x0b]) == nil)             // a group (wire type 3)
        let message = "\(try #require(throws: ModelError.self) { try ONNXImport.load(bytes: Array(bytes.dropLast(3)), directory: nil) })"
        #expect(message.contains("protobuf decoding failed"), "\(message)")
    }

    @Test func aCorruptInitializerIsNamedWithItsBytes() throws {
        var bytes = try model(initializers: 3, size: 4)
        let split = try #require(try ModelSplit.scan(bytes))
        // Field 1 (dims, a varint) of the second initializer becomes wire type 7, which does not exist.
        let start = split.initializers[1].lowerBound
        #expect(bytes[start] == 0x08)
        bytes[start] = 0x0f
        let message = "\(try #require(throws: ModelError.self) { try ONNXImport.load(bytes: bytes, directory: nil) })"
        #expect(message.contains("initializer #1 at bytes \(split.initializers[1].lowerBound)..<\(split.initializers[1].upperBound)"), "\(message)")
    }

    @Test func aFileThatShrinksWhileReadIsAnError() throws {
        let bytes = try model(initializers: 2, size: 1_000)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shrink-\(getpid()).onnx").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try ModelFile(path: path, size: bytes.count)
        let split = try #require(try ModelSplit.scan(file))
        try Data(bytes.prefix(split.initializers[1].lowerBound + 10)).write(to: URL(fileURLWithPath: path))
        let message = "\(try #require(throws: ModelError.self) { try ONNXImport.importGraph(split, of: file, directory: nil, options: .init()) })"
        #expect(message.contains("model file changed while being read"), "\(message)")
    }
}
