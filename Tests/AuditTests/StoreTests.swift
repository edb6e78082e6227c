// Tests of datasets, shards and the results store below the language.
import Foundation
import Imaging
import Tensor
import Testing
@testable import Audit

private func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "mirage-audit-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Test func shardsParseAndOwnChunks() throws {
    let shard = try Shard(parsing: "1/3")
    #expect((0..<9).filter(shard.owns) == [1, 4, 7])
    #expect(throws: AuditError.self) { try Shard(parsing: "3/3") }
    #expect(throws: AuditError.self) { try Shard(parsing: "a/3") }
    #expect(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"]) == Shard(index: 2, count: 4))
    #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "0", "MIRAGE_SHARD_COUNT": "2"]) == Shard(index: 0, count: 2))
    #expect(try Shard.fromEnvironment([:]) == nil)
    #expect(throws: AuditError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "0"]) }
}

@Test func npyDatasetStreamsChunksOfTheMappedFile() throws {
    let folder = try temporaryFolder()
    let data = (0..<(10 * 4)).map { Float($0) }
    let path = folder + "/x.npy"
    try Data(NPY.encode(Tensor(shape: [10, 1, 2, 2], data: data), dtype: .uint8)).write(to: URL(fileURLWithPath: path))
    let dataset = try Dataset(paths: [path], chunkSize: 4, limit: 9)
    #expect(dataset.count == 9 && dataset.chunkCount == 3 && dataset.sampleShape == [1, 2, 2])
    let chunk = try dataset.load(dataset.range(ofChunk: 2))
    #expect(chunk.indices == [8])
    #expect(chunk.images.data == [32, 33, 34, 35].map { $0 / 255 })
    #expect(chunk.sources == ["\(path)[8]"])
}

@Test func folderDatasetRecordsUnreadableImages() throws {
    let folder = try temporaryFolder()
    try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
    let picture = try PNG.encode(Tensor(shape: [1, 3, 3], data: [Float](repeating: 0.5, count: 9)))
    try Data(picture).write(to: URL(fileURLWithPath: folder + "/a.png"))
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: folder + "/sub/b.png"))
    try Data(picture).write(to: URL(fileURLWithPath: folder + "/sub/c.png"))
    let dataset = try Dataset(paths: [folder], chunkSize: 8)
    let chunk = try dataset.load(0..<3)
    #expect(chunk.indices == [0, 2])
    #expect(chunk.failures.map(\.index) == [1])
    #expect(chunk.failures[0].source.hasSuffix("sub/b.png"))
    let empty = try temporaryFolder()
    #expect(throws: AuditError("dataset(): no .png, .jpg or .jpeg files in \(empty) (searched recursively)")) { try Dataset(paths: [empty]) }
}

@Test func storeCommitsChunksAndRefusesOtherRunsAndNewerSchemas() throws {
    let folder = try temporaryFolder()
    let path = folder + "/shard-0-of-1.sqlite"
    let info = RunInfo(fingerprint: "abc", settings: "{}", script: "", chunkCount: 2, chunkSize: 1, inCount: 1, oodCount: 1,
                       detectors: ["MSP"], attacked: false)
    let store = try ResultStore(path: path)
    try store.begin(info, shard: .whole)
    let row = SampleRow(index: 0, chunk: 0, split: "in", source: "x", target: nil, loss: nil, mape: nil, deltaL2: nil, error: nil,
                        image: nil, scores: ["MSP": (0.25, nil)])
    try store.commit(chunk: 0, samples: [row], seconds: 0.1, shard: .whole)
    #expect(try store.completedChunks() == [0])
    let results = try AuditResults.load(folder)
    #expect(results.missing == [1] && results.samples == [row])
    var other = info
    other.fingerprint = "def"
    #expect(throws: AuditError.self) { try ResultStore(path: path).begin(other, shard: .whole) }
    try ResultStore(path: path).queue.write { try $0.execute(sql: "UPDATE meta SET value = '2' WHERE key = 'schema_version'") }
    #expect(throws: AuditError("\(path) was written with store schema version 2; this Mirage reads versions up to 1: update Mirage")) {
        try ResultStore(path: path, readOnly: true)
    }
}

@Test func aStoreAnotherShardHasCreatedButNotSetUpHoldsNoRunYet() throws {
    // Three shards started at once: one finishes and reads the folder while another's file exists, empty, before
    // its first transaction. That store counts as not started (it was "not a Mirage results store").
    let folder = try temporaryFolder()
    FileManager.default.createFile(atPath: folder + "/shard-1-of-2.sqlite", contents: Data())
    #expect(try ResultStore(path: folder + "/shard-1-of-2.sqlite", readOnly: true).info() == nil)
    #expect { try AuditResults.load(folder) } throws: { "\($0)".contains("has started yet") }
}
