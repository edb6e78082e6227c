import Attack
import Foundation
import Graph
import Imaging
import Tensor

extension LayerObject {
    /// Rows per forward pass when many images are scored: about 4 M input values per chunk keeps memory flat.
    func chunkRows(_ x: Tensor) -> Int {
        let perSample = max(1, x.count / max(1, x.shape[0]))
        return max(1, min(256, (1 << 22) / perSample))
    }

    /// The chosen tensors for a batch (or one image), chunk by chunk, stacked along the first axis.
    func outputs(_ x: Tensor, _ what: String) throws -> [Tensor] {
        let (batch, _) = batched(x)
        return try inChunks(batch) { chunk in try library(what) { try encoder.forward(chunk) } }
    }

    /// Applies `body` to consecutive row blocks of `batch` and stacks what it returns.
    func inChunks(_ batch: Tensor, _ body: (Tensor) throws -> [Tensor]) throws -> [Tensor] {
        let n = batch.shape.first ?? 0
        let rows = chunkRows(batch)
        if n <= rows { return try body(batch) }
        let width = batch.count / n
        var parts: [[Tensor]] = []
        var start = 0
        while start < n {
            let end = min(n, start + rows)
            let chunk = Tensor(shape: [end - start] + batch.shape.dropFirst(), data: Array(batch.data[(start * width)..<(end * width)]))
            parts.append(try body(chunk))
            start = end
        }
        return parts[0].indices.map { k in
            let pieces = parts.map { $0[k] }
            let shape = [pieces.reduce(0) { $0 + ($1.shape.first ?? 0) }] + pieces[0].shape.dropFirst()
            return Tensor(shape: shape, data: Array(pieces.map(\.data).joined()))
        }
    }
}

/// Class labels from a list or tensor of whole numbers.
func classLabels(_ value: Value, _ what: String) throws -> [Int] {
    try numbers(value, what).map { x in
        guard x == x.rounded(), x >= 0, x < 1e9 else { throw ScriptError.value("\(what) must be class indices (whole numbers ≥ 0), found \(formatNumber(x))") }
        return Int(x)
    }
}

/// An OOD detector (`detector`): configured and, for the feature-based ones, fitted on in-distribution data.
/// Scores are "higher = more out-of-distribution" for every kind.
final class DetectorObject: ScriptObject, @unchecked Sendable {
    enum Kind: String, CaseIterable {
        case msp, maxlogit, energy, odin, mahalanobis, knn, vim

        /// Whether the layer must be the classifier's logits (the others read features).
        var readsLogits: Bool { [.msp, .maxlogit, .energy, .odin].contains(self) }
    }

    enum Fitted {
        case none
        case mahalanobis(MahalanobisDetector)
        case knn(KNNDetector)
        case vim(ViMDetector)
    }

    let kind: Kind
    let layer: LayerObject
    let temperature: Double
    let epsilon: Double
    let fitted: Fitted
    let fittedOn: Int

    init(kind: Kind, layer: LayerObject, temperature: Double, epsilon: Double, fitted: Fitted, fittedOn: Int) {
        self.kind = kind
        self.layer = layer
        self.temperature = temperature
        self.epsilon = epsilon
        self.fitted = fitted
        self.fittedOn = fittedOn
    }

    /// The name tables and legends use.
    var name: String {
        switch kind {
        case .msp: return "MSP"
        case .maxlogit: return "MaxLogit"
        case .energy: return temperature == 1 ? "Energy" : "Energy (T=\(formatNumber(temperature)))"
        case .odin: return "ODIN (T=\(formatNumber(temperature)), ε=\(formatNumber(epsilon)))"
        case .mahalanobis: return "Mahalanobis"
        case .knn:
            if case .knn(let d) = fitted { return "KNN (k=\(d.k))" }
            return "KNN"
        case .vim:
            if case .vim(let d) = fitted { return "ViM (D=\(d.principalDimension))" }
            return "ViM"
        }
    }

    var typeName: String { "detector" }
    var attributeNames: [String] { ["kind", "name", "layer"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "kind": return .string(kind.rawValue)
        case "name": return .string(self.name)
        default: return .object(layer)
        }
    }

    var summary: String {
        "Detector(\(name) on \(layer.names.map(quote).joined(separator: ", "))\(fittedOn > 0 ? ", fitted on \(fittedOn) samples" : ""))"
    }

