import Attack
import Foundation
import Imaging
import Tensor

extension Builtins {
    static let detectors: [Builtin] = [
        Builtin("detector", .detectors, [.required("kind"), .required("layer"), .optional("fit", .none), .optional("labels", .none)]
                    + detectorKeywords.map { .optional($0, .none) },
                description: """
                Makes an OOD detector that scores images from a layer; every score is "higher = more out-of-distribution". \
                Detectors fitted on in-distribution data take the images as `fit` (and `labels` for "mahalanobis"). Kinds:
                """ + " " + DetectorRegistry.kinds.map(describe).joined(separator: "; ") + ".",
                example: """
                logits = layer(enc, "logits")
                det = detector("energy", logits)
                maha = detector("mahalanobis", feat, fit=x_train, labels=y_train)
                lr = detector("likelihood_ratio", nll, background=nll_bg)
                """) { args, _ in
            let kindName = try args.string("kind")
            guard let kind = DetectorRegistry.kind(named: kindName) else {
                let known = DetectorRegistry.kinds.map(\.name)
                let close = closestName(to: kindName.lowercased(), among: known).map { "did you mean \(quote($0))? " } ?? ""
                throw ScriptError.value("detector(): unknown kind \(quote(kindName))", hint: close + "kinds: " + known.map(quote).joined(separator: ", "))
            }
            for keyword in detectorKeywords where !args.isNone(keyword) && !kind.layers.contains(keyword) && !kind.options.contains(where: { $0.name == keyword }) {
                let takers = DetectorRegistry.kinds.filter { k in k.layers.contains(keyword) || k.options.contains { $0.name == keyword } }.map { quote($0.name) }
                throw args.error("takes `\(keyword)` only for \(takers.count > 1 ? takers.dropLast().joined(separator: ", ") + " and " + takers.last! : takers.joined())")
            }
            var layers = [try layerArgument(args, "layer")]
            for role in kind.layers.dropFirst() {
                guard !args.isNone(role) else {
                    throw args.error("\(quote(kind.name)) needs `\(role)=` a second layer: " + (role == "logits"
                        ? "the logits layer computed from these features, e.g. `logits=layer(enc, \"logits\")`"
                        : "the \(role) model's layer reading the same images, e.g. `\(role)=layer(load(\"…\"), \"bpd\")`"))
                }
                layers.append(try layerArgument(args, role))
            }
            var options: [String: Double] = [:]
            for option in kind.options where !args.isNone(option.name) { options[option.name] = try args.number(option.name) }
            var fit: Tensor?
            if case .tensor(let t) = args["fit"] {
                guard kind.fitting != .none else { throw args.error("\(quote(kind.name)) needs no fitting; drop `fit`") }
                fit = layers[0].batched(t).0
            } else if !args.isNone("fit") {
                throw args.error("expects images (a tensor) for `fit`, got \(args["fit"].typeName)")
            } else if kind.fitting != .none {
                throw args.error("\(quote(kind.name)) is fitted on in-distribution images: pass `fit=` a batch [N, C, H, W]")
            }
            var labels: [Int]?
            if !args.isNone("labels") {
                guard kind.fitting == .imagesAndLabels else { throw args.error("takes `labels` only for \"mahalanobis\"") }
                labels = try classLabels(args["labels"], "detector() labels")
            } else if kind.fitting == .imagesAndLabels {
                throw args.error("\(quote(kind.name)) needs the class `labels` of the `fit` images")
            }
            let detector = try library("detector(\(kind.name))") {
                try kind.build(DetectorSetup(layers: layers.map(\.detectorLayer), options: options, fit: fit, labels: labels))
            }
            return .object(DetectorObject(kind: kind, detector: detector, layers: layers, fittedOn: fit?.shape[0] ?? 0))
        },
        Builtin("score", .detectors, [.required("detector"), .required("x")],
                description: "Scores images with a detector: one score per image, higher = more out-of-distribution. `x` is an image, a batch, or an attack (its current images); the result is a tensor.",
                example: "s_in = score(det, x_test)\ns_adv = score(det, atk)") { args, _ in
            let detector = try detectorArgument(args["detector"], args)
            if let scores = try mapDataset(args["x"], "score", { try Tensor(shape: [$0.shape[0]], data: detector.score($0)) }) { return .tensor(scores) }
            let scores = try detector.score(try images(args["x"], args, "x"))
            return .tensor(Tensor(shape: [scores.count], data: scores))
        },
        Builtin("ood_metrics", .detectors, [.required("scores_in"), .required("scores_out"), .optional("fpr", .string("in"))],
                description: """
                AUROC, AUPR and FPR at 95% TPR of detector scores. The scores (higher = more OOD) of in-distribution and OOD \
                samples give AUPR with either as positive, all computed exactly with ties (as scikit-learn does). `fpr="in"` (default) is \
                the classic convention of Hendrycks & Gimpel and ODIN: the fraction of OOD samples accepted when 95% of \
                in-distribution ones are; `fpr="ood"` is OpenOOD's: in-distribution samples rejected at 95% OOD recall.
                """,
                example: "ood_metrics(score(det, x_test), score(det, x_ood))") { args, _ in
            let convention = try fprConvention(args)
            let metrics = try detectionMetrics(try numbers(args["scores_in"], "ood_metrics() scores_in"),
                                               try numbers(args["scores_out"], "ood_metrics() scores_out"), convention)
            return .object(TableObject(columns: metricColumns, rows: [metricCells(metrics)], note: convention.label))
        },
        Builtin("audit", .detectors, [.required("detectors"), .required("in_dist"), .required("ood"), .optional("attacked", .none),
                                      .optional("fpr", .string("in")), .optional("show", .bool(true)), .optional("out", .none),
                                      .optional("steps", .none), .optional("chunk", .none), .optional("images", .bool(false))],
                description: """
                Scores in-distribution, raw OOD and attacked OOD images with several detectors. The attacked images \
                (optional) are a batch or an attack; the result is the table of AUROC, AUPR and FPR95 per detector and OOD set. With \
                `show=true` it also shows the ROC curves and score histograms per detector (the table keeps them as \
                `.plot` and `.histograms`). Over datasets (see `dataset`) it needs `out=DIR`: it runs chunk by chunk (`chunk` \
                samples each) into a SQLite results store there, attacking each OOD chunk for `steps` steps when `attacked` is \
                an `ood_attack` over the datasets (`images=true` also stores the attacked images); a rerun resumes after the last completed chunk, and `mirage run --shard I/N` \
                (or a Slurm/Kubernetes array) runs every N-th chunk. It returns the results (see `results`).
                """,
                example: "audit([msp, energy, maha], x_test, x_ood, attacked=atk)\naudit(dets, test, ood, attacked=ood_attack(feat, source=ood, target=test, eps=15), steps=100, out=\"runs/a\")") { args, interpreter in
            var detectorValues = [args["detectors"]]
            if case .list(let items) = args["detectors"] { detectorValues = items }
            let detectors = try detectorValues.map { try detectorArgument($0, args) }
            guard !detectors.isEmpty else { throw args.error("needs at least one detector") }
            let convention = try fprConvention(args)
            if let stored = try datasetAudit(args, interpreter, detectors: detectors, convention: convention) { return stored }
            let inDist = try images(args["in_dist"], args, "in_dist"), ood = try images(args["ood"], args, "ood")
            let attacked = args.isNone("attacked") ? nil : try images(args["attacked"], args, "attacked")
            var rows: [[Value]] = []
            var rocPlots: [any Plot] = [], histograms: [any Plot] = []
            for detector in detectors {
                try interpreter.checkInterrupt()
                let sIn = try detector.score(inDist).map(Double.init), sOut = try detector.score(ood).map(Double.init)
                let sAdv = try attacked.map { try detector.score($0).map(Double.init) }
                var sets = [("raw OOD", sOut)]
                if let sAdv { sets.append(("attacked OOD", sAdv)) }
                var curves: [ROCPlot.Curve] = []
                for (label, s) in sets {
                    let m = try detectionMetrics(sIn, s, convention)
                    rows.append([.string(detector.name), .string(label)] + metricCells(m))
                    curves.append(ROCPlot.Curve(label, positives: s, negatives: sIn))
                }
                rocPlots.append(ROCPlot(curves, title: detector.name))
                histograms.append(Histogram([ValueSeries("in-distribution", values: sIn)] + sets.map { ValueSeries($0.0, values: $0.1) },
                                            bins: 40, density: true, title: detector.name, x: Axis("score (higher = more OOD)")))
            }
            let columns = min(3, detectors.count), gridRows = (detectors.count + columns - 1) / columns
            let roc = try PlotObject(Figure(rows: gridRows, columns: columns, rocPlots, title: "ROC: in-distribution vs OOD (OOD positive)",
                                            width: Double(columns) * 360, height: Double(gridRows) * 340 + 28))
            let hist = try PlotObject(Figure(rows: gridRows, columns: columns, histograms, title: "detector scores",
                                             width: Double(columns) * 420, height: Double(gridRows) * 300 + 28))
            let table = TableObject(columns: [.init(key: "detector", heading: "detector"), .init(key: "ood", heading: "OOD set")] + metricColumns,
                                    rows: rows, note: "\(inDist.shape[0]) in-distribution, \(ood.shape[0]) OOD" + (attacked.map { ", \($0.shape[0]) attacked" } ?? "")
                                        + " samples; " + convention.label,
                                    plots: [("plot", roc), ("histograms", hist)])
            if try args.bool("show") {
                interpreter.host.display(roc.richOutput(), displayID: nil, update: false)
                interpreter.host.display(hist.richOutput(), displayID: nil, update: false)
            }
            return .object(table)
        },
        Builtin("predict", .detectors, [.required("layer"), .required("x")],
                description: "The class a logits layer predicts (argmax) for an image (a number) or a batch or attack (a list).",
                example: "predict(logits, x_in)\npredict(logits, atk)") { args, _ in
            let layer = try layerArgument(args, "layer")
            if let logits = try mapDataset(args["x"], "predict", { try layer.outputs($0, "predict")[0] }) {
                return .list(try library("predict") { try predictedClasses(logits) }.map { .number(Double($0)) })
            }
            let x = try images(args["x"], args, "x")
            let logits = try layer.outputs(x, "predict")[0]
            let classes = try library("predict") { try predictedClasses(logits) }
            var single = false
            if case .tensor(let t) = args["x"] { single = layer.batched(t).added }
            return single ? .number(Double(classes[0])) : .list(classes.map { .number(Double($0)) })
        },
    ]
}

