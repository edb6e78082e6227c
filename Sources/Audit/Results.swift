// Reading a run's stores back: completeness per shard, the merged samples, the metrics table, `mirage merge`.
import Attack
import Foundation

/// How far one store file got.
public struct ShardStatus: Sendable {
    /// The store file's path.
    public var file: String
    /// The shard that wrote it (nil for a merged store).
    public var shard: Shard?
    /// Chunks it has committed.
    public var chunksDone: Int
    /// The chunks this shard owns.
    public var chunksOwned: Int
    /// Seconds its committed chunks took.
    public var seconds: Double
}

/// One row of the metrics table: a detector against one OOD set.
public struct MetricsRow: Sendable {
    /// The detector's name.
    public var detector: String
    /// "raw OOD" or "attacked OOD".
    public var set: String
    /// In-distribution scores used.
    public var inCount: Int
    /// OOD scores used.
    public var oodCount: Int
    /// AUROC, AUPR-In, AUPR-Out and FPR95.
    public var metrics: DetectionMetrics
}

/// A finished or partial run, read from every store file of its folder.
public struct AuditResults {
    /// The store folder.
    public var folder: String
    /// The run information all its stores share.
    public var info: RunInfo
    /// Committed samples of all shards, by index.
    public var samples: [SampleRow]
    /// How far each store file got.
    public var shards: [ShardStatus]
    /// Chunks no store holds yet.
    public var missing: [Int]

    /// Whether every chunk is present.
    public var complete: Bool { missing.isEmpty }

