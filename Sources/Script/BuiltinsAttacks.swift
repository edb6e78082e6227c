import Attack
import Foundation
import Imaging
import Tensor

extension Builtins {
    /// What goes with an attack: its metrics, saving and loading, the classic attacks, and the Jacobian.
    static let attackTools: [Builtin] = [
        Builtin("attack_metrics", .models, [.required("attack"), .optional("logits", .none)],
                description: """
                A table of an attack's metrics, one row per sample. Columns: MAPE (mean|z_adv − z_in| / max|z_in|), the feature L2 and \
                cosine distances, ‖δ‖₂ and ‖δ‖∞; with `logits=` a logits layer, also the class predicted for x_in, x_out and x_adv.
                """,
                example: "attack_metrics(atk, logits=layer(enc, \"logits\"))") { args, _ in
            let attack = try attackArgument(args)
            let a = attack.attack
            let metrics = try library("attack_metrics") {
                try AttackMetrics.compute(zIn: a.targets[0], zAdv: try a.currentOutputs()[0], xOut: a.xOut, xAdv: a.x)
            }
            var columns: [TableObject.Column] = [
                .init(key: "sample", heading: "sample"), .init(key: "mape", heading: "MAPE"), .init(key: "feature_l2", heading: "‖z_adv − z_in‖₂"),
                .init(key: "cosine", heading: "cosine distance"), .init(key: "delta_l2", heading: "‖δ‖₂"), .init(key: "delta_linf", heading: "‖δ‖∞"),
            ]
            var rows: [[Value]] = metrics.samples.enumerated().map { i, m in
                [.number(Double(i)), .number(m.mape), .number(m.featureL2), .number(m.cosineDistance), .number(m.deltaL2), .number(m.deltaLinf)]
            }
            if !args.isNone("logits") {
                guard case .object(let o) = args["logits"], let logits = o as? LayerObject else {
                    throw args.error("expects a logits layer for `logits`, got \(args["logits"].typeName)")
                }
                let predict = { (x: Tensor) throws -> [Int] in try library("attack_metrics") { try predictedClasses(try logits.outputs(x, "attack_metrics")[0]) } }
                let pIn = try attack.xIn.map(predict), pOut = try predict(a.xOut), pAdv = try predict(a.x)
                columns += [.init(key: "pred_in", heading: "class x_in"), .init(key: "pred_out", heading: "class x_out"), .init(key: "pred_adv", heading: "class x_adv")]
                for i in rows.indices {
                    rows[i] += [pIn.map { .number(Double($0[$0.count == 1 ? 0 : i])) } ?? .none, .number(Double(pOut[i])), .number(Double(pAdv[i]))]
                }
            }
            return .object(TableObject(columns: columns, rows: rows,
                                       note: "after \(a.stepCount) steps; mean MAPE \(String(format: "%.4f", metrics.meanMAPE)), max \(String(format: "%.4f", metrics.maxMAPE))"))
        },
        Builtin("load_attack", .models, [.required("path")],
                description: "Loads an attack saved with `save(atk, \"name.attack\")`. It brings back the model (from the path it was loaded from), the layer, and every bit of the attack's state, so `step` continues exactly where the saved attack stood.",
                example: "save(atk, \"spiral.attack\")\natk = load_attack(\"spiral.attack\")\nstep(atk, 50)") { args, _ in
            let path = try args.string("path")
            let url = URL(fileURLWithPath: try InputFiles.resolve(path, for: "load_attack()"))
            let context = try library("load_attack(\(quote(path)))") { try OODAttack.context(in: url) }
            guard let modelPath = context.info["model"], let names = context.info["layer"]?.split(separator: "\n").map(String.init) else {
                throw ScriptError.io("load_attack(): \(quote(path)) was not saved from the language (no model path, layer or x_in in it)")
            }
            let normalization: Normalization?
            if let mean = context.info["mean"], let std = context.info["std"] {
                normalization = Normalization(mean: mean.split(separator: " ").compactMap { Float($0) }, std: std.split(separator: " ").compactMap { Float($0) })
            } else {
                normalization = nil
            }
            // The path as the notebook gave it, so a shared notebook finds the model beside it; else where it was.
            let found = (try? InputFiles.resolve(modelPath, for: "load_attack()")) ?? context.info["model_absolute"] ?? modelPath
            let model = try library("load_attack: model \(quote(found))") { try ModelCache.shared.model(at: found) }
            let layer = try LayerObject(model: ModelObject(model: model, path: found, normalization: normalization), names: names)
            let attack = try library("load_attack(\(quote(path)))") { try OODAttack.load(from: url, encoder: layer.encoder) }
            return .object(AttackObject(attack: attack, layers: [layer], xIn: context.extras["x_in"], singleImage: context.info["single"] == "true"))
        },
        Builtin("pgd", .models, [.required("layer"), .required("x"), .required("labels"), .optional("eps", .number(0.03)),
                                 .optional("norm", .string("Linf")), .optional("steps", .number(10)), .optional("step_size", .none),
                                 .optional("targeted", .bool(false)), .optional("seed", .none)],
                description: """
                The classic PGD attack on a logits layer (Madry et al. 2018), for comparison with the OOD attack: `steps` \
                normalised-gradient steps of size `step_size` (by default 2.5·eps/steps) on the cross-entropy, from a random \
                start in the `eps` ball, projected and clamped to [0, 1]. Untargeted it pushes the true `labels` down; with \
                `targeted=true` it pulls towards `labels`. Returns the attacked images.
                """,
                example: "x_adv = pgd(logits, x, labels=[7], eps=0.1)") { args, interpreter in
            let (layer, x, single, labels, norm, epsilon) = try classicArguments(args)
            let steps = try args.integer("steps", range: 1...1_000_000)
            let stepSize = args.isNone("step_size") ? 2.5 * epsilon / Double(steps) : try args.number("step_size")
            let seed = try args.seed() ?? interpreter.random.next()
            let attack = try library("pgd") {
                try ClassicAttack.pgd(encoder: layer.encoder, x: x, labels: labels, logits: layer.names[0], targeted: try args.bool("targeted"),
                                      norm: norm, epsilon: epsilon, stepSize: stepSize, iterations: steps, seed: seed)
            }
            var interrupted = false
            try library("pgd") { _ = try attack.step(steps, shouldStop: { interrupted = interpreter.host.isInterrupted; return interrupted }) }
            if interrupted { throw ScriptError.interrupted() }
            return .tensor(single ? attack.x.slice(0) : attack.x)
        },
        Builtin("fgsm", .models, [.required("layer"), .required("x"), .required("labels"), .optional("eps", .number(0.03)),
                                  .optional("norm", .string("Linf")), .optional("targeted", .bool(false))],
                description: "The fast gradient sign method on a logits layer (Goodfellow et al. 2015): one step of size `eps` along the sign of the cross-entropy's gradient (L2: the normalised gradient), clamped to [0, 1]. Returns the attacked images.",
                example: "x_adv = fgsm(logits, x, labels=[7], eps=0.1)") { args, _ in
            let (layer, x, single, labels, norm, epsilon) = try classicArguments(args)
            let adv = try library("fgsm") {
                try ClassicAttack.fgsm(encoder: layer.encoder, x: x, labels: labels, logits: layer.names[0], targeted: try args.bool("targeted"),
                                       norm: norm, epsilon: epsilon)
            }
            return .tensor(single ? adv.slice(0) : adv)
        },
        Builtin("jacobian_spectrum", .models, [.required("layer"), .required("x"), .optional("k", .none)],
                description: """
                The singular values of a layer's Jacobian ∂f(x)/∂x at one image. They come from reverse-mode products (no dense \
                n × n matrix), and give its rank, and n − rank, the dimension of the set of nearby inputs that give the same \
                features to first order — the paper's dimensionality argument, measured. The cell shows the spectrum; \
                `.values` (the `k` largest, all by default), `.rank`, `.input_dim`, `.output_dim` and `.local_dim` give the numbers.
                """,
                example: "spec = jacobian_spectrum(feat, x_in)\nspec.local_dim") { args, _ in
            let layer = try layerArgument(args, "layer")
            let (x, _) = layer.batched(try args.tensor("x"))
            guard x.shape.first == 1 else { throw ScriptError.shape("jacobian_spectrum() takes one image, got a batch of \(x.shape.first ?? 0)", hint: "pick one, e.g. `x[0]`") }
            let k = args.isNone("k") ? Int.max : try args.integer("k", range: 1...Int(Int32.max))
            let spectrum = try library("jacobian_spectrum") {
                try jacobianSpectrum(encoder: layer.encoder, x: x, output: layer.names[0], k: k, copies: 16)
            }
            return .object(SpectrumObject(spectrum: spectrum, layerName: layer.names[0]))
        },
    ]
}

