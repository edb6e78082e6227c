// Runs a dataset-scale audit chunk by chunk into a results store: sharded, resumable and deterministic.
import Attack
import Crypto
import Foundation
import Tensor

/// A detector as the store sees it: a name and a scoring function (higher = more OOD), one score per image.
public struct AuditDetector {
    /// The name tables and the store use (the `scores.detector` column).
    public var name: String
    /// Scores for a batch [n, C, H, W]: n numbers, higher = more OOD.
    public var score: (Tensor) throws -> [Float]
    /// A detector from its name and scoring function.
    public init(name: String, score: @escaping (Tensor) throws -> [Float]) {
        self.name = name
        self.score = score
    }
}

/// The OOD attack applied to every OOD sample: OOD sample j is pushed towards the features of in-distribution
/// sample j mod N_in. Each chunk's uniform start is drawn from a seed derived from (seed, chunk index).
public struct AttackPlan {
    /// The encoder whose features the attack matches.
    public var encoder: any DifferentiableEncoder
    /// The encoder outputs matched, with their weights.
    public var outputs: [OutputWeight]
    /// Norm, ε, learning rate, optimizer; a uniform start gets each chunk's own seed.
    public var configuration: AttackConfiguration
    /// Attack steps per chunk.
    public var steps: Int
    /// The run's seed; chunk c uses `AuditRun.chunkSeed(seed, chunk: c)`.
    public var seed: UInt64
    /// Whether attacked images go into the store (float32 bytes, C·H·W each).
    public var saveImages: Bool

    /// An attack plan.
    public init(encoder: any DifferentiableEncoder, outputs: [OutputWeight], configuration: AttackConfiguration, steps: Int,
                seed: UInt64, saveImages: Bool = false) {
        self.encoder = encoder
        self.outputs = outputs
        self.configuration = configuration
        self.steps = steps
        self.seed = seed
        self.saveImages = saveImages
    }
}

/// Progress after each chunk.
public struct AuditProgress: Sendable {
    /// Chunks of this shard done (including those a previous run committed) and in all.
    public var chunksDone: Int
    /// Chunks this shard owns.
    public var chunksTotal: Int
    /// Images processed in this process, and the seconds it took.
    public var images: Int
    /// Seconds since this process started the run.
    public var seconds: Double

    /// Images per second in this process.
    public var imagesPerSecond: Double { seconds > 0 ? Double(images) / seconds : 0 }

    /// "chunks 3/10 · 41.2 images/s · ETA 12 s".
    public var line: String {
        var text = "chunks \(chunksDone)/\(chunksTotal) · " + String(format: "%.1f images/s", imagesPerSecond)
        let left = chunksTotal - chunksDone
        if left > 0, sessionChunks > 0 { text += " · ETA " + formatDuration(seconds / Double(sessionChunks) * Double(left)) }
        return text
    }
    /// Chunks done by this process (for the ETA).
    public var sessionChunks: Int
}

func formatDuration(_ s: Double) -> String {
    if s < 90 { return String(format: "%.0f s", s) }
    if s < 5400 { return String(format: "%.1f min", s / 60) }
    return String(format: "%.1f h", s / 3600)
}

/// A dataset audit: in-distribution and OOD datasets, detectors, and optionally the attack.
public struct AuditRun {
    /// In-distribution samples (indices 0..<N_in).
    public var inDist: Dataset
    /// OOD samples (indices N_in..<N_in+N_ood), attacked when `attack` is set.
    public var ood: Dataset
    /// Detectors scored on every sample, raw and attacked.
    public var detectors: [AuditDetector]
    /// The OOD attack, or nil for scores only.
    public var attack: AttackPlan?
    /// Samples per chunk (global: in-distribution samples first, then OOD ones).
    public var chunkSize: Int
    /// Settings beyond the above that change results (e.g. how detectors were fitted), for the fingerprint.
    public var extraSettings: [String: String]
    /// The script, recorded in the store and part of the fingerprint ("" when unknown, as in a notebook).
    public var script: String

    /// Checks the datasets' shapes agree and there is something to do.
    public init(inDist: Dataset, ood: Dataset, detectors: [AuditDetector], attack: AttackPlan?, chunkSize: Int,
                extraSettings: [String: String] = [:], script: String = "") throws {
        guard chunkSize >= 1 else { throw AuditError("the chunk size must be at least 1, got \(chunkSize)") }
        guard !detectors.isEmpty || attack != nil else { throw AuditError("an audit needs detectors or an attack") }
        guard inDist.sampleShape == ood.sampleShape else {
            throw AuditError("in-distribution images are \(inDist.sampleShape) but OOD images \(ood.sampleShape); pass size= and gray= to dataset()")
        }
        self.inDist = inDist
        self.ood = ood
        self.detectors = detectors
        self.attack = attack
        self.chunkSize = chunkSize
        self.extraSettings = extraSettings
        self.script = script
    }

