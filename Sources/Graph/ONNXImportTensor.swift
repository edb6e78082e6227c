/// ONNX import, part 3: TensorProto → TensorValue, and external data.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Tensor
import ONNXProto

enum TensorDecoder {
    /// Lower-case names of the element types, as in the error messages ("float [64, 3, 3, 3]").
    static func typeName(_ type: ElementType) -> String {
        switch type {
        case .float: "float"
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .string: "string"
        case .bool: "bool"
        case .float16: "float16"
        case .double: "double"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .bfloat16: "bfloat16"
        }
    }

    /// ONNX element types the engine does not store (TensorProto.DataType numbering).
    static let unsupportedTypes: [Int32: String] = [
        14: "complex64", 15: "complex128", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
        20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1", 24: "float8e8m0", 25: "uint2", 26: "int2",
    ]

    static func unsupportedTypeName(_ dataType: Int32) -> String? { unsupportedTypes[dataType] }

    /// Bytes per element in raw_data (nil for strings).
    static func elementSize(_ type: ElementType) -> Int? {
        switch type {
        case .float, .int32, .uint32: 4
        case .double, .int64, .uint64: 8
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int8, .uint8, .bool: 1
        case .string: nil
        }
    }

    static func describe(_ type: ElementType, _ shape: [Int]) -> String {
        "\(typeName(type)) [\(shape.map(String.init).joined(separator: ", "))]"
    }

    static func decode(_ proto: Onnx_TensorProto, what: String, external: inout ExternalDataReader) throws -> TensorValue {
        let type = try elementType(proto, what: what)
        if proto.hasSegment {
            throw ModelError("\(what): segmented tensors (TensorProto.segment) are not supported")
        }
        let (shape, count) = try dimensions(proto, what: what)
        let shown = describe(type, shape)
        // Decoded elements are stored at least as wide as the file's (strings: at least a pointer each).
        try MemoryLimit.check(elements: count, elementSize: elementSize(type) ?? 8, what: "\(what) (\(shown))")

        // External data: read the bytes, then decode them as raw_data.
        if proto.hasDataLocation, proto.dataLocation == .external {
            guard let size = elementSize(type) else {
                throw ModelError("\(what): string tensors cannot be stored as external data")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw ModelError("\(what): \(shown) is too large") }
            let data = try external.read(proto.externalData, byteCount: bytes, what: what, shown: shown)
            return TensorValue(type: type, shape: shape, storage: data.withUnsafeBytes { raw(type, count: count, $0) })
        }

        if proto.hasRawData {
            guard let size = elementSize(type) else {
                throw ModelError("\(what): string tensors cannot use raw_data (use string_data)")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, proto.rawData.count == bytes else {
                throw ModelError("\(what): raw_data has \(proto.rawData.count) bytes, expected \(overflow ? "more than can be addressed" : String(bytes)) for \(shown)")
            }
            return TensorValue(type: type, shape: shape, storage: proto.rawData.withUnsafeBytes { raw(type, count: count, $0) })
        }
        return TensorValue(type: type, shape: shape, storage: try typedFields(proto, type, count: count, what: what, shown: shown))
    }

    /// The element type a tensor declares, or an error saying why the engine cannot hold it.
    static func elementType(_ proto: Onnx_TensorProto, what: String) throws -> ElementType {
        if let type = ElementType(rawValue: Int(proto.dataType)) { return type }
        if proto.dataType == 0 { throw ModelError("\(what) has no data_type") }
        if let name = unsupportedTypes[proto.dataType] {
            throw ModelError("\(what): element type \(name) (\(proto.dataType)) is not supported")
        }
        throw ModelError("\(what): unknown element type \(proto.dataType)")
    }

    /// The tensor's shape and element count; negative dimensions and counts past `Int` are errors.
    static func dimensions(_ proto: Onnx_TensorProto, what: String) throws -> (shape: [Int], count: Int) {
        var shape: [Int] = []
        shape.reserveCapacity(proto.dims.count)
        var count = 1
        for dim in proto.dims {
            guard dim >= 0, let d = Int(exactly: dim) else {
                throw ModelError("\(what): negative dimension \(dim) in [\(proto.dims.map(String.init).joined(separator: ", "))]")
            }
            shape.append(d)
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw ModelError("\(what): shape [\(proto.dims.map(String.init).joined(separator: ", "))] has more elements than can be addressed")
            }
            count = product
        }
        return (shape, count)
    }

