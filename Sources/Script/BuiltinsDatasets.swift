// Datasets streamed in chunks, dataset-scale audits into a results store, and `results` to read a run back.
import Attack
import Audit
import Foundation
import Imaging
import Tensor

extension Builtins {
    static let datasets: [Builtin] = [
        Builtin("dataset", .detectors, [.required("path"), .optional("size", .none), .optional("gray", .none), .optional("limit", .none),
                                        .optional("chunk", .number(256))],
                description: """
                A dataset streamed in chunks of `chunk` images, so memory stays bounded whatever its size. `path` is a folder \
                of PNG/JPEG (searched recursively, in sorted order), a .npy file (memory-mapped; [N, C, H, W] or [N, H, W], \
                uint8 divided by 255), a list of them (concatenated), or a batch already in memory. `size=[H, W]` (or one number) \
                resizes, `gray=true` converts to one channel and `false` to RGB, `limit` keeps the first images. \
                `encode`, `score`, `predict` and `audit` take datasets as well as tensors; an unreadable image is skipped and \
                recorded, never silently dropped.
                """,
                example: "test = dataset(\"Examples/data/mnist/test_images.npy\", limit=500)\nphotos = dataset(\"photos/\", size=[28, 28], gray=true)") { args, _ in
            let chunk = try args.integer("chunk", range: 1...1_000_000)
            if case .tensor(let t) = args["path"] {
                return .object(DatasetObject(try auditLibrary { try Dataset(tensor: t, name: "memory", chunkSize: chunk) }))
            }
            var paths: [String] = []
            switch args["path"] {
            case .string(let s): paths = [s]
            case .list(let items):
                paths = try items.map { item in
                    guard case .string(let s) = item else { throw args.error("expects paths (strings) in `path`, got \(item.typeName)") }
                    return s
                }
            default: throw args.error("expects a path, a list of paths or a batch for `path`, got \(args["path"].typeName)")
            }
            var size: (height: Int, width: Int)?
            if !args.isNone("size") {
                var sizeValue = args["size"]
                if case .number = sizeValue { sizeValue = .list([sizeValue]) }
                let dims = try numbers(sizeValue, "dataset() size").map(Int.init)
                guard (dims.count == 1 || dims.count == 2), dims.allSatisfy({ $0 >= 1 && $0 <= 16384 }) else {
                    throw ScriptError.value("dataset(): `size` is [height, width] or one number, each in 1...16384")
                }
                size = (dims[0], dims.count == 2 ? dims[1] : dims[0])
            }
            let gray = args.isNone("gray") ? nil : try args.bool("gray")
            let limit = args.isNone("limit") ? nil : try args.integer("limit", range: 1...Int(Int32.max))
            return .object(DatasetObject(try auditLibrary { try Dataset(paths: paths, chunkSize: chunk, size: size, gray: gray, limit: limit) }))
        },
        Builtin("results", .detectors, [.required("dir"), .optional("fpr", .string("in"))],
                description: """
                Loads the results store of a dataset audit (`audit(…, out=DIR)`), finished or partial, all shards together. \
                The cell shows the metrics table over the samples committed so far and how far each shard got; `.table` is \
                that table (with `.plot` and `.histograms`), `.complete`, `.missing` (chunk indices), `.skipped` (unreadable \
                images), `.mape`, `.loss`, `.delta` (per attacked sample) and `.scores` ([detector, in, raw OOD, attacked OOD] \
                score tensors per detector) give the data. The store is SQLite: docs/audit.md describes its tables.
                """,
                example: "r = results(\"runs/audit_dataset\")\nr.table") { args, _ in
            let convention = try fprConvention(args)
            let results = try auditLibrary { try AuditResults.load(try args.string("dir")) }
            return .object(try ResultsObject(results, convention: convention))
        },
    ]
}

/// Library errors of the Audit module as the language reports them.
func auditLibrary<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as AuditError {
        throw ScriptError(kind: "DatasetError", message: error.message)
    }
}

/// A streamed dataset (`dataset`).
final class DatasetObject: ScriptObject, @unchecked Sendable {
    let dataset: Dataset
    init(_ dataset: Dataset) { self.dataset = dataset }