/// The arguments PGD and FGSM share, checked.
private func classicArguments(_ args: CallArguments) throws
    -> (layer: LayerObject, x: Tensor, single: Bool, labels: [Int], norm: Norm, epsilon: Double) {
    let layer = try layerArgument(args, "layer")
    let (x, single) = layer.batched(try args.tensor("x"))
    var labels = try classLabels(args["labels"], "\(args.builtin.name)() labels")
    if labels.count == 1 && x.shape[0] > 1 { labels = Array(repeating: labels[0], count: x.shape[0]) }
    guard labels.count == x.shape[0] else {
        throw ScriptError.shape("\(args.builtin.name)(): \(labels.count) labels for \(x.shape[0]) images")
    }
    let normName = try args.string("norm")
    guard let norm = try? Norm(parsing: normName) else {
        throw ScriptError.value("\(args.builtin.name)(): unknown norm \(quote(normName))", hint: "use \"L2\" or \"Linf\"")
    }
    let epsilon = try args.number("eps")
    guard epsilon.isFinite, epsilon > 0 else { throw ScriptError.value("\(args.builtin.name)(): `eps` must be a positive number, got \(formatNumber(epsilon))") }
    return (layer, x, single, labels, norm, epsilon)
}

extension AttackObject {
    /// Writes the attack with what `load_attack` needs to rebuild its context: the model path, layer names,
    /// normalisation and the target images.
    func save(to path: String) throws {
        guard layers.count == 1 else {
            throw ScriptError.value("save(): an attack on several layers (\(layers.count) layer objects) cannot be saved yet",
                                    hint: "save its images instead, e.g. `save(atk.x, \"x_adv.npy\")`")
        }
        let absolute = URL(fileURLWithPath: layer.model.path).standardizedFileURL.path
        var info = ["model": layer.model.path, "model_absolute": absolute, "layer": layer.names.joined(separator: "\n"), "single": singleImage ? "true" : "false"]
        if let n = layer.model.normalization {
            info["mean"] = n.mean.map { "\($0)" }.joined(separator: " ")
            info["std"] = n.std.map { "\($0)" }.joined(separator: " ")
        }
        do {
            try attack.save(to: URL(fileURLWithPath: path), info: info, extras: xIn.map { ["x_in": $0] } ?? [:])
        } catch {
            throw ScriptError.io("cannot write \(quote(path)): \(error.localizedDescription)",
                                 hint: "relative paths start in the kernel's working directory: \(FileManager.default.currentDirectoryPath)")
        }
    }
}
