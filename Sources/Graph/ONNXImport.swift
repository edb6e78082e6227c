/// ONNX import: ModelProto bytes → `Graph` (IR.swift).
///
/// Entry points: `ONNXImport.load(path:)` and `ONNXImport.load(bytes:directory:)`. Everything the
/// file says is checked before use: sizes are computed with overflow checks, tensor data must
/// match its declared shape exactly, external data must stay inside the model's directory, and
/// every failure is a `ModelError` naming the problem and where it is. No input crashes the
/// importer (see ONNXImportFuzzTests).
///
/// Split over several files: this one (API, errors, file and memory checks), ONNXImportGraph.swift
/// (graph, nodes, attributes, validation), ONNXImportTensor.swift (TensorProto decoding,
/// external data), ONNXImportStream.swift (a model read one initializer at a time).

#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import ONNXProto
import SwiftProtobuf

/// A model the importer refuses, with a message that says what is wrong and where.
public struct ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The problem, e.g. "node 'Conv_3' (Conv) input 'x9' is produced by no node, input or initializer".
    public var message: String
    /// The model file, when loading from a path.
    public var file: String?

    /// An error with `message`, about `file` when there is one.
    public init(_ message: String, file: String? = nil) {
        self.message = message
        self.file = file
    }

    /// The message, prefixed with the file.
    public var description: String {
        if let file { return "\(file): \(message)" }
        return message
    }
}

/// Turns ONNX protobuf bytes into a checked `Graph`: opsets, operators, shapes and external data.
public enum ONNXImport {
    /// The ai.onnx opset versions the engine accepts by default.
    public static let supportedOpsets: ClosedRange<Int> = 7...21

    /// Protobuf caps one message at 2 GB; larger models keep their weights in external data.
    public static let maxModelFileBytes = Int(Int32.max)

    /// What an import accepts.
    public struct Options: Sendable {
        /// Accepted ai.onnx opset versions; others are refused with a clear error. The conformance
        /// runner may widen it to load ONNX's newer node tests (opset 22–28 in onnx 1.23).
        public var opsets: ClosedRange<Int>
        /// Peak memory of an import, and of the engine's copies of the weights after it, is taken to be this
        /// many times the model file size; files that would not fit in MemAvailable are refused. (The import
        /// itself holds the converted weights and one initializer's bytes: ONNXImportStream.swift.)
        public var memoryFactor: Int

        /// Options with the engine's opsets and a memory factor of 2.
        public init(opsets: ClosedRange<Int> = ONNXImport.supportedOpsets, memoryFactor: Int = 2) {
            self.opsets = opsets
            self.memoryFactor = memoryFactor
        }
    }

    /// Loads a model file. External data files are resolved relative to the file's directory.
    public static func load(path: String) throws -> Graph {
        try load(path: path, options: Options())
    }

    /// Loads a model from memory. `directory` is where external data files are looked up; with
    /// nil, a model that has external data is refused.
    public static func load(bytes: [UInt8], directory: String?) throws -> Graph {
        try load(bytes: bytes, directory: directory, options: Options())
    }

    /// `load(path:)` with options (e.g. a wider opset range for conformance runs).
    public static func load(path: String, options: Options) throws -> Graph {
        do {
            let size = try fileSize(path, what: "model file")
            if size == 0 { throw ModelError("not an ONNX model: the file is empty") }
            if size > maxModelFileBytes {
                throw ModelError("file is \(formatBytes(size)), over protobuf's 2 GB limit for one message "
                    + "(ONNX models that large keep their weights in external data files)")
            }
            try checkMemory(needed: size.multipliedReportingOverflow(by: max(1, options.memoryFactor)),
                            what: "file is \(formatBytes(size))")
            let file = try ModelFile(path: path, size: size)
            if let split = try ModelSplit.scan(file) {
                return try importGraph(split, of: file, directory: directoryOf(path), options: options)
            }
            // Not well-formed at the wire level: decode it whole, which says where.
            var model = try parse(try file.read(0 ..< size))
            return try importGraph(&model, directory: directoryOf(path), options: options)
        } catch var error as ModelError {
            if error.file == nil { error.file = path }
            throw error
        }
    }