    /// Scores for an image or a batch: one per image, higher = more out-of-distribution.
    func score(_ x: Tensor) throws -> [Float] {
        let what = "score(\(name))"
        let (batch, _) = layer.batched(x)
        if kind == .odin {
            // ODIN's input pre-processing needs the gradient, so each chunk runs forward, backward and forward again.
            let odin = ODINDetector(temperature: temperature, epsilon: epsilon)
            let parts = try layer.inChunks(batch) { chunk in
                let s = try library(what) { try odin.score(encoder: layer.encoder, x: chunk, logits: layer.names[0]) }
                return [Tensor(shape: [s.count], data: s)]
            }
            return parts[0].data
        }
        let z = try layer.outputs(batch, what)[0]
        return try library(what) {
            switch (kind, fitted) {
            case (.msp, _): return try MaxSoftmaxDetector().score(logits: z)
            case (.maxlogit, _): return try MaxLogitDetector().score(logits: z)
            case (.energy, _): return try EnergyDetector(temperature: temperature).score(logits: z)
            case (.mahalanobis, .mahalanobis(let d)): return try d.score(features: z)
            case (.knn, .knn(let d)): return try d.score(features: z)
            case (.vim, .vim(let d)): return try d.score(features: z)
            default: throw ScriptError.value("\(name) is not fitted")
            }
        }
    }
}

/// The final linear layer `logits = W·features + b` as exported from `torch.nn.Linear` (a Gemm node), which ViM needs.
func linearHead(of model: Model, features: String, logits: String) throws -> (weight: Tensor, bias: Tensor) {
    guard let node = model.graph.nodes.first(where: { $0.outputs.contains(logits) }) else {
        throw ScriptError.value("ViM: no node of the model computes \(quote(logits))")
    }
    guard node.opType == "Gemm", node.inputs.count >= 3, node.inputs[0] == features,
          let b = model.graph.initializers[node.inputs[1]], let c = model.graph.initializers[node.inputs[2]],
          case .floats(let bData) = b.storage, case .floats(let cData) = c.storage, b.shape.count == 2 else {
        throw ScriptError.value("ViM needs \(quote(logits)) to be a linear layer (Gemm with constant weights) of \(quote(features)); it is made by a \(node.opType) node",
                                hint: "pass the features the final Linear reads as the layer and its output as `logits=`")
    }
    func attribute(_ name: String) -> Double? {
        switch node.attributes[name] {
        case .float(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    let alpha = Float(attribute("alpha") ?? 1), beta = Float(attribute("beta") ?? 1)
    let transposed = (attribute("transB") ?? 0) != 0
    let (classes, dims) = transposed ? (b.shape[0], b.shape[1]) : (b.shape[1], b.shape[0])
    var weight = [Float](repeating: 0, count: classes * dims)
    for i in 0..<classes {
        for j in 0..<dims { weight[i * dims + j] = alpha * (transposed ? bData[i * dims + j] : bData[j * classes + i]) }
    }
    guard cData.count == classes || cData.count == 1 else {
        throw ScriptError.value("ViM: the bias of \(quote(logits)) has \(cData.count) values for \(classes) classes")
    }
    let bias = (0..<classes).map { beta * cData[cData.count == 1 ? 0 : $0] }
    return (Tensor(shape: [classes, dims], data: weight), Tensor(shape: [classes], data: bias))
}

/// The singular values of a layer's Jacobian at an input (`jacobian_spectrum`).
final class SpectrumObject: ScriptObject, @unchecked Sendable {
    let spectrum: JacobianSpectrum
    let layerName: String

    init(spectrum: JacobianSpectrum, layerName: String) {
        self.spectrum = spectrum
        self.layerName = layerName
    }

    var typeName: String { "spectrum" }
    var attributeNames: [String] { ["values", "rank", "input_dim", "output_dim", "local_dim"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "values": return .list(spectrum.singularValues.map { .number($0) })
        case "rank": return .number(Double(spectrum.rank))
        case "input_dim": return .number(Double(spectrum.inputDimension))
        case "output_dim": return .number(Double(spectrum.outputDimension))
        default: return .number(Double(spectrum.localDimension))
        }
    }

    var summary: String {
        let s = spectrum
        let largest = s.singularValues.first.map { String(format: "%.4g", $0) } ?? "?"
        let smallest = s.allSingularValues.last.map { String(format: "%.4g", $0) } ?? "?"
        return "Jacobian of \(quote(layerName)): \(s.outputDimension) × \(s.inputDimension), rank \(s.rank), "
            + "σ from \(largest) to \(smallest); inputs with the same features near x form a \(s.localDimension)-dimensional set "
            + "(\(s.inputDimension) − \(s.rank))"
    }

    func richOutput() -> RichOutput {
        // Zero singular values (switched-off ReLUs, the null space) cannot go on a log axis: plot the others, say how many.
        let all = spectrum.allSingularValues
        let top = all.first ?? 0
        let shown = all.filter { $0 > top * 1e-12 }
        let zeros = all.count - shown.count
        let title = "singular values of ∂\(layerName)/∂x" + (zeros > 0 ? " (\(zeros) more are 0)" : "")
        let plot = try? PlotObject(LinePlot([LinePlot.Series(y: shown)], title: title, x: Axis("index"),
                                            y: Axis("σ", scale: shown.isEmpty ? .linear : .log), width: 560, height: 320))
        guard let r = plot?.rendered else { return RichOutput(plain: summary) }
        return RichOutput(plain: summary, png: r.png, pngWidth: r.logicalWidth, pngHeight: r.logicalHeight)
    }
}
