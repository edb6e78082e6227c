// The SQLite results store of a dataset-scale audit: one file per shard, one transaction per chunk.
import Foundation
import GRDB

/// One shard of a run: the chunks c with c mod count == index.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// This shard's index, from 0.
    public var index: Int
    /// The number of shards.
    public var count: Int

    /// The whole run in one process.
    public static let whole = Shard(uncheckedIndex: 0, count: 1)

    /// Checks 0 ≤ index < count.
    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw AuditError("shard count must be at least 1, got \(count)") }
        guard (0..<count).contains(index) else {
            throw AuditError("shard \(index)/\(count) is outside 0..\(count - 1) (shards count from 0)")
        }
        self.index = index
        self.count = count
    }

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses "I/N", as `mirage run --shard I/N` takes it.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw AuditError("--shard expects I/N with whole numbers, e.g. 0/4, got \(text)")
        }
        try self.init(index: i, count: n)
    }

    /// Whether chunk `c` belongs to this shard.
    public func owns(_ chunk: Int) -> Bool { chunk % count == index }

    /// "I/N".
    public var description: String { "\(index)/\(count)" }

    /// The file of this shard in a store folder.
    public func fileName() -> String { "shard-\(index)-of-\(count).sqlite" }

    /// The shard chosen by the environment: Slurm job arrays (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`),
    /// Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX` with `MIRAGE_SHARD_COUNT`), else nil.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Shard? {
        func pair(_ indexName: String, _ countName: String) throws -> Shard? {
            guard let indexText = environment[indexName] else { return nil }
            guard let countText = environment[countName] else {
                throw AuditError("\(indexName)=\(indexText) is set but \(countName) is not; set it to the number of tasks")
            }
            guard let i = Int(indexText), let n = Int(countText) else {
                throw AuditError("\(indexName)=\(indexText) and \(countName)=\(countText) must be whole numbers")
            }
            do { return try Shard(index: i, count: n) } catch let error as AuditError {
                throw AuditError("\(indexName)/\(countName): \(error.message)")
            }
        }
        return try pair("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT") ?? pair("JOB_COMPLETION_INDEX", "MIRAGE_SHARD_COUNT")
    }

    /// Set by `mirage run --shard`; read by dataset audits before the environment.
    nonisolated(unsafe) public static var commandLine: Shard?
    /// The script `mirage run` executes; part of a store's fingerprint.
    nonisolated(unsafe) public static var scriptSource: String?

    /// The shard an audit run uses: `--shard`, then the environment, else the whole run.
    public static func current() throws -> Shard { try commandLine ?? fromEnvironment() ?? .whole }

    static func unchecked(_ index: Int, _ count: Int) -> Shard { Shard(uncheckedIndex: index, count: count) }
}

/// What one sample's row holds (see docs/audit.md for the schema).
public struct SampleRow: Sendable, Equatable {
    /// Global sample index: in-distribution samples first, then OOD ones.
    public var index: Int
    /// The chunk that holds it.
    public var chunk: Int
    /// "in" or "ood".
    public var split: String
    /// Where the image came from.
    public var source: String
    /// For OOD samples: the in-distribution index whose features the attack matched.
    public var target: Int?
    /// The attack's final loss (OOD samples).
    public var loss: Double?
    /// The attack's final MAPE (OOD samples).
    public var mape: Double?
    /// ‖δ‖₂ of the final perturbation (OOD samples).
    public var deltaL2: Double?
    /// Why the sample could not be used (unreadable image), or nil.
    public var error: String?
    /// The attacked image as float32 bytes, when asked for.
    public var image: Data?
    /// Detector name → (raw score, attacked score).
    public var scores: [String: (raw: Double?, attacked: Double?)]

    /// Equal field by field, scores bit for bit.
    public static func == (a: SampleRow, b: SampleRow) -> Bool {
        a.index == b.index && a.chunk == b.chunk && a.split == b.split && a.source == b.source && a.target == b.target
            && a.loss == b.loss && a.mape == b.mape && a.deltaL2 == b.deltaL2 && a.error == b.error && a.image == b.image
            && a.scores.keys.sorted() == b.scores.keys.sorted()
            && a.scores.allSatisfy { k, v in b.scores[k].map { $0.raw == v.raw && $0.attacked == v.attacked } ?? false }
    }
}