    var typeName: String { "dataset" }
    var attributeNames: [String] { ["count", "shape", "chunks", "paths"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "count": return .number(Double(dataset.count))
        case "shape": return .list(dataset.sampleShape.map { .number(Double($0)) })
        case "chunks": return .number(Double(dataset.chunkCount))
        default: return .list(dataset.paths.map { .string($0) })
        }
    }
    var summary: String { dataset.summary }
}

/// The OOD attack set up over a dataset (`ood_attack(layer, source=dataset, target=dataset, …)`): nothing runs
/// until `audit(…, attacked=this, out=DIR)` attacks it chunk by chunk.
final class DatasetAttackObject: ScriptObject, @unchecked Sendable {
    let layer: LayerObject
    let source: Dataset
    let target: Dataset
    let outputs: [OutputWeight]
    let configuration: AttackConfiguration
    let seed: UInt64

    init(layer: LayerObject, source: Dataset, target: Dataset, outputs: [OutputWeight], configuration: AttackConfiguration, seed: UInt64) {
        self.layer = layer
        self.source = source
        self.target = target
        self.outputs = outputs
        self.configuration = configuration
        self.seed = seed
    }

    var typeName: String { "dataset attack" }
    var attributeNames: [String] { ["count", "eps", "steps"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "count": return .number(Double(source.count))
        case "eps": return .number(configuration.epsilon)
        default: return .number(Double(configuration.iterations))
        }
    }
    var summary: String {
        "DatasetAttack(\(source.count) OOD images towards \(target.count) targets on \(layer.names.map(quote).joined(separator: ", ")), "
            + "eps \(formatNumber(configuration.epsilon)); run by audit(…, attacked=…, out=DIR))"
    }

    /// The dataset attack `ood_attack` makes when its source is a dataset (nil when it is a tensor).
    static func make(_ args: CallArguments, layer: LayerObject, configuration: AttackConfiguration, outputs: [OutputWeight],
                     seed: UInt64) throws -> DatasetAttackObject? {
        guard case .object(let o) = args["source"], let source = o as? DatasetObject else { return nil }
        guard case .object(let t) = args["target"], let target = t as? DatasetObject else {
            throw args.error("with a dataset `source`, `target` must be a dataset too (OOD sample j matches target j mod its count), got \(args["target"].typeName)")
        }
        return DatasetAttackObject(layer: layer, source: source.dataset, target: target.dataset, outputs: outputs,
                                   configuration: configuration, seed: seed)
    }
}

/// Maps a dataset chunk by chunk through `body` (rows of its output stacked), or nil when `value` is no dataset.
/// `encode`, `score` and `predict` call it before their tensor path; unreadable images are an error here, naming them.
func mapDataset(_ value: Value, _ what: String, _ body: (Tensor) throws -> Tensor) throws -> Tensor? {
    guard case .object(let o) = value, let object = o as? DatasetObject else { return nil }
    let dataset = object.dataset
    var data: [Float] = []
    var rowShape: [Int] = []
    for c in 0..<dataset.chunkCount {
        let chunk = try auditLibrary { try dataset.load(dataset.range(ofChunk: c)) }
        if let f = chunk.failures.first {
            throw ScriptError(kind: "DatasetError", message: "\(what): image \(f.index) of the dataset (\(f.source)) cannot be read: \(f.message)",
                              hint: "audit(…, out=DIR) skips and records unreadable images")
        }
        let out = try body(chunk.images)
        rowShape = Array(out.shape.dropFirst())
        data += out.data
    }
    return Tensor(shape: [dataset.count] + rowShape, data: data)
}