    /// The store files of a folder: the shards' files, or the merged one if there are none.
    public static func storeFiles(in folder: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw AuditError("no results folder \(folder)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        let shards = names.filter { $0.hasPrefix("shard-") && $0.hasSuffix(".sqlite") }.sorted()
        let chosen = shards.isEmpty ? names.filter { $0 == mergedFileName } : shards
        guard !chosen.isEmpty else { throw AuditError("no results store (shard-*.sqlite or \(mergedFileName)) in \(folder)") }
        return chosen.map { (folder as NSString).appendingPathComponent($0) }
    }

    /// The merged store `mirage merge` writes.
    public static let mergedFileName = "merged.sqlite"

    /// Loads every store of `folder`; checks they come from the same script and settings and agree where they overlap.
    public static func load(_ folder: String) throws -> AuditResults {
        var info: (RunInfo, String)?
        var byIndex: [Int: SampleRow] = [:]
        var chunkOwner: [Int: String] = [:]
        var statuses: [ShardStatus] = []
        for file in try storeFiles(in: folder) {
            let store = try ResultStore(path: file, readOnly: true)
            guard let fileInfo = try store.info() else {
                statuses.append(ShardStatus(file: file, shard: try store.shard(), chunksDone: 0, chunksOwned: 0, seconds: 0))
                continue
            }
            if let (first, firstFile) = info {
                guard first.fingerprint == fileInfo.fingerprint else {
                    throw AuditError("\(file) comes from a different script or settings than \(firstFile) (fingerprints \(fileInfo.fingerprint.prefix(12)) and \(first.fingerprint.prefix(12))); merge only shards of one run")
                }
            } else {
                info = (fileInfo, file)
            }
            let shard = try store.shard()
            let seconds = try store.chunkSeconds()
            let owned = shard.map { s in (0..<fileInfo.chunkCount).filter(s.owns).count } ?? fileInfo.chunkCount
            statuses.append(ShardStatus(file: file, shard: shard, chunksDone: seconds.count, chunksOwned: owned,
                                        seconds: seconds.values.reduce(0, +)))
            for row in try store.samples() {
                if let other = byIndex[row.index] {
                    guard other == row else {
                        throw AuditError("chunk \(row.chunk) differs between \(chunkOwner[row.chunk] ?? "?") and \(file) (sample \(row.index)); the runs are not the same")
                    }
                    continue
                }
                byIndex[row.index] = row
                chunkOwner[row.chunk] = file
            }
        }
        guard let (runInfo, _) = info else { throw AuditError("no chunk of \(folder) has started yet (its stores hold no run)") }
        let missing = (0..<runInfo.chunkCount).filter { chunkOwner[$0] == nil }
        return AuditResults(folder: folder, info: runInfo, samples: byIndex.keys.sorted().map { byIndex[$0]! }, shards: statuses,
                            missing: missing)
    }

    /// The error `mirage merge` gives for an incomplete run: the missing chunks, by shard.
    public func missingDescription(shardCount: Int?) -> String {
        var text = "\(missing.count) of \(info.chunkCount) chunks are missing in \(folder): " + ranges(missing)
        if let n = shardCount, n > 1 {
            let byShard = Dictionary(grouping: missing, by: { $0 % n }).sorted { $0.key < $1.key }
            text += "\n" + byShard.map { "  shard \($0.key)/\(n): chunks " + ranges($0.value) }.joined(separator: "\n")
        }
        return text
    }

    /// The samples that could not be used (unreadable images), with why.
    public var skipped: [SampleRow] { samples.filter { $0.error != nil } }

    /// AUROC, AUPR and FPR95 per detector, for raw and (if attacked) attacked OOD samples, over the committed samples.
    public func metrics(convention: FPRConvention = .inDistributionPositive) throws -> [MetricsRow] {
        var rows: [MetricsRow] = []
        for name in info.detectors {
            let sIn = samples.filter { $0.split == "in" }.compactMap { $0.scores[name]?.raw }
            let raw = samples.filter { $0.split == "ood" }.compactMap { $0.scores[name]?.raw }
            var sets = [("raw OOD", raw)]
            if info.attacked { sets.append(("attacked OOD", samples.filter { $0.split == "ood" }.compactMap { $0.scores[name]?.attacked })) }
            for (label, s) in sets where !sIn.isEmpty && !s.isEmpty {
                let m = try DetectionMetrics(inDistribution: sIn, outOfDistribution: s, convention: convention)
                rows.append(MetricsRow(detector: name, set: label, inCount: sIn.count, oodCount: s.count, metrics: m))
            }
        }
        return rows
    }

    /// The metrics as CSV with every digit (`metrics.csv`; byte-identical for identical results).
    public func metricsCSV(convention: FPRConvention = .inDistributionPositive) throws -> String {
        var lines = ["detector,set,n_in,n_ood,auroc,aupr_in,aupr_out,fpr95"]
        for r in try metrics(convention: convention) {
            let m = r.metrics
            lines.append("\(csvField(r.detector)),\(r.set),\(r.inCount),\(r.oodCount),"
                         + [m.auroc, m.auprIn, m.auprOut, m.fpr95].map { String(format: "%.17g", $0) }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The metrics table as aligned text (what `mirage merge` prints).
    public func metricsTable(convention: FPRConvention = .inDistributionPositive) throws -> String {
        let header = ["detector", "OOD set", "AUROC", "AUPR-In", "AUPR-Out", "FPR95"]
        let body = try metrics(convention: convention).map { r in
            [r.detector, r.set] + [r.metrics.auroc, r.metrics.auprIn, r.metrics.auprOut, r.metrics.fpr95].map { String(format: "%.4f", $0) }
        }
        let widths = header.indices.map { c in ([header] + body).map { $0[c].count }.max()! }
        let line = { (cells: [String]) in
            cells.enumerated().map { c, cell in c < 2 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - cell.count) + cell }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + body.map(line)).joined(separator: "\n")
    }

    /// Per-shard progress lines.
    public var progressLines: [String] {
        shards.map { s in
            let name = (s.file as NSString).lastPathComponent
            let who = s.shard.map { "shard \($0)" } ?? "merged"
            return "\(who) (\(name)): \(s.chunksDone)/\(s.chunksOwned) chunks" + (s.chunksDone > 0 ? String(format: ", %.1f s", s.seconds) : "")
        }
    }

    /// A Markdown report: progress, metrics, skipped samples, attack summary.
    public func report(convention: FPRConvention = .inDistributionPositive) throws -> String {
        let ood = samples.filter { $0.split == "ood" }
        var text = "# Audit results: \(folder)\n\n"
        text += "\(info.inCount) in-distribution and \(info.oodCount) OOD samples in \(info.chunkCount) chunks of \(info.chunkSize); "
        text += complete ? "all chunks present.\n\n" : "\(missing.count) chunks missing: \(ranges(missing)).\n\n"
        text += "## Shards\n\n" + progressLines.map { "- " + $0 }.joined(separator: "\n") + "\n\n"
        text += "## Metrics (\(convention.label))\n\n```\n" + (try metricsTable(convention: convention)) + "\n```\n\n"
        let mape = ood.compactMap(\.mape).sorted()
        if !mape.isEmpty {
            text += "## Attack\n\n\(mape.count) attacked samples; MAPE median \(String(format: "%.5f", mape[mape.count / 2])), "
                + "share ≤ 1%: \(String(format: "%.3f", Double(mape.filter { $0 <= 0.01 }.count) / Double(mape.count))).\n\n"
        }
        let skipped = self.skipped
        if !skipped.isEmpty {
            text += "## Skipped samples\n\n" + skipped.map { "- sample \($0.index) (chunk \($0.chunk)) \($0.source): \($0.error!)" }.joined(separator: "\n") + "\n\n"
        }
        text += "## Settings\n\n```json\n\(info.settings)\n```\n"
        return text
    }

    /// Writes the merged store (one transaction per chunk), `metrics.csv` and `report.md` into the folder.
    public func writeMerged(convention: FPRConvention = .inDistributionPositive) throws -> String {
        let path = (folder as NSString).appendingPathComponent(Self.mergedFileName)
        let temporary = path + ".partial"
        try? FileManager.default.removeItem(atPath: temporary)
        let store = try ResultStore(path: temporary)
        try store.begin(info, shard: .whole)
        for (chunk, rows) in Dictionary(grouping: samples, by: \.chunk).sorted(by: { $0.key < $1.key }) {
            try store.commit(chunk: chunk, samples: rows, seconds: 0, shard: .whole)
        }
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
            try Data(try metricsCSV(convention: convention).utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("metrics.csv")))
            try Data(try report(convention: convention).utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("report.md")))
        } catch {
            throw AuditError("cannot write the merged results into \(folder): \(error.localizedDescription)")
        }
        return path
    }
}

private func csvField(_ s: String) -> String {
    s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// "0-3, 7, 9-10".
func ranges(_ values: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    while i < values.count {
        var j = i
        while j + 1 < values.count && values[j + 1] == values[j] + 1 { j += 1 }
        parts.append(i == j ? "\(values[i])" : "\(values[i])-\(values[j])")
        i = j + 1
    }
    return parts.joined(separator: ", ")
}