    /// Values kept in the typed repeated fields (float_data, int64_data, int32_data, …), which must hold `count`.
    static func typedFields(_ proto: Onnx_TensorProto, _ type: ElementType, count: Int, what: String, shown: String) throws -> TensorValue.Storage {
        func check(_ field: String, _ n: Int) throws {
            guard n == count else {
                throw ModelError("\(what): \(field) has \(n) values, expected \(count) for \(shown)")
            }
        }
        switch type {
        case .float:
            try check("float_data", proto.floatData.count)
            return .floats(proto.floatData)
        case .double:
            try check("double_data", proto.doubleData.count)
            return .doubles(proto.doubleData)
        case .int64:
            try check("int64_data", proto.int64Data.count)
            return .integers(proto.int64Data)
        case .uint32, .uint64:
            try check("uint64_data", proto.uint64Data.count)
            return .integers(proto.uint64Data.map { type == .uint32 ? Int64(UInt32(truncatingIfNeeded: $0)) : Int64(bitPattern: $0) })
        case .int32, .int16, .int8, .uint16, .uint8:
            try check("int32_data", proto.int32Data.count)
            return .integers(proto.int32Data.map { Int64($0) })
        case .bool:
            try check("int32_data", proto.int32Data.count)
            return .bools(proto.int32Data.map { $0 != 0 })
        case .float16:
            try check("int32_data", proto.int32Data.count)
            return .floats(proto.int32Data.map { halfToFloat(UInt16(truncatingIfNeeded: $0)) })
        case .bfloat16:
            try check("int32_data", proto.int32Data.count)
            return .floats(proto.int32Data.map { Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16) })
        case .string:
            try check("string_data", proto.stringData.count)
            return .strings(proto.stringData.map { String(decoding: $0, as: UTF8.self) })
        }
    }

    /// Decodes little-endian raw bytes; the caller has checked `bytes.count == count * elementSize(type)`.
    static func raw(_ type: ElementType, count: Int, _ bytes: UnsafeRawBufferPointer) -> TensorValue.Storage {
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        func array<T>(_ transform: (Int) -> T) -> [T] {
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count { (buffer.baseAddress! + i).initialize(to: transform(i)) }
                initialized = count
            }
        }
        switch type {
        case .float:
            #if _endian(little)
            return .floats([Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0, let base = bytes.baseAddress {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: base, count: count * 4))
                }
                initialized = count
            })
            #else
            return .floats(array { Float(bitPattern: load(UInt32.self, $0)) })
            #endif
        case .double: return .doubles(array { Double(bitPattern: load(UInt64.self, $0)) })
        case .int64: return .integers(array { load(Int64.self, $0) })
        case .uint64: return .integers(array { Int64(bitPattern: load(UInt64.self, $0)) })
        case .uint32: return .integers(array { Int64(load(UInt32.self, $0)) })
        case .int32: return .integers(array { Int64(load(Int32.self, $0)) })
        case .int16: return .integers(array { Int64(load(Int16.self, $0)) })
        case .uint16: return .integers(array { Int64(load(UInt16.self, $0)) })
        case .int8: return .integers(array { Int64(load(Int8.self, $0)) })
        case .uint8: return .integers(array { Int64(load(UInt8.self, $0)) })
        case .bool: return .bools(array { load(UInt8.self, $0) != 0 })
        case .float16: return .floats(array { halfToFloat(load(UInt16.self, $0)) })
        case .bfloat16: return .floats(array { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) })
        case .string: return .strings([])   // unreachable: strings have no raw form
        }
    }

    /// IEEE 754 binary16 → Float, exact (Float16 is unavailable on some platforms).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1f)
        let mantissa = UInt32(h & 0x3ff)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        case 31:
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
        }
    }
}

/// Reads external tensor data (`data_location == EXTERNAL`): files named by a path relative to the
/// model's directory, which must stay inside it (no absolute paths, no `..` above it, no symbolic
/// links out of it).
struct ExternalDataReader {
    let directory: String?
    private var realDirectory: String?
    private var sizes: [String: Int] = [:]