/// `audit` over datasets (or with `out=`): runs this process's shard chunk by chunk into the store `out`, then
/// returns the table over what the store holds. Nil when the arguments are in-memory only.
func datasetAudit(_ args: CallArguments, _ interpreter: Interpreter, detectors: [DetectorObject],
                  convention: FPRConvention) throws -> Value? {
    func dataset(_ name: String) -> Dataset? {
        if case .object(let o) = args[name], let d = o as? DatasetObject { return d.dataset }
        return nil
    }
    var plan: DatasetAttackObject?
    if case .object(let o) = args["attacked"], let p = o as? DatasetAttackObject { plan = p }
    guard dataset("in_dist") != nil || dataset("ood") != nil || plan != nil || !args.isNone("out") else { return nil }
    guard !args.isNone("out") else {
        throw args.error("over datasets writes its results to a store: pass `out=\"runs/NAME\"`")
    }
    let out = try args.string("out")
    let chunkSize = args.isNone("chunk") ? (dataset("in_dist")?.chunkSize ?? 256) : try args.integer("chunk", range: 1...1_000_000)
    func asDataset(_ name: String) throws -> Dataset {
        if let d = dataset(name) { return d }
        if case .tensor(let t) = args[name] { return try auditLibrary { try Dataset(tensor: t, name: name, chunkSize: chunkSize) } }
        throw args.error("expects a dataset or a batch for `\(name)`, got \(args[name].typeName)")
    }
    let inDist = try asDataset("in_dist"), ood = try asDataset("ood")
    if !args.isNone("attacked") && plan == nil {
        throw args.error("with `out=`, `attacked` is an attack over the datasets: `ood_attack(layer, source=ood, target=in_dist, …)`")
    }
    if let plan, plan.source.identity != ood.identity || plan.target.identity != inDist.identity {
        throw args.error("the attack's source and target must be the `ood` and `in_dist` datasets of this audit")
    }
    let steps = args.isNone("steps") ? plan?.configuration.iterations ?? 0 : try args.integer("steps", range: 0...10_000_000)
    let saveImages = try args.bool("images")
    let attack = plan.map { p in
        AttackPlan(encoder: p.layer.encoder, outputs: p.outputs, configuration: p.configuration, steps: steps, seed: p.seed,
                   saveImages: saveImages)
    }
    let auditDetectors = detectors.map { d in AuditDetector(name: d.name, score: { try d.score($0) }) }
    var extra = ["detector_setup": detectors.map(\.summary).joined(separator: " | ")]
    if let plan { extra["attack_layer"] = plan.layer.summary }
    let run = try auditLibrary {
        try AuditRun(inDist: inDist, ood: ood, detectors: auditDetectors, attack: attack, chunkSize: chunkSize, extraSettings: extra,
                     script: Shard.scriptSource ?? "")
    }
    let shard = try auditLibrary { try Shard.current() }
    let displayID = "progress:audit-\(out)-\(shard)"
    var first = true
    do {
        try run.run(into: out, shard: shard, shouldStop: { interpreter.host.isInterrupted }) { progress in
            let text = "audit \(out) shard \(shard): " + progress.line
            interpreter.host.display(RichOutput(plain: text), displayID: displayID, update: !first)
            first = false
        }
    } catch is AuditInterrupted {
        throw ScriptError.interrupted()
    } catch let error as AuditError {
        throw ScriptError(kind: "DatasetError", message: error.message)
    } catch let error as ScriptError {
        throw error
    } catch {
        throw ScriptError(kind: "Error", message: "audit(out=\(quote(out))): \(error)")
    }
    let results = try auditLibrary { try AuditResults.load(out) }
    let object = try ResultsObject(results, convention: convention)
    if try args.bool("show") && results.complete, let table = object.table {
        for (_, plot) in table.plots { interpreter.host.display(plot.richOutput(), displayID: nil, update: false) }
    }
    return .object(object)
}

/// A dataset audit's results read back from its store (`results`, and what `audit(…, out=DIR)` returns).
final class ResultsObject: ScriptObject, @unchecked Sendable {
    let results: AuditResults
    let table: TableObject?

