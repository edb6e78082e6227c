import Foundation
import Tensor

/// Save/load of an `OODAttack`'s full state (the encoder is not saved; pass it to `load`).
///
/// File format "MIRAGE-ATTACK v1", little-endian:
///
///     bytes 0..<8    magic "MIRATK01"
///     bytes 8..<16   UInt64 H: length of the JSON header
///     bytes 16..<16+H  UTF-8 JSON header (`AttackFileHeader`): version, configuration, objective, stepCount,
///                    optimizer step, bestStep, and a table of arrays {name, dtype "f32"|"f64", shape, offset}
///     then the raw arrays, each at 16 + H + offset: IEEE-754 float32 or float64, little-endian, row-major.
///
/// Arrays: xOut, x, delta, initialDelta, target0…, optFirst, optSecond, lossHistory [steps, B] (f32),
/// stepSeconds [steps] (f64), and when tracking the best: bestX, bestLoss. Configuration scalars are Doubles in
/// JSON (shortest round-trip representation), so a load reproduces every bit of the state.
struct AttackFileHeader: Codable {
    struct ArrayEntry: Codable {
        var name: String
        var dtype: String
        var shape: [Int]
        var offset: Int
    }
    var format: String
    var version: Int
    var configuration: AttackConfiguration
    var objective: AttackObjective
    var stepCount: Int
    var optimizerStep: Int
    var targetCount: Int
    var bestStep: [Int]?
    var arrays: [ArrayEntry]
    /// What the caller needs to rebuild the attack's context (e.g. the model path and layer names); optional, v1 files may lack it.
    var info: [String: String]?
}

/// What a caller stored beside the attack's state: strings and named arrays (arrays `extra:NAME` in the file).
public struct AttackFileContext: Sendable {
    /// Strings the caller stored (model path, layer names, …), keyed by name.
    public var info: [String: String]
    /// Named arrays the caller stored beside the attack's state (`extra:NAME` in the file).
    public var extras: [String: Tensor]
}

private let magic = Array("MIRATK01".utf8)

extension OODAttack {
    /// Writes the whole state to `url` (see `AttackFileHeader` for the format).
    public func save(to url: URL, info: [String: String] = [:], extras: [String: Tensor] = [:]) throws {
        var arrays: [AttackFileHeader.ArrayEntry] = []
        var payload = Data()
        func addF32(_ name: String, _ shape: [Int], _ values: [Float]) {
            arrays.append(.init(name: name, dtype: "f32", shape: shape, offset: payload.count))
            var le = values.map { $0.bitPattern.littleEndian }
            le.withUnsafeMutableBytes { payload.append(contentsOf: $0) }
        }
        func addF64(_ name: String, _ shape: [Int], _ values: [Double]) {
            arrays.append(.init(name: name, dtype: "f64", shape: shape, offset: payload.count))
            var le = values.map { $0.bitPattern.littleEndian }
            le.withUnsafeMutableBytes { payload.append(contentsOf: $0) }
        }
        addF32("xOut", xOut.shape, xOut.data)
        addF32("x", x.shape, x.data)
        addF32("delta", delta.shape, delta.data)
        addF32("initialDelta", initialDelta.shape, initialDelta.data)
        for (k, t) in targets.enumerated() { addF32("target\(k)", t.shape, t.data) }
        addF32("optFirst", [optimizerState.firstMoment.count], optimizerState.firstMoment)
        addF32("optSecond", [optimizerState.secondMoment.count], optimizerState.secondMoment)
        addF32("lossHistory", [lossHistory.count, batchSize], lossHistory.flatMap { $0 })
        addF64("stepSeconds", [stepSeconds.count], stepSeconds)
        if let bx = bestX, let bl = bestLoss {
            addF32("bestX", bx.shape, bx.data)
            addF32("bestLoss", [bl.count], bl)
        }
        for (name, t) in extras.sorted(by: { $0.key < $1.key }) { addF32("extra:\(name)", t.shape, t.data) }
        let header = AttackFileHeader(format: "mirage-attack", version: 1, configuration: configuration, objective: objective,
                                      stepCount: stepCount, optimizerStep: optimizerState.step, targetCount: targets.count,
                                      bestStep: bestStep, arrays: arrays, info: info.isEmpty ? nil : info)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var file = Data(magic)
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(payload)
        try file.write(to: url, options: .atomic)
    }

    /// Reads a state written by `save`; `encoder` must have the outputs the attack uses.
    public static func load(from url: URL, encoder: any DifferentiableEncoder) throws -> OODAttack {
        try AttackFileReader(url: url).attack(encoder: encoder)
    }

    /// The info and extra arrays a file carries, without rebuilding the attack (which needs the encoder).
    public static func context(in url: URL) throws -> AttackFileContext {
        try AttackFileReader(url: url).context()
    }
}

