import Attack
import Foundation
import Graph
import Imaging
import Tensor

/// Turns library errors into the language's, keeping their words.
@discardableResult
func library<T>(_ what: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ScriptError {
        throw error
    } catch let error as ModelError {
        throw ScriptError(kind: .modelError, message: "\(what): \(error)")
    } catch let error as EngineError {
        throw ScriptError(kind: .modelError, message: "\(what): \(error)")
    } catch let error as AttackError {
        throw ScriptError(kind: .attackError, message: "\(what): \(error)")
    } catch let error as MemoryError {
        throw ScriptError(kind: .memoryError, message: "\(what): \(error)")
    } catch {
        throw ScriptError(kind: .internalError, message: "\(what): \(error)")
    }
}

/// A loaded ONNX model (`load`).
final class ModelObject: ScriptObject, @unchecked Sendable {
    let model: Model
    let path: String
    /// The model's input preprocessing: users give pixels in [0, 1], the model sees (x − mean) / std.
    let normalization: Normalization?
    private var cachedInfo: ModelInfo?

    init(model: Model, path: String, normalization: Normalization? = nil) {
        self.model = model
        self.path = path
        self.normalization = normalization
    }

    var typeName: String { "model" }
    var attributeNames: [String] { ["path", "input", "outputs", "tensors", "parameters"] }

    func attribute(_ name: String) throws -> Value {
        switch name {
        case "path": return .string(path)
        case "input": return .string(model.input?.name ?? "")
        case "outputs": return .list(model.graph.outputs.map { .string($0.name) })
        case "tensors": return .list(model.tensorNames.map { .string($0) })
        default: return .number(Double(model.parameterCount))
        }
    }

    var summary: String {
        "Model(\(quote((path as NSString).lastPathComponent)), outputs=[\(model.graph.outputs.map { quote($0.name) }.joined(separator: ", "))], parameters=\(model.parameterCount)"
            + (normalization.map { ", mean=\($0.mean), std=\($0.std)" } ?? "") + ")"
    }

    func info() -> ModelInfo? {
        if cachedInfo == nil { cachedInfo = try? model.info() }
        return cachedInfo
    }

    /// A table of the named tensors: what `layer` can pick.
    func richOutput() -> RichOutput {
        guard let info = info() else { return RichOutput(plain: summary) }
        let digest = InputFiles.sha256(of: path)
        var plain = summary + "\n" + (digest.map { "sha256 \($0)\n" } ?? "")
        plain += info.table() + "\n"
        var rows = ""
        for t in info.tensors {
            rows += "<tr><td><code>\(escape(t.name))</code></td><td>\(t.operation)</td><td>\(t.shape)</td><td style=\"text-align:right\">\(t.parameters)</td><td style=\"text-align:right\">\(t.flops)</td></tr>"
        }
        let html = "<p><b>\(escape((path as NSString).lastPathComponent))</b>: input <code>\(escape(info.input.name))</code>, "
            + "\(info.parameterCount) parameters, \(info.totalFLOPs) FLOPs per sample"
            + (digest.map { "<br><small>sha256 <code>\($0)</code></small>" } ?? "") + "</p>"
            + "<table><thead><tr><th>tensor</th><th>op</th><th>shape (batch 1)</th><th>params</th><th>FLOPs</th></tr></thead><tbody>\(rows)</tbody></table>"
        return RichOutput(plain: plain, html: html)
    }
}

func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}

/// Chosen tensors of a model (`layer`): what an attack matches or a detector reads.
final class LayerObject: ScriptObject, @unchecked Sendable {
    let model: ModelObject
    let names: [String]
    let encoder: any DifferentiableEncoder

    init(model: ModelObject, names: [String]) throws {
        self.model = model
        self.names = names
        let engine = try library("layer") { try model.model.encoder(outputs: names) }
        encoder = model.normalization.map { NormalizedEncoder(engine, $0) } ?? engine
    }

    var typeName: String { "layer" }
    var attributeNames: [String] { ["names", "model"] }
    func attribute(_ name: String) throws -> Value {
        name == "names" ? .list(names.map { .string($0) }) : .object(model)
    }
    var summary: String { "Layer(\(names.map(quote).joined(separator: ", ")) of \(quote((model.path as NSString).lastPathComponent)))" }

    /// The rank the model's input has, batch included.
    var inputRank: Int { model.model.input?.shape?.count ?? 4 }

    /// The model's input shape without the batch axis (0 for a symbolic dimension), if the model declares it.
    var sampleShape: [Int]? {
        model.model.input?.shape.map { dims in dims.dropFirst().map { if case .fixed(let n) = $0 { return n } else { return 0 } } }
    }

