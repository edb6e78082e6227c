import Foundation
@testable import Graph

/// A typed `.npy` reader for the conformance runner: float16/32/64, int8…int64, uint8…uint64 and
/// bool, little-endian, C order, format versions 1–3. (The Imaging module's reader only makes
/// Float tensors.) Values are widened as `TensorValue` stores them.
enum NPYFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func read(path: String) throws -> TensorValue {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure("cannot read \(path)") }
        return try decode([UInt8](data), name: path)
    }

    static func decode(_ bytes: [UInt8], name: String) throws -> TensorValue {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw Failure("\(name): not an .npy file")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw Failure("\(name): truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw Failure("\(name): .npy version \(major) is not supported")
        }
        guard headerStart + headerLength <= bytes.count,
              let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw Failure("\(name): truncated header")
        }
        func field(_ key: String) throws -> String {
            guard let r = header.range(of: "'\(key)':") else { throw Failure("\(name): header has no \(key)") }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        let descrField = try field("descr")
        guard descrField.first == "'", let end = descrField.dropFirst().firstIndex(of: "'") else { throw Failure("\(name): bad descr") }
        let descr = String(descrField[descrField.index(after: descrField.startIndex)..<end])
        let fortran = try field("fortran_order").hasPrefix("True")
        let shapeField = try field("shape")
        guard let open = shapeField.firstIndex(of: "("), let close = shapeField.firstIndex(of: ")") else { throw Failure("\(name): bad shape") }
        let shape = try shapeField[shapeField.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { s -> Int in guard let n = Int(s), n >= 0 else { throw Failure("\(name): bad dimension \(s)") }; return n }
        guard descr.count >= 3, "<|=".contains(descr.first!) else { throw Failure("\(name): dtype \(descr) is not supported (big-endian or structured)") }
        return try decodeChecked(bytes, headerStart: headerStart, headerLength: headerLength, descr: descr, shape: shape, fortran: fortran, name: name)
    }

    static func decodeChecked(_ bytes: [UInt8], headerStart: Int, headerLength: Int, descr: String, shape: [Int], fortran: Bool, name: String) throws -> TensorValue {
        if fortran {   // column-major: read as the reversed shape in C order, then transpose back
            var t = try decodeBody(bytes, headerStart + headerLength, descr: descr, shape: shape.reversed(), name: name)
            let perm = Array((0..<shape.count).reversed())
            let source = t.shape
            t.shape = shape
            switch t.storage {
            case .floats(let v): t.storage = .floats(Transpose.permute(v, shape: source, perm: perm, zero: 0))
            case .doubles(let v): t.storage = .doubles(Transpose.permute(v, shape: source, perm: perm, zero: 0))
            case .integers(let v): t.storage = .integers(Transpose.permute(v, shape: source, perm: perm, zero: 0))
            case .bools(let v): t.storage = .bools(Transpose.permute(v, shape: source, perm: perm, zero: false))
            case .strings(let v): t.storage = .strings(Transpose.permute(v, shape: source, perm: perm, zero: ""))
            }
            return t
        }
        return try decodeBody(bytes, headerStart + headerLength, descr: descr, shape: shape, name: name)
    }

    static func decodeBody(_ bytes: [UInt8], _ body: Int, descr: String, shape: [Int], name: String) throws -> TensorValue {
        let kind = descr.dropFirst().first!, size = Int(descr.dropFirst(2)) ?? 0
        let count = shape.reduce(1, *)
        guard bytes.count - body >= count * size else { throw Failure("\(name): \(bytes.count - body) data bytes for \(count) × \(size)") }
        return try bytes.withUnsafeBytes { raw -> TensorValue in
            let data = UnsafeRawBufferPointer(rebasing: raw[body...])
            func load<T: FixedWidthInteger>(_: T.Type) -> [Int64] {
                (0..<count).map { Int64(T(littleEndian: data.loadUnaligned(fromByteOffset: $0 * size, as: T.self))) }
            }
            switch (kind, size) {
            case ("f", 4): return TensorValue(type: .float, shape: shape, storage: .floats((0..<count).map {
                Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }))
            case ("f", 8): return TensorValue(type: .double, shape: shape, storage: .doubles((0..<count).map {
                Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }))
            case ("f", 2): return TensorValue(type: .float16, shape: shape, storage: .floats((0..<count).map {
                TensorDecoder.halfToFloat(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }))
            case ("i", 1): return TensorValue(type: .int8, shape: shape, storage: .integers(load(Int8.self)))
            case ("i", 2): return TensorValue(type: .int16, shape: shape, storage: .integers(load(Int16.self)))
            case ("i", 4): return TensorValue(type: .int32, shape: shape, storage: .integers(load(Int32.self)))
            case ("i", 8): return TensorValue(type: .int64, shape: shape, storage: .integers(load(Int64.self)))
            case ("u", 1): return TensorValue(type: .uint8, shape: shape, storage: .integers(load(UInt8.self)))
            case ("u", 2): return TensorValue(type: .uint16, shape: shape, storage: .integers(load(UInt16.self)))
            case ("u", 4): return TensorValue(type: .uint32, shape: shape, storage: .integers(load(UInt32.self)))
            case ("u", 8): return TensorValue(type: .uint64, shape: shape, storage: .integers((0..<count).map {
                Int64(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }))
            case ("b", 1): return TensorValue(type: .bool, shape: shape, storage: .bools((0..<count).map { data[$0] != 0 }))
            default: throw Failure("\(name): dtype \(descr) is not supported")
            }
        }
    }
}