/// What a run records about itself; two stores merge only if these agree.
public struct RunInfo: Sendable, Equatable {
    /// SHA-256 of the script, the settings and the schema version.
    public var fingerprint: String
    /// Human-readable settings (JSON).
    public var settings: String
    /// The script's text ("" when unknown).
    public var script: String
    /// Chunks in the whole run.
    public var chunkCount: Int
    /// Samples per chunk.
    public var chunkSize: Int
    /// In-distribution samples.
    public var inCount: Int
    /// OOD samples.
    public var oodCount: Int
    /// Detector names, in order.
    public var detectors: [String]
    /// Whether OOD samples are attacked.
    public var attacked: Bool
}

/// A store file: schema, reading and the per-chunk transaction.
public final class ResultStore {
    /// The schema this Mirage writes; it reads this version and older ones.
    public static let schemaVersion = 1

    /// The store file.
    public let path: String
    let queue: DatabaseQueue

    /// Opens (or creates) a store file; refuses files of a newer schema.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw AuditError("cannot open the store \(path): \(error)")
        }
        try wrap {
            if !readOnly {
                try queue.write { db in
                    try db.execute(sql: """
                        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                        CREATE TABLE IF NOT EXISTS chunks (chunk INTEGER PRIMARY KEY, samples INTEGER NOT NULL,
                            seconds REAL NOT NULL, shard TEXT NOT NULL, finished_at TEXT NOT NULL);
                        CREATE TABLE IF NOT EXISTS samples (idx INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, split TEXT NOT NULL,
                            source TEXT NOT NULL, target INTEGER, loss REAL, mape REAL, delta_l2 REAL, error TEXT, image BLOB);
                        CREATE TABLE IF NOT EXISTS scores (idx INTEGER NOT NULL, detector TEXT NOT NULL, raw REAL, attacked REAL,
                            PRIMARY KEY (idx, detector));
                        """)
                    if try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'") == nil {
                        try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", arguments: ["\(Self.schemaVersion)"])
                    }
                }
            }
        }
        // A reader can meet a store another shard's process has created but not yet set up (its tables come in
        // the first transaction): that store holds no run yet.
        if readOnly, try !wrap({ try queue.read { try $0.tableExists("meta") } }) { return }
        let version = try schemaVersion()
        guard version <= Self.schemaVersion else {
            throw AuditError("\(path) was written with store schema version \(version); this Mirage reads versions up to \(Self.schemaVersion): update Mirage")
        }
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as AuditError { throw error } catch {
            throw AuditError("\(path): \(error)")
        }
    }

    /// The schema version recorded in the file.
    public func schemaVersion() throws -> Int {
        try wrap {
            try queue.read { db in
                guard try db.tableExists("meta"),
                      let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'"), let v = Int(text) else {
                    throw AuditError("\(path) is not a Mirage results store (no schema version)")
                }
                return v
            }
        }
    }

    /// The run information, or nil for a store no run has started yet.
    public func info() throws -> RunInfo? {
        try wrap {
            try queue.read { db in
                guard try db.tableExists("meta") else { return nil }
                let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM meta")
                var meta: [String: String] = [:]
                for row in rows { meta[row["key"]] = row["value"] }
                guard let fingerprint = meta["fingerprint"] else { return nil }
                func int(_ key: String) throws -> Int {
                    guard let v = meta[key].flatMap(Int.init) else { throw AuditError("\(path): meta has no valid \(key)") }
                    return v
                }
                let detectors = try JSONDecoder().decode([String].self, from: Data((meta["detectors"] ?? "[]").utf8))
                return RunInfo(fingerprint: fingerprint, settings: meta["settings"] ?? "", script: meta["script"] ?? "",
                               chunkCount: try int("chunk_count"), chunkSize: try int("chunk_size"), inCount: try int("in_count"),
                               oodCount: try int("ood_count"), detectors: detectors, attacked: meta["attacked"] == "true")
            }
        }
    }

    /// Records the run information of a new store, or checks that an existing one was made by the same run.
    public func begin(_ info: RunInfo, shard: Shard) throws {
        if let existing = try self.info() {
            guard existing.fingerprint == info.fingerprint else {
                throw AuditError("\(path) holds results of a different script or settings (fingerprint \(existing.fingerprint.prefix(12)) ≠ \(info.fingerprint.prefix(12))); use another out= folder or delete the store")
            }
            return
        }
        let detectors = String(decoding: try JSONEncoder().encode(info.detectors), as: UTF8.self)
        let values: [String: String] = [
            "fingerprint": info.fingerprint, "settings": info.settings, "script": info.script,
            "chunk_count": "\(info.chunkCount)", "chunk_size": "\(info.chunkSize)", "in_count": "\(info.inCount)",
            "ood_count": "\(info.oodCount)", "detectors": detectors, "attacked": info.attacked ? "true" : "false",
            "shard_index": "\(shard.index)", "shard_count": "\(shard.count)",
        ]
        try wrap {
            try queue.write { db in
                for (key, value) in values {
                    try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
                }
            }
        }
    }

    /// The shard this file was written by (from its meta), if recorded.
    public func shard() throws -> Shard? {
        try wrap {
            try queue.read { db in
                guard try db.tableExists("meta"),
                      let i = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'shard_index'").flatMap(Int.init),
                      let n = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'shard_count'").flatMap(Int.init) else { return nil }
                return Shard.unchecked(i, n)
            }
        }
    }

    /// The chunks committed so far.
    public func completedChunks() throws -> Set<Int> {
        try wrap { try queue.read { db in Set(try Int.fetchAll(db, sql: "SELECT chunk FROM chunks")) } }
    }

    /// Writes a chunk's samples and its chunk row in one transaction: after a crash either all of it is there or none.
    public func commit(chunk: Int, samples: [SampleRow], seconds: Double, shard: Shard) throws {
        try wrap {
            try queue.inTransaction { db in
                for s in samples {
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO samples (idx, chunk, split, source, target, loss, mape, delta_l2, error, image)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [s.index, s.chunk, s.split, s.source, s.target, s.loss, s.mape, s.deltaL2, s.error, s.image])
                    for (name, score) in s.scores.sorted(by: { $0.key < $1.key }) {
                        try db.execute(sql: "INSERT OR REPLACE INTO scores (idx, detector, raw, attacked) VALUES (?, ?, ?, ?)",
                                       arguments: [s.index, name, score.raw, score.attacked])
                    }
                }
                try db.execute(sql: "INSERT OR REPLACE INTO chunks (chunk, samples, seconds, shard, finished_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [chunk, samples.count, seconds, shard.description, ISO8601DateFormatter().string(from: Date())])
                return .commit
            }
        }
    }

    /// Every sample of the committed chunks, by index.
    public func samples() throws -> [SampleRow] {
        try wrap {
            try queue.read { db in
                var rows: [Int: SampleRow] = [:]
                var order: [Int] = []
                // Cursors, not fetchAll: rows are read one at a time, so memory holds only the SampleRows.
                let sampleRows = try Row.fetchCursor(db, sql: """
                    SELECT s.idx, s.chunk, s.split, s.source, s.target, s.loss, s.mape, s.delta_l2, s.error, s.image
                    FROM samples s JOIN chunks c ON s.chunk = c.chunk ORDER BY s.idx
                    """)
                while let r = try sampleRows.next() {
                    let index: Int = r["idx"]
                    order.append(index)
                    rows[index] = SampleRow(index: index, chunk: r["chunk"], split: r["split"], source: r["source"], target: r["target"],
                                            loss: r["loss"], mape: r["mape"], deltaL2: r["delta_l2"], error: r["error"], image: r["image"],
                                            scores: [:])
                }
                let scoreRows = try Row.fetchCursor(db, sql: "SELECT idx, detector, raw, attacked FROM scores ORDER BY idx, detector")
                while let r = try scoreRows.next() {
                    let index: Int = r["idx"]
                    guard rows[index] != nil else { continue }
                    rows[index]!.scores[r["detector"]] = (r["raw"], r["attacked"])
                }
                return order.map { rows[$0]! }
            }
        }
    }

    /// Seconds spent per committed chunk.
    public func chunkSeconds() throws -> [Int: Double] {
        try wrap {
            try queue.read { db in
                Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT chunk, seconds FROM chunks").map { ($0["chunk"] as Int, $0["seconds"] as Double) })
            }
        }
    }
}