    init(directory: String?) {
        self.directory = directory
    }

    mutating func read(_ entries: [Onnx_StringStringEntryProto], byteCount: Int, what: String, shown: String) throws -> Data {
        var location: String?
        var offset = 0
        var length: Int?
        for entry in entries {
            switch entry.key {
            case "location": location = entry.value
            case "offset":
                guard let value = Int(entry.value), value >= 0 else {
                    throw ModelError("\(what): external data offset '\(entry.value)' is not a byte offset")
                }
                offset = value
            case "length":
                guard let value = Int(entry.value), value >= 0 else {
                    throw ModelError("\(what): external data length '\(entry.value)' is not a byte count")
                }
                length = value
            default: break       // "checksum" and others are not needed
            }
        }
        guard let location, !location.isEmpty else {
            throw ModelError("\(what): external data without a location")
        }
        if let length, length != byteCount {
            throw ModelError("\(what): external data length \(length) does not match the \(byteCount) bytes of \(shown)")
        }
        guard let directory else {
            throw ModelError("\(what) keeps its data in external file '\(location)', but no model directory was given")
        }
        let path = try resolve(location, in: directory, what: what)
        let size: Int
        if let known = sizes[path] {
            size = known
        } else {
            size = try ONNXImport.fileSize(path, what: "\(what): external data file")
            sizes[path] = size
        }
        let (end, overflow) = offset.addingReportingOverflow(byteCount)
        guard !overflow, end <= size else {
            throw ModelError("\(what): external data file '\(location)' has \(size) bytes, but \(shown) needs bytes \(offset)..<\(overflow ? "∞" : String(end)) (\(byteCount) bytes)")
        }
        try ONNXImport.checkMemory(needed: (byteCount, false), what: "\(what): external data is \(ONNXImport.formatBytes(byteCount))")
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ModelError("\(what): cannot open external data file '\(location)'")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: byteCount) ?? Data()
            guard data.count == byteCount else {
                throw ModelError("\(what): external data file '\(location)' ended early (read \(data.count) of \(byteCount) bytes at offset \(offset))")
            }
            return data
        } catch let error as ModelError {
            throw error
        } catch {
            throw ModelError("\(what): cannot read external data file '\(location)': \(error.localizedDescription)")
        }
    }

    /// The file's path, after checking that `location` stays inside `directory`.
    private mutating func resolve(_ location: String, in directory: String, what: String) throws -> String {
        if location.contains("\0") { throw ModelError("\(what): external data location contains a NUL byte") }
        let isWindowsDrive = location.count >= 2 && location.dropFirst().first == ":" && (location.first?.isLetter ?? false)
        if location.hasPrefix("/") || location.hasPrefix("\\") || isWindowsDrive {
            throw ModelError("\(what): external data location '\(location)' is an absolute path; it must be relative to the model directory")
        }
        var depth = 0
        var components: [Substring] = []
        for component in location.split(whereSeparator: { $0 == "/" || $0 == "\\" }) {
            switch component {
            case ".": continue
            case "..":
                depth -= 1
                if depth < 0 {
                    throw ModelError("\(what): external data location '\(location)' escapes the model directory")
                }
                components.removeLast()
            default:
                depth += 1
                components.append(component)
            }
        }
        guard !components.isEmpty else {
            throw ModelError("\(what): external data location '\(location)' names no file")
        }
        let path = directory + "/" + components.joined(separator: "/")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError("\(what): external data file '\(location)' not found (looked in '\(directory)')")
        }
        if isDirectory.boolValue { throw ModelError("\(what): external data location '\(location)' is a directory") }
        // Symbolic links may point anywhere: compare real paths.
        if realDirectory == nil { realDirectory = Self.realPath(directory) }
        if let realDirectory, let realFile = Self.realPath(path) {
            let prefix = realDirectory.hasSuffix("/") ? realDirectory : realDirectory + "/"
            guard realFile.hasPrefix(prefix) else {
                throw ModelError("\(what): external data location '\(location)' escapes the model directory (through a symbolic link)")
            }
        }
        return path
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