/// A parsed attack file: the header and typed access to its arrays, each checked against the file's length.
private struct AttackFileReader {
    let url: URL
    let bytes: [UInt8]
    let header: AttackFileHeader
    let headerEnd: Int
    let table: [String: AttackFileHeader.ArrayEntry]

    init(url: URL) throws {
        self.url = url
        let file: Data
        do { file = try Data(contentsOf: url) } catch {
            throw AttackError.fileFormat("cannot read \(url.path): \(error.localizedDescription)")
        }
        let bytes = [UInt8](file)
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else {
            throw AttackError.fileFormat("\(url.path) is not a Mirage attack file (bad magic)")
        }
        var len: UInt64 = 0
        for i in 0..<8 { len |= UInt64(bytes[8 + i]) << (8 * UInt64(i)) }
        guard len <= UInt64(bytes.count - 16) else { throw AttackError.fileFormat("truncated header") }
        let headerEnd = 16 + Int(len)
        let header: AttackFileHeader
        do {
            header = try JSONDecoder().decode(AttackFileHeader.self, from: Data(bytes[16..<headerEnd]))
        } catch {
            throw AttackError.fileFormat("bad JSON header: \(error)")
        }
        guard header.format == "mirage-attack", header.version == 1 else {
            throw AttackError.fileFormat("unsupported format \(header.format) version \(header.version)")
        }
        var table: [String: AttackFileHeader.ArrayEntry] = [:]
        for a in header.arrays { table[a.name] = a }
        self.bytes = bytes
        self.header = header
        self.headerEnd = headerEnd
        self.table = table
    }

    /// The little-endian words of array `name`, checked against its declared type and the file's length.
    func words<Word: FixedWidthInteger>(_ name: String, _ dtype: String, as: Word.Type) throws -> (shape: [Int], words: [Word]) {
        let width = MemoryLayout<Word>.size
        guard let e = table[name], e.dtype == dtype else {
            throw AttackError.fileFormat("missing \(dtype == "f32" ? "float32" : "float64") array '\(name)'")
        }
        let n = Tensor.elementCount(e.shape)
        let start = headerEnd + e.offset
        guard e.offset >= 0, n >= 0, start + width * n <= bytes.count else { throw AttackError.fileFormat("array '\(name)' is truncated") }
        let values = (0..<n).map { i in
            (0..<width).reduce(Word.zero) { bits, k in bits | Word(bytes[start + width * i + k]) << (8 * k) }
        }
        return (e.shape, values)
    }

    func f32(_ name: String) throws -> Tensor {
        let (shape, bits) = try words(name, "f32", as: UInt32.self)
        return Tensor(shape: shape, data: bits.map(Float.init(bitPattern:)))
    }

    func f64(_ name: String) throws -> [Double] {
        try words(name, "f64", as: UInt64.self).words.map(Double.init(bitPattern:))
    }

    func context() throws -> AttackFileContext {
        var extras: [String: Tensor] = [:]
        for name in table.keys where name.hasPrefix("extra:") { extras[String(name.dropFirst(6))] = try f32(name) }
        return AttackFileContext(info: header.info ?? [:], extras: extras)
    }

    func attack(encoder: any DifferentiableEncoder) throws -> OODAttack {
        let xOut = try f32("xOut")
        let b = xOut.shape.first ?? 0
        let loss = try f32("lossHistory")
        guard loss.shape.count == 2, loss.shape[1] == b, loss.shape[0] == header.stepCount else {
            throw AttackError.fileFormat("loss history shape \(loss.shape) does not match \(header.stepCount) steps × batch \(b)")
        }
        let history = (0..<loss.shape[0]).map { Array(loss.data[($0 * b)..<(($0 + 1) * b)]) }
        var opt = OptimizerState(settings: header.configuration.optimizer, count: xOut.count)
        opt.firstMoment = try f32("optFirst").data
        opt.secondMoment = try f32("optSecond").data
        opt.step = header.optimizerStep
        guard opt.firstMoment.count == xOut.count, opt.secondMoment.count == xOut.count else {
            throw AttackError.fileFormat("optimizer state size does not match x_out")
        }
        let targets = try (0..<header.targetCount).map { try f32("target\($0)") }
        let bestX = table["bestX"] == nil ? nil : try f32("bestX")
        let bestLoss = table["bestLoss"] == nil ? nil : try f32("bestLoss").data
        return try OODAttack(restoring: encoder, configuration: header.configuration, objective: header.objective,
                             xOut: xOut, targets: targets, initialDelta: try f32("initialDelta"), delta: try f32("delta"),
                             x: try f32("x"), optimizerState: opt, stepCount: header.stepCount, lossHistory: history,
                             stepSeconds: try f64("stepSeconds"), bestX: bestX, bestLoss: bestLoss, bestStep: header.bestStep)
    }
}
