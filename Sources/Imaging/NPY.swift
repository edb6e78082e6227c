import Tensor

/// NumPy's .npy format (versions 1 and 2; C order; float32, float64 and uint8, either byte order).
public enum NPY {
    /// The element types `encode` can write, named by their .npy `descr` strings (little-endian).
    public enum DType: String, Sendable, CaseIterable {
        case float32 = "<f4", float64 = "<f8", uint8 = "|u1"
    }

    /// Writes a version-1 file. uint8 values are clamped and rounded.
    public static func encode(_ tensor: Tensor, dtype: DType = .float32) -> [UInt8] {
        let shapeText = tensor.shape.isEmpty ? "()" : tensor.shape.count == 1 ? "(\(tensor.shape[0]),)"
            : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + "\n", padded with spaces to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = header.utf8.count
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        switch dtype {
        case .float32:
            out.reserveCapacity(out.count + tensor.count * 4)
            for v in tensor.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        case .float64:
            out.reserveCapacity(out.count + tensor.count * 8)
            for v in tensor.data { withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { out += $0 } }
        case .uint8:
            for v in tensor.data { out.append(v.isNaN ? 0 : UInt8(Swift.max(0, Swift.min(255, v.rounded())))) }
        }
        return out
    }

    /// What a .npy header says: the element type, the shape, and where the data starts.
    public struct Header: Sendable, Equatable {
        /// NumPy's type string, e.g. "<f4" or "|u1".
        public var descr: String
        /// The array's shape.
        public var shape: [Int]
        /// The byte offset of the first element.
        public var dataOffset: Int
        /// Bytes per element.
        public var elementSize: Int
    }

    /// Reads the header from the first bytes of a .npy file (at most the first 64 KiB are needed).
    public static func header(_ bytes: [UInt8]) throws -> Header {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw ImagingError("not a .npy file (missing the \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw ImagingError("truncated .npy header") }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw ImagingError("unsupported .npy version \(major)")
        }
        guard headerLength <= bytes.count - headerStart else { throw ImagingError("truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header).flatMap(quoted) else {
            throw ImagingError(".npy header has no 'descr': \(header)")
        }
        if let fortran = field("fortran_order", in: header), fortran.hasPrefix("True") {
            throw ImagingError(".npy files in Fortran order are not supported; save with C order")
        }
        guard let shapeText = field("shape", in: header), let shape = parseShape(shapeText) else {
            throw ImagingError(".npy header has no readable 'shape': \(header)")
        }
        guard shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else { throw ImagingError(".npy shape \(shape) is too large") }
        let width: Int
        switch String(descr.dropFirst()) {
        case "f4", "i4", "u4": width = 4
        case "f8", "i8", "u8": width = 8
        case "u1", "i1", "b1": width = 1
        case "i2", "u2": width = 2
        default: throw ImagingError(".npy dtype '\(descr)' is not supported (use float, integer or bool data)")
        }
        return Header(descr: descr, shape: shape, dataOffset: headerStart + headerLength, elementSize: width)
    }

    /// Reads a .npy file into a Float tensor.
    public static func decode(_ bytes: [UInt8]) throws -> Tensor {
        let header = try header(bytes)
        // Multiplied with a check at every step: a wrapped product of several large axes could look small (or negative).
        var count = 1
        for extent in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= 1 << 30 else { throw ImagingError(".npy shape \(header.shape) is too large") }
            count = product
        }
        let body = bytes[header.dataOffset...]
        guard body.count >= count * header.elementSize else {
            throw ImagingError("truncated .npy data: expected \(count * header.elementSize) bytes, found \(body.count)")
        }
        return try body.withUnsafeBytes { try elements(UnsafeRawBufferPointer(rebasing: $0[0..<(count * header.elementSize)]), descr: header.descr, shape: header.shape) }
    }

    /// Decodes raw element bytes of type `descr` (as in a .npy file) into a Float tensor of `shape`;
    /// `body` holds exactly the elements. Memory-mapped readers decode row ranges with it.
    public static func elements(_ body: UnsafeRawBufferPointer, descr: String, shape: [Int]) throws -> Tensor {
        let count = shape.reduce(1, *)
        let kind = String(descr.dropFirst())
        let bigEndian = descr.first == ">"
        let width = count == 0 ? 1 : body.count / count
        guard body.count == count * width else { throw ImagingError("truncated .npy data") }
        var data = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let start = i * width
            switch kind {
            case "f4":
                var bits: UInt32 = 0
                for b in 0..<4 { bits |= UInt32(body[start + b]) << (8 * (bigEndian ? 3 - b : b)) }
                data[i] = Float(bitPattern: bits)
            case "f8":
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(body[start + b]) << (8 * (bigEndian ? 7 - b : b)) }
                data[i] = Float(Double(bitPattern: bits))
            case "i1":
                data[i] = Float(Int8(bitPattern: body[start]))
            case "i2", "u2", "i4", "u4", "i8", "u8":
                // Integers (class labels, indices) become the nearest Float, exact up to 2^24.
                var bits: UInt64 = 0
                for b in 0..<width { bits |= UInt64(body[start + b]) << (8 * (bigEndian ? width - 1 - b : b)) }
                if kind.hasPrefix("u") {
                    data[i] = Float(bits)
                } else {
                    let shift = UInt64(64 - 8 * width)
                    data[i] = Float(Int64(bitPattern: bits << shift) >> Int64(shift))
                }
            default:
                data[i] = Float(body[start])
            }
        }
        return Tensor(shape: shape, data: data)
    }

    /// The text after `'key':` up to the next top-level comma or closing brace.
    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[range.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        var depth = 0
        var end = rest.startIndex
        while end < rest.endIndex {
            let c = rest[end]
            if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
            if depth == 0 && (c == "," || c == "}") { break }
            if depth < 0 { return nil }
            end = rest.index(after: end)
        }
        return String(rest[rest.startIndex..<end])
    }

    private static func quoted(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: " ")
        guard t.count >= 2, let q = t.first, q == "'" || q == "\"", t.last == q else { return nil }
        return String(t.dropFirst().dropLast())
    }

    private static func parseShape(_ text: String) -> [Int]? {
        let t = text.trimmingCharacters(in: " ")
        guard t.hasPrefix("("), t.hasSuffix(")") else { return nil }
        let inner = t.dropFirst().dropLast()
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let p = part.trimmingCharacters(in: " ").replacingOccurrences(of: "L", with: "")
            if p.isEmpty { continue }
            guard let n = Int(p) else { return nil }
            shape.append(n)
        }
        return shape
    }
}

private extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
    func replacingOccurrences(of a: String, with b: String) -> String {
        String(self).split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