    /// In-distribution plus OOD samples.
    public var sampleCount: Int { inDist.count + ood.count }
    /// Chunks over all samples (global, the same for every shard).
    public var chunkCount: Int { (sampleCount + chunkSize - 1) / chunkSize }

    /// The settings as sorted JSON: everything that decides the results.
    public func settings() throws -> String {
        var s = extraSettings
        s["in_dist"] = inDist.identity
        s["ood"] = ood.identity
        s["chunk_size"] = "\(chunkSize)"
        s["detectors"] = detectors.map(\.name).joined(separator: " | ")
        if let attack {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let configuration = String(decoding: try encoder.encode(attack.configuration), as: UTF8.self)
            s["attack"] = "outputs=\(attack.outputs.map { "\($0.name)*\($0.weight)" }) steps=\(attack.steps) seed=\(attack.seed) images=\(attack.saveImages) configuration=\(configuration)"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(s), as: UTF8.self)
    }

    /// What the store records: the fingerprint and the run's shape.
    public func info() throws -> RunInfo {
        let settings = try self.settings()
        let digest = SHA256.hash(data: Data("schema \(ResultStore.schemaVersion)\n\(settings)\n\(script)".utf8))
        return RunInfo(fingerprint: digest.map { String(format: "%02x", $0) }.joined(), settings: settings, script: script,
                       chunkCount: chunkCount, chunkSize: chunkSize, inCount: inDist.count, oodCount: ood.count,
                       detectors: detectors.map(\.name), attacked: attack != nil)
    }

    /// The seed of chunk `c`'s attack start: SplitMix64 of (seed, c), the same whichever shard runs it.
    public static func chunkSeed(_ seed: UInt64, chunk: Int) -> UInt64 {
        var generator = SeededGenerator(seed: seed ^ (UInt64(chunk) &* 0x9E37_79B9_7F4A_7C15))
        return generator.next()
    }

