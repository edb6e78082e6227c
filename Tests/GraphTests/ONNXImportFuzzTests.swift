import Foundation
import Testing
@testable import Graph

/// Seeded mutation fuzzing: every mutated fixture either loads or throws ModelError, promptly.
@Suite("ONNX import: mutation fuzz")
struct ONNXImportFuzzTests {
    /// MIRAGE_ONNX_FUZZ_MUTATIONS=N runs N per seed instead (a long run, by hand).
    static let mutationsPerSeed = ProcessInfo.processInfo.environment["MIRAGE_ONNX_FUZZ_MUTATIONS"].flatMap { Int($0) } ?? 1000
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6]

    @Test(arguments: seeds)
    func mutatedFixturesLoadOrThrowModelError(seed: UInt64) throws {
        let corpus = try Fixtures.all.map { try Fixtures.bytes($0) }
        try #require(corpus.count >= 10)
        var rng = SplitMix64(seed: seed)
        var loaded = 0
        var refused = 0
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<Self.mutationsPerSeed {
            var bytes = corpus[Int(rng.next() % UInt64(corpus.count))]
            for _ in 0..<(rng.next() % 4 == 0 ? 2 : 1) {
                bytes = mutate(bytes, corpus: corpus, rng: &rng)
            }
            let before = clock.now
            do {
                // The fixtures directory, so that external-data references resolve (and some escape).
                _ = try ONNXImport.load(bytes: bytes, directory: Fixtures.directory)
                loaded += 1
            } catch is ModelError {
                refused += 1
            } catch {
                Issue.record("not a ModelError: \(error) for bytes \(bytes)")
            }
            let elapsed = clock.now - before
            #expect(elapsed < .seconds(2), "one import took \(elapsed): bytes \(bytes)")
        }
        #expect(loaded + refused == Self.mutationsPerSeed)
        #expect(clock.now - start < .seconds(30) * max(1, Self.mutationsPerSeed / 1000))
        print("fuzz seed \(seed): \(loaded) loaded, \(refused) refused with ModelError in \(clock.now - start)")
    }

    func mutate(_ input: [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        func position(_ extra: Int = 0) -> Int { Int(rng.next() % UInt64(bytes.count + extra)) }
        switch rng.next() % 8 {
        case 0 where !bytes.isEmpty:                      // bit flips
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let i = position()
                bytes[i] ^= UInt8(1) << UInt8(rng.next() % 8)
            }
        case 1:                                           // truncation
            bytes = Array(bytes.prefix(position(1)))
        case 2:                                           // insertion of random bytes
            let i = position(1)
            bytes.insert(contentsOf: (0..<Int(rng.next() % 8 + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: i)
        case 3 where !bytes.isEmpty:                      // deletion of a range
            let i = position()
            let n = min(bytes.count - i, Int(rng.next() % 16 + 1))
            bytes.removeSubrange(i ..< i + n)
        case 4:                                           // splice: prefix of this, suffix of another
            let other = corpus[Int(rng.next() % UInt64(corpus.count))]
            let cut = position(1)
            let from = Int(rng.next() % UInt64(other.count + 1))
            bytes = Array(bytes.prefix(cut)) + Array(other.suffix(from: from))
        case 5 where !bytes.isEmpty:                      // interesting values: varint extremes, lengths
            let i = position()
            let values: [[UInt8]] = [[0xff], [0x00], [0x80], [0x7f], [0xff, 0xff, 0xff, 0xff, 0x0f],
                                     [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x01]]
            let value = values[Int(rng.next() % UInt64(values.count))]
            let n = min(value.count, bytes.count - i)
            bytes.replaceSubrange(i ..< i + n, with: value)
        case 6 where !bytes.isEmpty:                      // duplicate a chunk
            let i = position()
            let n = min(bytes.count - i, Int(rng.next() % 64 + 1))
            bytes.insert(contentsOf: bytes[i ..< i + n], at: position(1))
        default:                                          // random byte overwrite
            if !bytes.isEmpty { bytes[position()] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        return bytes
    }
}