    /// This layer as detectors read it: the first chosen tensor.
    var detectorLayer: DetectorLayer {
        DetectorLayer(encoder: encoder, model: model.model, name: names[0], inputShape: sampleShape)
    }

    /// The label a layer gets in an attack on several models: its tensor names, with the model file when needed.
    func qualifiedNames(_ qualify: Bool) -> [String] {
        qualify ? names.map { "\((model.path as NSString).lastPathComponent):\($0)" } : names
    }

    /// Adds the batch axis to a single image; remembers whether it did.
    func batched(_ x: Tensor) -> (Tensor, added: Bool) {
        x.rank == inputRank - 1 ? (Tensor(shape: [1] + x.shape, data: x.data), true) : (x, false)
    }

    /// Forward through the first chosen tensor.
    func encode(_ x: Tensor) throws -> Tensor {
        let (input, added) = batched(x)
        let z = try library("encode") { try encoder.forward(input)[0] }
        return added && z.rank >= 1 && z.shape[0] == 1 ? Tensor(shape: Array(z.shape.dropFirst()), data: z.data) : z
    }
}

/// A steppable OOD attack (`ood_attack`).
final class AttackObject: ScriptObject, @unchecked Sendable {
    let attack: OODAttack
    /// The layers matched, in the attack's output order (several when the attack spans models).
    let layers: [LayerObject]
    /// The in-distribution targets as images, or nil when the targets were given as values (`target=3.2`).
    let xIn: Tensor?
    let singleImage: Bool

    init(attack: OODAttack, layers: [LayerObject], xIn: Tensor?, singleImage: Bool) {
        self.attack = attack
        self.layers = layers
        self.xIn = xIn
        self.singleImage = singleImage
    }

    /// The first layer (the one `mape` and `attack_metrics` read by default).
    var layer: LayerObject { layers[0] }

    var typeName: String { "attack" }
    var attributeNames: [String] { ["x", "delta", "x_in", "x_out", "loss", "steps", "seconds", "layer"] + (attack.bestX == nil ? [] : ["best"]) }

    /// Images come back as the user gave them: without a batch axis for a single image.
    func unbatched(_ t: Tensor) -> Tensor {
        singleImage && t.rank >= 1 && t.shape[0] == 1 ? Tensor(shape: Array(t.shape.dropFirst()), data: t.data) : t
    }

    func attribute(_ name: String) throws -> Value {
        switch name {
        case "x": return .tensor(unbatched(attack.x))
        case "delta": return .tensor(unbatched(attack.delta))
        case "x_in": return xIn.map { .tensor(unbatched($0)) } ?? .none
        case "x_out": return .tensor(unbatched(attack.xOut))
        case "loss": return .list(attack.meanLossHistory.map { .number(widen($0)) })
        case "steps": return .number(Double(attack.stepCount))
        case "seconds": return .number(attack.stepSeconds.reduce(0, +))
        case "best": return .tensor(unbatched(attack.bestX ?? attack.x))
        default: return layers.count == 1 ? .object(layer) : .list(layers.map { .object($0) })
        }
    }

    var summary: String {
        let c = attack.configuration
        let loss = attack.meanLossHistory.last.map { ", loss=\(formatFloat($0))" } ?? ""
        return "OODAttack(\(c.norm == .l2 ? "L2" : "Linf"), eps=\(formatNumber(c.epsilon)), lr=\(formatNumber(c.learningRate)), batch=\(attack.batchSize), steps=\(attack.stepCount)\(loss))"
    }

    /// x_out | x_adv | x_in | |δ| (scaled to its maximum), one row per sample (at most 8).
    func pictures() -> [Tensor] {
        let rows = min(attack.batchSize, 8)
        var pictures: [Tensor] = []
        for i in 0..<rows {
            let d = attack.delta.slice(i)
            let peak = d.data.map(abs).max() ?? 0
            let magnitude = d.map { peak > 0 ? abs($0) / peak : 0 }
            let target = xIn.map { $0.slice($0.shape[0] == 1 ? 0 : i) } ?? Tensor.zeros(attack.xOut.slice(i).shape)
            pictures += [attack.xOut.slice(i), attack.x.slice(i), target, magnitude]
        }
        return pictures
    }

    func richOutput() -> RichOutput {
        guard let rendered = try? PictureDisplay.render(pictures: pictures(), columns: 4) else { return RichOutput(plain: summary) }
        return RichOutput(plain: summary + "\n(x_out | x_adv | x_in | |δ| scaled to its maximum)", png: rendered.png,
                          pngWidth: rendered.width, pngHeight: rendered.height)
    }
}