    /// Runs this shard's chunks that `folder`'s store lacks, committing each in its own transaction.
    /// Returns the shard's store. `shouldStop` is asked between chunks and attack steps; a stop leaves the
    /// chunk in flight uncommitted.
    @discardableResult
    public func run(into folder: String, shard: Shard, shouldStop: () -> Bool = { false },
                    progress: (AuditProgress) -> Void = { _ in }) throws -> ResultStore {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw AuditError("cannot create the store folder \(folder): \(error.localizedDescription)")
        }
        let store = try ResultStore(path: (folder as NSString).appendingPathComponent(shard.fileName()))
        try store.begin(try info(), shard: shard)
        let mine = (0..<chunkCount).filter(shard.owns)
        let done = try store.completedChunks()
        let clock = ContinuousClock(), started = clock.now
        var images = 0, sessionChunks = 0
        var report = AuditProgress(chunksDone: mine.filter(done.contains).count, chunksTotal: mine.count, images: 0, seconds: 0,
                                   sessionChunks: 0)
        progress(report)
        for chunk in mine where !done.contains(chunk) {
            if shouldStop() { throw AuditInterrupted() }
            let chunkStart = clock.now
            let rows = try runChunk(chunk, shouldStop: shouldStop)
            let elapsed = clock.now - chunkStart
            try store.commit(chunk: chunk, samples: rows, seconds: seconds(elapsed), shard: shard)
            images += rows.count
            sessionChunks += 1
            report.chunksDone += 1
            report.images = images
            report.sessionChunks = sessionChunks
            report.seconds = seconds(clock.now - started)
            progress(report)
        }
        return store
    }

    /// The rows of one chunk.
    func runChunk(_ chunk: Int, shouldStop: () -> Bool) throws -> [SampleRow] {
        let range = (chunk * chunkSize)..<min(sampleCount, (chunk + 1) * chunkSize)
        var rows: [SampleRow] = []
        // In-distribution part.
        let inRange = range.clamped(to: 0..<inDist.count)
        if !inRange.isEmpty {
            let part = try inDist.load(inRange)
            rows += try scoreRows(part, chunk: chunk, split: "in", offset: 0)
        }
        // OOD part, attacked.
        let oodPart = range.clamped(to: inDist.count..<sampleCount)
        if !oodPart.isEmpty {
            let oodRange = (oodPart.lowerBound - inDist.count)..<(oodPart.upperBound - inDist.count)
            let part = try ood.load(oodRange)
            var oodRows = try scoreRows(part, chunk: chunk, split: "ood", offset: inDist.count)
            if let attack, !part.indices.isEmpty {
                try attackRows(&oodRows, part, attack: attack, chunk: chunk, shouldStop: shouldStop)
            }
            rows += oodRows
        }
        return rows.sorted { $0.index < $1.index }
    }

    private func scoreRows(_ part: DatasetChunk, chunk: Int, split: String, offset: Int) throws -> [SampleRow] {
        var rows = zip(part.indices, part.sources).map { i, source in
            SampleRow(index: offset + i, chunk: chunk, split: split, source: source, target: nil, loss: nil, mape: nil, deltaL2: nil,
                      error: nil, image: nil, scores: [:])
        }
        if !rows.isEmpty {
            for detector in detectors {
                let s = try detector.score(part.images)
                for k in rows.indices { rows[k].scores[detector.name] = (Double(s[k]), nil) }
            }
        }
        rows += part.failures.map { f in
            SampleRow(index: offset + f.index, chunk: chunk, split: split, source: f.source, target: nil, loss: nil, mape: nil, deltaL2: nil,
                      error: f.message, image: nil, scores: [:])
        }
        return rows
    }

    /// Attacks the readable OOD images of a chunk towards their targets and scores the result.
    private func attackRows(_ rows: inout [SampleRow], _ part: DatasetChunk, attack: AttackPlan, chunk: Int,
                            shouldStop: () -> Bool) throws {
        // Targets: in-distribution sample j mod N_in for OOD sample j, read in contiguous runs.
        let targetIndices = part.indices.map { $0 % inDist.count }
        var targets: [Int: (Tensor?, String?)] = [:]
        var runStart = 0
        while runStart < targetIndices.count {
            var runEnd = runStart + 1
            while runEnd < targetIndices.count && targetIndices[runEnd] == targetIndices[runEnd - 1] + 1 { runEnd += 1 }
            let loaded = try inDist.load(targetIndices[runStart]..<(targetIndices[runEnd - 1] + 1))
            let per = inDist.sampleShape.reduce(1, *)
            for (k, i) in loaded.indices.enumerated() {
                targets[i] = (Tensor(shape: [1] + inDist.sampleShape, data: Array(loaded.images.data[(k * per)..<((k + 1) * per)])), nil)
            }
            for f in loaded.failures { targets[f.index] = (nil, "its target, in-distribution sample \(f.index) (\(f.source)), cannot be read: \(f.message)") }
            runStart = runEnd
        }
        // Samples whose target is unreadable are recorded with the reason and not attacked.
        let usable = part.indices.indices.filter { targets[targetIndices[$0]]?.0 != nil }
        for k in part.indices.indices where !usable.contains(k) {
            if let row = rows.firstIndex(where: { $0.index == inDist.count + part.indices[k] }) {
                rows[row].error = targets[targetIndices[k]]?.1
                rows[row].target = targetIndices[k]
            }
        }
        guard !usable.isEmpty else { return }
        let per = ood.sampleShape.reduce(1, *)
        let sources = Tensor(shape: [usable.count] + ood.sampleShape,
                             data: usable.flatMap { part.images.data[($0 * per)..<(($0 + 1) * per)] })
        let xIn = Tensor(shape: [usable.count] + inDist.sampleShape, data: usable.flatMap { targets[targetIndices[$0]]!.0!.data })
        var configuration = attack.configuration
        if case .uniform = configuration.initialization {
            configuration.initialization = .uniform(seed: Self.chunkSeed(attack.seed, chunk: chunk))
        }
        let oodAttack = try OODAttack(encoder: attack.encoder, xIn: xIn, xOut: sources, configuration: configuration, outputs: attack.outputs)
        var stopped = false
        try oodAttack.step(attack.steps, shouldStop: { stopped = shouldStop(); return stopped })
        if stopped { throw AuditInterrupted() }
        let loss = try oodAttack.currentLoss()
        let metrics = try AttackMetrics.compute(zIn: oodAttack.targets[0], zAdv: try oodAttack.currentOutputs()[0], xOut: sources, xAdv: oodAttack.x)
        var attackedScores: [String: [Float]] = [:]
        for detector in detectors { attackedScores[detector.name] = try detector.score(oodAttack.x) }
        for (k, source) in usable.enumerated() {
            guard let row = rows.firstIndex(where: { $0.index == inDist.count + part.indices[source] }) else { continue }
            rows[row].target = targetIndices[source]
            rows[row].loss = Double(loss[k])
            rows[row].mape = metrics.samples[k].mape
            rows[row].deltaL2 = metrics.samples[k].deltaL2
            for detector in detectors { rows[row].scores[detector.name]?.attacked = Double(attackedScores[detector.name]![k]) }
            if attack.saveImages {
                rows[row].image = oodAttack.x.data[(k * per)..<((k + 1) * per)].withUnsafeBytes { Data($0) }
            }
        }
    }
}

/// A run stopped between chunks or attack steps (an interrupt); the chunk in flight was not committed.
public struct AuditInterrupted: Error, Sendable {}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
