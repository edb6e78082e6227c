import Attack
import Foundation
import Imaging
import Tensor

extension Builtins {
    static let detectors: [Builtin] = [
        Builtin("detector", .detectors, [.required("kind"), .required("layer"), .optional("fit", .none), .optional("labels", .none),
                                         .optional("logits", .none), .optional("temperature", .none), .optional("eps", .none),
                                         .optional("k", .number(50)), .optional("dim", .none)],
                description: """
                Makes an OOD detector that scores images from a layer; every score is "higher = more out-of-distribution". \
                On logits: "msp" (max softmax probability, Hendrycks & Gimpel 2017), "maxlogit" (Hendrycks et al. 2022), \
                "energy" (−T·logsumexp(logits/T), Liu et al. 2020; `temperature=1`), "odin" (temperature scaling and input \
                pre-processing, Liang et al. 2018; `temperature=1000`, `eps=0.0014`). On features, fitted on in-distribution \
                images `fit`: "mahalanobis" (class means and a tied covariance, Lee et al. 2018; needs `labels`), \
                "knn" (k-th nearest normalised training feature, Sun et al. 2022; `k=50`), "vim" (virtual-logit matching, \
                Wang et al. 2022; needs `logits=` the layer the final Linear computes from these features, and takes \
                `dim=` principal dimensions, by default half the feature size).
                """,
                example: """
                logits = layer(enc, "logits")
                det = detector("energy", logits)
                maha = detector("mahalanobis", feat, fit=x_train, labels=y_train)
                """) { args, _ in
            let kindName = try args.string("kind")
            guard let kind = DetectorObject.Kind(rawValue: kindName.lowercased()) else {
                let known = DetectorObject.Kind.allCases.map(\.rawValue)
                let close = closestName(to: kindName.lowercased(), among: known).map { "did you mean \(quote($0))? " } ?? ""
                throw ScriptError.value("detector(): unknown kind \(quote(kindName))", hint: close + "kinds: " + known.map(quote).joined(separator: ", "))
            }
            let layer = try layerArgument(args, "layer")
            var temperature = kind == .odin ? 1000.0 : 1.0
            if !args.isNone("temperature") {
                guard [.energy, .odin].contains(kind) else { throw args.error("takes `temperature` only for \"energy\" and \"odin\"") }
                temperature = try args.number("temperature")
                guard temperature > 0, temperature.isFinite else { throw ScriptError.value("detector(): `temperature` must be > 0, got \(formatNumber(temperature))") }
            }
            var epsilon = 0.0014
            if !args.isNone("eps") {
                guard kind == .odin else { throw args.error("takes `eps` (the input pre-processing step) only for \"odin\"") }
                epsilon = try args.number("eps")
                guard epsilon >= 0, epsilon.isFinite else { throw ScriptError.value("detector(): `eps` must be ≥ 0, got \(formatNumber(epsilon))") }
            }
            if kind.readsLogits {
                guard args.isNone("fit") else { throw args.error("\(quote(kind.rawValue)) needs no fitting; drop `fit`") }
                return .object(DetectorObject(kind: kind, layer: layer, temperature: temperature, epsilon: epsilon, fitted: .none, fittedOn: 0))
            }
            guard case .tensor(let training) = args["fit"] else {
                throw args.error("\(quote(kind.rawValue)) is fitted on in-distribution images: pass `fit=` a batch [N, C, H, W]")
            }
            let features = try layer.outputs(training, "detector(\(kind.rawValue)) fit")[0]
            let fitted: DetectorObject.Fitted
            switch kind {
            case .mahalanobis:
                guard !args.isNone("labels") else { throw args.error("\"mahalanobis\" needs the class `labels` of the `fit` images") }
                let labels = try classLabels(args["labels"], "detector() labels")
                guard labels.count == features.shape[0] else {
                    throw ScriptError.shape("detector(): \(labels.count) labels for \(features.shape[0]) `fit` images")
                }
                var d = MahalanobisDetector()
                try library("detector(mahalanobis)") { try d.fit(features: features, labels: labels) }
                fitted = .mahalanobis(d)
            case .knn:
                var d = KNNDetector(k: try args.integer("k", range: 1...1_000_000))
                try library("detector(knn)") { try d.fit(features: features) }
                fitted = .knn(d)
            default:
                guard case .object(let object) = args["logits"], let logits = object as? LayerObject else {
                    throw args.error("\"vim\" needs `logits=` the logits layer computed from these features, e.g. `logits=layer(enc, \"logits\")`")
                }
                let head = try linearHead(of: layer.model.model, features: layer.names[0], logits: logits.names[0])
                let width = features.count / max(1, features.shape[0])
                let dim = args.isNone("dim") ? max(1, width / 2) : try args.integer("dim", range: 1...max(1, width - 1))
                var d = ViMDetector(principalDimension: dim)
                try library("detector(vim)") { try d.fit(features: features, weight: head.weight, bias: head.bias) }
                fitted = .vim(d)
            }
            return .object(DetectorObject(kind: kind, layer: layer, temperature: temperature, epsilon: epsilon, fitted: fitted,
                                          fittedOn: features.shape[0]))
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

/// A tensor of images, or the current images of an attack.
func images(_ value: Value, _ args: CallArguments, _ name: String) throws -> Tensor {
    switch value {
    case .tensor(let t): return t
    case .object(let o) where o is AttackObject: return (o as! AttackObject).attack.x
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