/// The keyword arguments `detector()` takes beyond kind, layer, fit and labels: every registered kind's extra layers
/// and options, each once.
private let detectorKeywords: [String] = {
    var seen: Set<String> = [], out: [String] = []
    for kind in DetectorRegistry.kinds {
        for name in kind.layers.dropFirst() + kind.options.map(\.name) where seen.insert(name).inserted { out.append(name) }
    }
    return out
}()

/// One kind for `help`: its name, what it scores, its extra layers and options with defaults.
private func describe(_ kind: DetectorKind) -> String {
    var extras = kind.layers.dropFirst().map { "`\($0)=` layer" }
    extras += kind.options.map { o in "`\(o.name)`" + (o.defaultValue.map { "=\(formatNumber($0))" } ?? "") }
    if kind.fitting != .none { extras.insert(kind.fitting == .imagesAndLabels ? "fit, labels" : "fit", at: 0) }
    return "\"\(kind.name)\" (\(kind.summary)" + (extras.isEmpty ? "" : "; " + extras.joined(separator: ", ")) + ")"
}

/// A tensor of images, or the current images of an attack.
func images(_ value: Value, _ args: CallArguments, _ name: String) throws -> Tensor {
    switch value {
    case .tensor(let t): return t
    case .object(let o as AttackObject): return o.attack.x
    default: throw args.error("expects images (a tensor) or an attack for `\(name)`, got \(value.typeName)")
    }
}

