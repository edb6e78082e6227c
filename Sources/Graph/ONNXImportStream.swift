/// ONNX import, part 4: a model read in pieces, so that its weights are never held twice while they are decoded.
///
/// A ModelProto is one protobuf message, and decoding it whole holds the file's bytes, the decoded
/// message (with every weight's bytes) and then the converted arrays: 2–3× the weights at once. The
/// weights are the main graph's initializers (GraphProto field 5). `ModelSplit.scan` walks the wire
/// format and splits the model into a skeleton (every other field, copied) and the byte ranges of
/// the initializers, which the importer reads, decodes and converts one at a time. A model whose
/// structure the scan does not recognise is decoded whole instead, which reports the problem.

import Foundation
import ONNXProto
import SwiftProtobuf
#if canImport(Glibc)
import Glibc
#endif

/// Bytes that can be read a range at a time: a model file (read with `pread`) or an array in memory.
protocol ModelBytes {
    /// The number of bytes.
    var count: Int { get }
    /// The bytes in `range`, which lies within `0..<count`.
    func read(_ range: Range<Int>) throws -> [UInt8]
}

extension Array: ModelBytes where Element == UInt8 {
    func read(_ range: Range<Int>) throws -> [UInt8] { Array(self[range]) }
}

/// A model file, open for reads at any offset. Read, not mapped: a mapped file truncated by someone
/// else while we decode would crash the process (SIGBUS) instead of failing cleanly.
final class ModelFile: ModelBytes {
    let descriptor: Int32
    let count: Int

    /// Opens `path`, whose size was `size` when the caller checked it.
    init(path: String, size: Int) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 { throw ModelError("cannot read model file: \(String(cString: strerror(errno)))") }
        count = size
    }

    deinit { close(descriptor) }

    func read(_ range: Range<Int>) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while done < range.count {
                let n = pread(descriptor, buffer.baseAddress! + done, range.count - done, off_t(range.lowerBound + done))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw ModelError("cannot read model file: \(String(cString: strerror(errno)))") }
                if n == 0 { throw ModelError("model file changed while being read (\(range.upperBound) bytes expected, \(range.lowerBound + done) found)") }
                done += n
            }
        }
        return bytes
    }
}

/// A model split into its skeleton and the byte ranges of its main graph's initializers.
struct ModelSplit {
    /// The ModelProto without the main graph's initializers: a valid message on its own.
    var skeleton: [UInt8]
    /// Where each initializer's TensorProto lies in the model's bytes, in file order.
    var initializers: [Range<Int>]

    /// Splits `bytes`, or returns nil when the wire structure of the model or of its graphs is not
    /// well-formed (a wrong wire type, a length past the end): the whole decode then reports it.
    static func scan(_ bytes: some ModelBytes) throws -> ModelSplit? {
        var reader = WireReader(bytes: bytes)
        var split = ModelSplit(skeleton: [], initializers: [])
        var offset = 0
        while offset < bytes.count {
            guard let field = try reader.field(at: offset, end: bytes.count) else { return nil }
            if field.number == 7 && field.wireType == 2 {
                // The graph: copy its fields but the initializers, then write it with its new length.
                var graph: [UInt8] = []
                var inner = field.payload.lowerBound
                while inner < field.payload.upperBound {
                    guard let member = try reader.field(at: inner, end: field.payload.upperBound) else { return nil }
                    if member.number == 5 && member.wireType == 2 {
                        split.initializers.append(member.payload)
                    } else {
                        graph += try reader.read(member.whole)
                    }
                    inner = member.whole.upperBound
                }
                appendVarint(7 << 3 | 2, to: &split.skeleton)
                appendVarint(UInt64(graph.count), to: &split.skeleton)
                split.skeleton += graph
            } else {
                split.skeleton += try reader.read(field.whole)
            }
            offset = field.whole.upperBound
        }
        return split
    }

    /// Appends `value` as a varint.
    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}

/// Reads protobuf field keys and lengths from `ModelBytes`, through a small read-ahead window.
private struct WireReader<Bytes: ModelBytes> {
    let bytes: Bytes
    private var windowStart = 0
    private var windowBytes: [UInt8] = []
    /// Bytes read ahead at a time while scanning a graph's small fields.
    private static var window: Int { 1 << 16 }

    init(bytes: Bytes) { self.bytes = bytes }

    /// One field: its number, wire type, the bytes from its key to its end, and its payload.
    struct Field {
        var number: UInt64
        var wireType: UInt64
        var whole: Range<Int>
        var payload: Range<Int>
    }

    /// The field whose key starts at `offset`, which must end by `end`; nil if it is malformed
    /// (groups, which ONNX never uses, count as malformed: the whole decode handles them).
    mutating func field(at offset: Int, end: Int) throws -> Field? {
        var position = offset
        guard let key = try varint(at: &position, end: end) else { return nil }
        let number = key >> 3, wireType = key & 7
        if number == 0 { return nil }
        let payloadStart: Int, payloadEnd: Int
        switch wireType {
        case 0:
            guard try varint(at: &position, end: end) != nil else { return nil }
            payloadStart = offset; payloadEnd = position
        case 1, 5:
            let width = wireType == 1 ? 8 : 4
            if end - position < width { return nil }
            payloadStart = position; payloadEnd = position + width
        case 2:
            guard let length = try varint(at: &position, end: end), length <= UInt64(end - position) else { return nil }
            payloadStart = position; payloadEnd = position + Int(length)
        default:
            return nil
        }
        return Field(number: number, wireType: wireType, whole: offset ..< payloadEnd, payload: payloadStart ..< payloadEnd)
    }

    /// The bytes in `range`, from the window when it holds them.
    mutating func read(_ range: Range<Int>) throws -> [UInt8] {
        if range.lowerBound >= windowStart && range.upperBound <= windowStart + windowBytes.count {
            return Array(windowBytes[(range.lowerBound - windowStart) ..< (range.upperBound - windowStart)])
        }
        return try bytes.read(range)
    }

    /// A varint at `position`, which it moves past; nil if it is longer than 10 bytes or runs past `end`.
    private mutating func varint(at position: inout Int, end: Int) throws -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < end, shift < 64 {
            let byte = try self.byte(at: position)
            position += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    private mutating func byte(at position: Int) throws -> UInt8 {
        if position < windowStart || position >= windowStart + windowBytes.count {
            windowStart = position
            windowBytes = try bytes.read(position ..< min(bytes.count, position + Self.window))
        }
        return windowBytes[position - windowStart]
    }
}