    /// `load(bytes:directory:)` with options.
    public static func load(bytes: [UInt8], directory: String?, options: Options) throws -> Graph {
        if bytes.isEmpty { throw ModelError("not an ONNX model: no bytes") }
        if bytes.count > maxModelFileBytes {
            throw ModelError("model is \(formatBytes(bytes.count)), over protobuf's 2 GB limit for one message")
        }
        if let split = try ModelSplit.scan(bytes) {
            return try importGraph(split, of: bytes, directory: directory, options: options)
        }
        var model = try parse(bytes)
        return try importGraph(&model, directory: directory, options: options)
    }

    // MARK: - Decoding

    /// How every message is decoded. Nesting (graphs inside attributes inside nodes inside graphs) is bounded
    /// so that hostile input cannot exhaust the stack; 64 levels is far more than real models use.
    static var decodingOptions: BinaryDecodingOptions {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        options.discardUnknownFields = true
        return options
    }

    /// The ModelProto in `bytes`, or a ModelError saying where the protobuf decoding failed.
    static func parse<Bytes: SwiftProtobufContiguousBytes>(_ bytes: Bytes) throws -> Onnx_ModelProto {
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: bytes, partial: true, options: decodingOptions)
        } catch {
            let where_ = bytes.withUnsafeBytes { WireScan.describeFailure(UnsafeRawBufferPointer($0)) }
            throw ModelError("not an ONNX model: protobuf decoding failed\(where_) (\(describe(error)))")
        }
        return model
    }

    /// The Graph of a model decoded whole (one the split scan does not take). It takes the model's graph out of
    /// `model`, and frees each initializer's bytes once they are decoded.
    static func importGraph(_ model: inout Onnx_ModelProto, directory: String?, options: Options) throws -> Graph {
        var initializers: [Onnx_TensorProto] = []
        if model.hasGraph {   // (writing to a missing graph would create one)
            initializers = model.graph.initializer
            model.graph.initializer = []   // ours alone now, so clearing one frees its bytes
        }
        var importer = GraphImporter(directory: directory, options: options)
        return try importer.graph(of: &model, initializers: initializers.count) { index in
            defer { initializers[index] = Onnx_TensorProto() }
            return initializers[index]
        }
    }

    /// The Graph of a split model: the skeleton is decoded whole, then each initializer is read, decoded and
    /// converted on its own, so a model's weights are held once, plus one initializer's bytes.
    static func importGraph(_ split: ModelSplit, of bytes: some ModelBytes, directory: String?, options: Options) throws -> Graph {
        var model: Onnx_ModelProto
        do {
            model = try parse(split.skeleton)
        } catch {
            // Offsets in the skeleton are not the file's: decode the whole model for the message.
            _ = try parse(try bytes.read(0 ..< bytes.count))
            throw error
        }
        var importer = GraphImporter(directory: directory, options: options)
        return try importer.graph(of: &model, initializers: split.initializers.count) { index in
            let range = split.initializers[index]
            do {
                return try Onnx_TensorProto(serializedBytes: try bytes.read(range), partial: true, options: decodingOptions)
            } catch let error as ModelError {
                throw error
            } catch {
                throw ModelError("initializer #\(index) at bytes \(range.lowerBound)..<\(range.upperBound): protobuf decoding failed (\(describe(error)))")
            }
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case BinaryDecodingError.truncated: return "truncated?"
        case BinaryDecodingError.malformedProtobuf: return "malformed protobuf; corrupted?"
        case BinaryDecodingError.invalidUTF8: return "a string field is not valid UTF-8; corrupted?"
        case BinaryDecodingError.messageDepthLimit: return "messages nested more than 64 deep"
        default: return "\(error)"
        }
    }

    // MARK: - Files and memory

    static func directoryOf(_ path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        return dir.isEmpty ? "." : dir
    }

    static func fileSize(_ path: String, what: String) throws -> Int {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError("\(what) '\(path)' not found")
        }
        if isDirectory.boolValue { throw ModelError("\(what) '\(path)' is a directory") }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.intValue ?? attributes[.size] as? Int else {
            throw ModelError("cannot read the size of \(what) '\(path)'")
        }
        return size
    }

    /// Bytes of memory available: MemAvailable of /proc/meminfo on Linux, physical memory elsewhere.
    static func availableMemory() -> Int? {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                let fields = line.split(separator: " ")
                if fields.count >= 2, let kB = Int(fields[1]) {
                    let (bytes, overflow) = kB.multipliedReportingOverflow(by: 1024)
                    return overflow ? Int.max : bytes
                }
            }
        }
        let physical = ProcessInfo.processInfo.physicalMemory
        return physical > 0 ? Int(clamping: physical) : nil
    }

    static func checkMemory(needed: (partialValue: Int, overflow: Bool), what: String) throws {
        guard let available = availableMemory() else { return }
        let bytes = needed.overflow ? Int.max : needed.partialValue
        if bytes > available {
            throw ModelError("\(what); importing needs about \(formatBytes(bytes)), "
                + "more than the memory available (\(formatBytes(available)))")
        }
    }

    static func formatBytes(_ n: Int) -> String {
        if n == Int.max { return "more than 8 EB" }
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(n) bytes" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}

/// Locates a protobuf decoding failure among ModelProto's top-level fields, for the error message
/// (swift-protobuf does not report offsets): first a structural scan of the top-level fields, then,
/// if those are well-formed, a decode of each nested message on its own to name the one that fails.
enum WireScan {
    static let modelFields: [UInt64: String] = [
        1: "ir_version", 2: "producer_name", 3: "producer_version", 4: "domain", 5: "model_version",
        6: "doc_string", 7: "graph", 8: "opset_import", 14: "metadata_props", 20: "training_info",
        25: "functions", 26: "configuration",
    ]

    static func describeFailure(_ buffer: UnsafeRawBufferPointer) -> String {
        let bytes = [UInt8](buffer)
        let total = bytes.count
        var offset = 0
        var messages: [(field: UInt64, range: Range<Int>)] = []
        func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while offset < total, shift < 64 {
                let byte = bytes[offset]
                offset += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }
        func name(_ field: UInt64) -> String {
            modelFields[field].map { "field \(field) (\($0))" } ?? "field \(field)"
        }
        while offset < total {
            let start = offset
            guard let key = varint() else { return " at byte \(start) of \(total): field key runs past the end" }
            let field = key >> 3
            if field == 0 { return " at byte \(start) of \(total): invalid field number 0" }
            switch key & 7 {
            case 0:
                if varint() == nil { return " at byte \(start) of \(total), in \(name(field)): varint runs past the end" }
            case 1, 5:
                let width = key & 7 == 1 ? 8 : 4
                if total - offset < width { return " at byte \(start) of \(total), in \(name(field)): runs past the end" }
                offset += width
            case 2:
                guard let length = varint() else {
                    return " at byte \(start) of \(total), in \(name(field)): length runs past the end"
                }
                if length > UInt64(total - offset) {
                    return " at byte \(start) of \(total), in \(name(field)): \(length) bytes declared, \(total - offset) left"
                }
                messages.append((field, offset ..< offset + Int(length)))
                offset += Int(length)
            default:
                return " at byte \(start) of \(total), in \(name(field)): invalid wire type \(key & 7)"
            }
        }
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 63
        for (field, range) in messages {
            let slice = Array(bytes[range])
            let failed: Bool
            switch field {
            case 7: failed = (try? Onnx_GraphProto(serializedBytes: slice, partial: true, options: options)) == nil
            case 8: failed = (try? Onnx_OperatorSetIdProto(serializedBytes: slice, partial: true, options: options)) == nil
            case 25: failed = (try? Onnx_FunctionProto(serializedBytes: slice, partial: true, options: options)) == nil
            case 20: failed = (try? Onnx_TrainingInfoProto(serializedBytes: slice, partial: true, options: options)) == nil
            case 2, 3, 4, 6: failed = String(validating: slice, as: UTF8.self) == nil
            default: failed = false
            }
            if failed { return " inside \(name(field)) at bytes \(range.lowerBound)..<\(range.upperBound) of \(total)" }
        }
        return ""
    }
}