func detectorArgument(_ value: Value, _ args: CallArguments) throws -> DetectorObject {
    guard case .object(let o) = value, let detector = o as? DetectorObject else {
        throw args.error("expects a detector from `detector(kind, layer)`, got \(value.typeName)")
    }
    return detector
}

func fprConvention(_ args: CallArguments) throws -> FPRConvention {
    switch try args.string("fpr").lowercased() {
    case "in", "id": return .inDistributionPositive
    case "ood", "out", "openood": return .oodPositive
    case let other: throw ScriptError.value("\(args.builtin.name)(): unknown FPR convention \(quote(other))", hint: "use \"in\" (classic) or \"ood\" (OpenOOD)")
    }
}

private func detectionMetrics(_ sIn: [Double], _ sOut: [Double], _ convention: FPRConvention) throws -> DetectionMetrics {
    try library("ood_metrics") { try DetectionMetrics(inDistribution: sIn, outOfDistribution: sOut, convention: convention) }
}

private let metricColumns: [TableObject.Column] = [
    .init(key: "auroc", heading: "AUROC"), .init(key: "aupr_in", heading: "AUPR-In"),
    .init(key: "aupr_out", heading: "AUPR-Out"), .init(key: "fpr95", heading: "FPR95"),
]

private func metricCells(_ m: DetectionMetrics) -> [Value] {
    [.number(m.auroc), .number(m.auprIn), .number(m.auprOut), .number(m.fpr95)]
}
