import Attack
import Foundation
import Graph
import Imaging
import Tensor

extension Builtins {
    static let models: [Builtin] = [
        Builtin("load", .models, [.required("path"), .optional("mean", .none), .optional("std", .none)],
                description: "Loads an ONNX model, as exported by torch.onnx.export, TensorFlow or timm. The cell shows its named tensors with their shapes, parameters and FLOPs: any of them can be chosen with `layer`. With per-channel `mean` and `std` (or `mean=\"imagenet\"`) the model sees (x − mean) / std while you, and every attack, work with pixels in [0, 1].",
                example: "enc = load(\"Examples/models/mnist_cnn.onnx\")\nnet = load(\"resnet18.onnx\", mean=\"imagenet\")") { args, _ in
            let path = try args.string("path")
            var normalization: Normalization?
            if case .string(let preset) = args["mean"] {
                guard preset.lowercased() == "imagenet" else { throw args.error("knows the mean preset \"imagenet\", not \(quote(preset))") }
                normalization = .imageNet
            } else if !args.isNone("mean") || !args.isNone("std") {
                let mean = try numbers(args.isNone("mean") ? .list([.number(0)]) : args["mean"], "load() mean")
                let std = try numbers(args.isNone("std") ? .list([.number(1)]) : args["std"], "load() std")
                guard mean.count == std.count || mean.count == 1 || std.count == 1 else {
                    throw args.error("needs `mean` and `std` of the same length (one per channel), got \(mean.count) and \(std.count)")
                }
                guard std.allSatisfy({ $0 != 0 && $0.isFinite }) else { throw args.error("needs a finite, nonzero `std`") }
                let n = max(mean.count, std.count)
                normalization = Normalization(mean: (0..<n).map { Float(mean[mean.count == 1 ? 0 : $0]) },
                                              std: (0..<n).map { Float(std[std.count == 1 ? 0 : $0]) })
            }
            let model = try library("load(\(quote(path)))") { try ModelCache.shared.model(at: path) }
            return .object(ModelObject(model: model, path: path, normalization: normalization))
        },
        Builtin("layer", .models, [.required("model"), .required("name")],
                description: "Chooses a named tensor of a model (or a list of them) to encode, attack or score. The model runs only as far as those tensors need. Inputs are images in [0, 1] shaped like the model's input, with or without the batch axis.",
                example: "feat = layer(enc, \"features\")\nlogits = layer(enc, \"logits\")") { args, _ in
            guard case .object(let object) = args["model"], let model = object as? ModelObject else {
                throw args.error("expects a model from `load` for `model`, got \(args["model"].typeName)")
            }
            let names: [String]
            switch args["name"] {
            case .string(let s): names = [s]
            case .list(let items):
                names = try items.map { item -> String in
                    guard case .string(let s) = item else { throw args.error("expects tensor names (strings) in `name`") }
                    return s
                }
            default: throw args.error("expects a tensor name for `name`, got \(args["name"].typeName)")
            }
            return .object(try LayerObject(model: model, names: names))
        },
        Builtin("encode", .models, [.required("layer"), .required("x")],
                description: "Runs a model up to a layer and returns the features. One image gives [d], a batch [N, C, H, W] (or an attack's current images) gives [N, d].",
                example: "z_in = encode(feat, x_in)") { args, _ in
            let layer = try layerArgument(args, "layer")
            if let z = try mapDataset(args["x"], "encode", { try layer.encode($0) }) { return .tensor(z) }
            return .tensor(try layer.encode(try images(args["x"], args, "x")))
        },
        Builtin("ood_attack", .models, [.required("layer"), .required("source"), .required("target"), .optional("norm", .string("L2")),
                                        .optional("eps", .none), .optional("lr", .none), .optional("seed", .none),
                                        .optional("init", .string("uniform")), .optional("optimizer", .string("adamax")),
                                        .optional("preset", .none), .optional("weights", .none), .optional("schedule", .none),
                                        .optional("best", .bool(false))],
                description: """
                Sets up the OOD attack of the paper on a layer. It perturbs `source` (an out-of-distribution image or batch) \
                within an `eps` ball so that the layer's features match those of `target` (one image, or one per source). \
                Each `step` takes the gradient of Σ(f(x) − f(target))², normalises it per sample (L2: g/‖g‖, Linf: sign g), \
                takes an Adamax step (`lr`, by default eps/100 as in the reference), projects onto the ball and clamps pixels \
                to [0, 1]. `init="uniform"` starts from uniform noise in the ball (the reference's default, seeded), `"zero"` \
                from the source itself. `preset="cifar10"` (L2, eps 10, lr 0.1, 100 steps) and `preset="medical"` (L2, eps 20, \
                lr 0.01, 2,000 steps or more) are the paper's settings. A layer of several tensors is matched on all of them, \
                weighted by `weights`. Extensions: `schedule=[[step, lr], …]` changes lr after that many steps; `best=true` \
                keeps each sample's lowest-loss iterate as `atk.best`.
                """,
                example: "atk = ood_attack(feat, source=x_out, target=x_in, norm=\"L2\", eps=10, lr=0.1, seed=0)\natk = ood_attack(feat, source=batch, target=x_in, preset=\"cifar10\")") { args, interpreter in
            let layer = try layerArgument(args, "layer")
            var preset: AttackConfiguration?
            if !args.isNone("preset") {
                switch try args.string("preset").lowercased() {
                case "cifar10", "cifar-10", "cifar": preset = .cifar10()
                case "medical": preset = .medical()
                case let other: throw ScriptError.value("ood_attack(): unknown preset \(quote(other))", hint: "use \"cifar10\" or \"medical\"")
                }
            }
            let normName = try args.string("norm")
            guard let norm = try? Norm(parsing: normName) else {
                throw ScriptError.value("ood_attack(): unknown norm \(quote(normName))", hint: "use \"L2\" or \"Linf\"")
            }
            let epsilon = args.isNone("eps") ? preset?.epsilon ?? 10 : try args.number("eps")
            guard epsilon.isFinite, epsilon > 0 else {
                throw ScriptError.value("ood_attack(): `eps` must be a positive number, got \(formatNumber(epsilon))", hint: "the L2 radius for 28×28 digits is typically 10")
            }
            let lr = args.isNone("lr") ? preset?.learningRate ?? epsilon / 100 : try args.number("lr")
            guard lr.isFinite, lr > 0 else { throw ScriptError.value("ood_attack(): `lr` must be a positive number, got \(formatNumber(lr))") }
            let seed = try args.seed() ?? interpreter.random.next()
            let initialization: DeltaInitialization
            switch try args.string("init") {
            case "uniform": initialization = .uniform(seed: seed)
            case "zero": initialization = .zero
            case let other: throw ScriptError.value("ood_attack(): unknown init \(quote(other))", hint: "use \"uniform\" or \"zero\"")
            }
            let optimizer: OptimizerKind
            switch try args.string("optimizer") {
            case "adamax": optimizer = .adamax
            case "adam": optimizer = .adam
            case "sgd": optimizer = .sgd
            case let other: throw ScriptError.value("ood_attack(): unknown optimizer \(quote(other))", hint: "use \"adamax\", \"adam\" or \"sgd\"")
            }
            var weights = [Double](repeating: 1, count: layer.names.count)
            if !args.isNone("weights") {
                weights = try numbers(args["weights"], "ood_attack() weights")
                guard weights.count == layer.names.count else {
                    throw ScriptError.shape("ood_attack(): \(weights.count) weights for \(layer.names.count) layer tensors \(layer.names.map(quote).joined(separator: ", "))")
                }
            }
            var schedule: [ScheduleEntry] = []
            if case .list(let entries) = args["schedule"] {
                schedule = try entries.map { entry in
                    let pair = try numbers(entry, "ood_attack() schedule entries")
                    guard pair.count == 2, pair[0] >= 0, pair[0] == pair[0].rounded() else {
                        throw ScriptError.value("ood_attack(): each schedule entry is [steps, lr] with whole steps ≥ 0, got \(repr(entry))")
                    }
                    return ScheduleEntry(afterSteps: Int(pair[0]), learningRate: pair[1])
                }
            } else if !args.isNone("schedule") {
                throw args.error("expects `schedule` as a list of [steps, lr] pairs, got \(args["schedule"].typeName)")
            }
            let configuration = AttackConfiguration(norm: norm, epsilon: epsilon, iterations: preset?.iterations ?? 100, learningRate: lr,
                                                    schedule: schedule, optimizer: OptimizerSettings(kind: optimizer),
                                                    initialization: initialization, trackBest: try args.bool("best"))
            let outputs = zip(layer.names, weights).map { OutputWeight($0, weight: $1) }
            if let plan = try DatasetAttackObject.make(args, layer: layer, configuration: configuration, outputs: outputs, seed: seed) {
                return .object(plan)
            }
            let (source, single) = layer.batched(try args.tensor("source"))
            let (target, _) = layer.batched(try args.tensor("target"))
            let attack = try library("ood_attack") {
                try OODAttack(encoder: layer.encoder, xIn: target, xOut: source, configuration: configuration,
                              outputs: outputs)
            }
            return .object(AttackObject(attack: attack, layer: layer, xIn: target, singleImage: single))
        },
        Builtin("step", .models, [.required("attack"), .optional("n", .number(1))],
                description: "Runs `n` more steps of an attack, showing live progress and, at the end, the loss curve. An interrupt stops it after the step in flight: the attack keeps every completed step and the next `step` continues from there.",
                example: "step(atk, 50)\nstep(atk, 50)    # continues") { args, interpreter in
            let attack = try attackArgument(args)
            let n = try args.integer("n", range: 0...10_000_000)
            let id = "attack-\(UInt(bitPattern: ObjectIdentifier(attack).hashValue))-\(attack.attack.stepCount)"
            let host = interpreter.host
            var lastShown = Date.distantPast
            func show(_ text: String, update: Bool) {
                host.display(RichOutput(plain: text), displayID: id, update: update)
            }
            let first = attack.attack.stepCount
            show("step \(first)/\(first + n)", update: false)
            var interrupted = false
            try library("step") {
                try attack.attack.step(n, shouldStop: {
                    interrupted = host.isInterrupted
                    return interrupted
                }, progress: { report in
                    let now = Date()
                    guard now.timeIntervalSince(lastShown) > 0.2 || report.step == first + n else { return }
                    lastShown = now
                    show("step \(report.step)/\(first + n) · loss \(formatFloat(report.meanLoss)) · \(String(format: "%.2f", report.seconds * 1000)) ms/step", update: true)
                })
            }
            let done = attack.attack.stepCount
            let losses = attack.attack.meanLossHistory
            let summary = "\(done - first) steps (\(first) → \(done)); loss \(losses.dropFirst(first).first.map(formatFloat) ?? "?") → \(losses.last.map(formatFloat) ?? "?")"
            let text = summary + (interrupted ? " — interrupted" : "")
            if done > first, let curve = try? lossPlot(Array(losses.prefix(done)), title: "attack loss") {
                host.display(RichOutput(plain: text, png: curve.rendered.png, pngWidth: curve.rendered.logicalWidth,
                                        pngHeight: curve.rendered.logicalHeight), displayID: id, update: true)
            } else {
                show(text, update: true)
            }
            if interrupted {
                throw ScriptError(kind: "KeyboardInterrupt", message: "interrupted after step \(done); the attack keeps it and `step` continues from there")
            }
            return .none
        },
        Builtin("mape", .models, [.required("attack")],
                description: "The attack's feature error per sample. It is mean|z_adv − z_in| / max|z_in| (the reference code's definition; the paper's text writes max in the numerator). One number for one image, a list for a batch.",
                example: "mape(atk)") { args, _ in
            let attack = try attackArgument(args)
            let metrics = try library("mape") {
                try AttackMetrics.compute(zIn: attack.attack.targets[0], zAdv: try attack.attack.currentOutputs()[0],
                                          xOut: attack.attack.xOut, xAdv: attack.attack.x)
            }
            let values = metrics.samples.map { Value.number($0.mape) }
            return values.count == 1 ? values[0] : .list(values)
        },
        Builtin("msp", .models, [.required("layer"), .required("x")],
                description: "Maximum softmax probability of a logits layer (Hendrycks & Gimpel 2017). It is high for inputs the classifier is sure of, low for out-of-distribution ones. `x` is an image, a batch, or a list of them; the result is one number per image.",
                example: "msp(layer(enc, \"logits\"), [x_in, x_out, atk.x])") { args, _ in
            let layer = try layerArgument(args, "layer")
            let inputs: [Tensor]
            switch args["x"] {
            case .tensor(let t): inputs = [t]
            case .list(let items):
                inputs = try items.map { item -> Tensor in
                    guard case .tensor(let t) = item else { throw args.error("expects tensors in `x`, got \(item.typeName)") }
                    return t
                }
            default: throw args.error("expects a tensor or a list of tensors for `x`, got \(args["x"].typeName)")
            }
            var scores: [Value] = []
            for x in inputs {
                let (batch, _) = layer.batched(x)
                let logits = try library("msp") { try layer.encoder.forward(batch)[0] }
                scores += try library("msp") { try MaxSoftmaxDetector().score(logits: logits) }.map { .number(widen(-$0)) }
            }
            return .list(scores)
        },
    ]
}