    init(_ results: AuditResults, convention: FPRConvention) throws {
        self.results = results
        let rows = try auditLibrary { try results.metrics(convention: convention) }
        guard !rows.isEmpty else { table = nil; return }
        var cells: [[Value]] = []
        var rocPlots: [any Plot] = [], histograms: [any Plot] = []
        for name in results.info.detectors {
            let mine = rows.filter { $0.detector == name }
            guard !mine.isEmpty else { continue }
            let sIn = results.samples.filter { $0.split == "in" }.compactMap { $0.scores[name]?.raw }
            var curves: [ROCPlot.Curve] = []
            var series = [ValueSeries("in-distribution", values: sIn)]
            for r in mine {
                cells.append([.string(name), .string(r.set), .number(r.metrics.auroc), .number(r.metrics.auprIn), .number(r.metrics.auprOut),
                              .number(r.metrics.fpr95)])
                let s = results.samples.filter { $0.split == "ood" }.compactMap { r.set == "raw OOD" ? $0.scores[name]?.raw : $0.scores[name]?.attacked }
                curves.append(ROCPlot.Curve(r.set, positives: s, negatives: sIn))
                series.append(ValueSeries(r.set, values: s))
            }
            rocPlots.append(ROCPlot(curves, title: name))
            histograms.append(Histogram(series, bins: 40, density: true, title: name, x: Axis("score (higher = more OOD)")))
        }
        let columns = min(3, rocPlots.count), gridRows = (rocPlots.count + columns - 1) / columns
        let roc = try PlotObject(Figure(rows: gridRows, columns: columns, rocPlots, title: "ROC: in-distribution vs OOD (OOD positive)",
                                        width: Double(columns) * 360, height: Double(gridRows) * 340 + 28))
        let hist = try PlotObject(Figure(rows: gridRows, columns: columns, histograms, title: "detector scores",
                                         width: Double(columns) * 420, height: Double(gridRows) * 300 + 28))
        let counts = "\(results.samples.filter { $0.split == "in" && $0.error == nil }.count) in-distribution, "
            + "\(results.samples.filter { $0.split == "ood" && $0.error == nil }.count) OOD samples"
        table = TableObject(columns: [.init(key: "detector", heading: "detector"), .init(key: "ood", heading: "OOD set"),
                                      .init(key: "auroc", heading: "AUROC"), .init(key: "aupr_in", heading: "AUPR-In"),
                                      .init(key: "aupr_out", heading: "AUPR-Out"), .init(key: "fpr95", heading: "FPR95")],
                            rows: cells, note: counts + "; " + convention.label + "; " + Self.status(of: results), plots: [("plot", roc), ("histograms", hist)])
    }

    var status: String { Self.status(of: results) }

    /// How complete the run is, and what was skipped.
    static func status(of r: AuditResults) -> String {
        var text = r.complete ? "all \(r.info.chunkCount) chunks" : "\(r.info.chunkCount - r.missing.count) of \(r.info.chunkCount) chunks (partial: run every shard, then `mirage merge \(r.folder)`)"
        if !r.skipped.isEmpty { text += "; \(r.skipped.count) unreadable images skipped (see .skipped)" }
        return text
    }

    var typeName: String { "results" }
    var attributeNames: [String] { ["table", "complete", "missing", "skipped", "mape", "loss", "delta", "scores", "detectors"] }
    func attribute(_ name: String) throws -> Value {
        let ood = results.samples.filter { $0.split == "ood" }
        func tensor(_ values: [Double]) -> Value { .tensor(Tensor(shape: [values.count], data: values.map(Float.init))) }
        switch name {
        case "table": return table.map { .object($0) } ?? .none
        case "complete": return .bool(results.complete)
        case "missing": return .list(results.missing.map { .number(Double($0)) })
        case "skipped": return .list(results.skipped.map { .string("sample \($0.index) (chunk \($0.chunk)) \($0.source): \($0.error ?? "")") })
        case "mape": return tensor(ood.compactMap(\.mape))
        case "loss": return tensor(ood.compactMap(\.loss))
        case "delta": return tensor(ood.compactMap(\.deltaL2))
        case "detectors": return .list(results.info.detectors.map { .string($0) })
        default:
            return .list(results.info.detectors.map { d in
                .list([.string(d), tensor(results.samples.filter { $0.split == "in" }.compactMap { $0.scores[d]?.raw }),
                       tensor(ood.compactMap { $0.scores[d]?.raw }), tensor(ood.compactMap { $0.scores[d]?.attacked })])
            })
        }
    }

    var summary: String {
        let shards = results.progressLines.joined(separator: "; ")
        return "Results(\(results.folder): \(status); \(shards))"
    }

    func richOutput() -> RichOutput {
        guard let table else { return RichOutput(plain: summary) }
        let inner = table.richOutput()
        var output = inner
        output.plain = inner.plain + "\n" + results.progressLines.joined(separator: "\n")
        return output
    }
}