func attackArgument(_ args: CallArguments) throws -> AttackObject {
    guard case .object(let object) = args["attack"], let attack = object as? AttackObject else {
        throw args.error("expects an attack from `ood_attack` for `attack`, got \(args["attack"].typeName)")
    }
    return attack
}

func layerArgument(_ args: CallArguments, _ name: String) throws -> LayerObject {
    guard case .object(let object) = args[name], let layer = object as? LayerObject else {
        if case .object(let o) = args[name], o is ModelObject {
            throw args.error("expects a layer for `\(name)`, got a model; choose one with `layer(model, \"name\")`")
        }
        throw args.error("expects a layer from `layer(model, name)` for `\(name)`, got \(args[name].typeName)")
    }
    return layer
}

/// Loaded models by file identity (path, size, modification time): re-running a notebook's
/// `load` cell reuses the model instead of parsing it again; a changed file is loaded anew.
final class ModelCache: @unchecked Sendable {
    static let shared = ModelCache()
    private var models: [String: (stamp: String, model: Model)] = [:]
    private let lock = NSLock()

    func model(at path: String) throws -> Model {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp = "\(attributes?[.size] ?? 0)-\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        if let cached = lock.withLock({ models[path] }), cached.stamp == stamp { return cached.model }
        let model = try Model(path: path)
        lock.withLock { models[path] = (stamp, model) }
        return model
    }
}
