import Attack
import Foundation
import Graph
import Imaging
import Tensor

extension LayerObject {
    /// The chosen tensors for a batch (or one image), forwarded in row blocks and stacked along the first axis.
    func outputs(_ x: Tensor, _ what: String) throws -> [Tensor] {
        let (batch, _) = batched(x)
        return try library(what) { try Batching.inChunks(batch) { chunk in try encoder.forward(chunk) } }
    }
}

/// Class labels from a list or tensor of whole numbers.
func classLabels(_ value: Value, _ what: String) throws -> [Int] {
    try numbers(value, what).map { x in
        guard x == x.rounded(), x >= 0, x < 1e9 else { throw ScriptError.value("\(what) must be class indices (whole numbers ≥ 0), found \(formatNumber(x))") }
        return Int(x)
    }
}

/// An OOD detector (`detector`): a kind from `DetectorRegistry`, configured and fitted, with the layers it reads.
/// Scores are "higher = more out-of-distribution" for every kind.
final class DetectorObject: ScriptObject, @unchecked Sendable {
    let kind: DetectorKind
    let detector: any Detector
    /// The layers it reads, in the kind's order.
    let layers: [LayerObject]
    let fittedOn: Int

    init(kind: DetectorKind, detector: any Detector, layers: [LayerObject], fittedOn: Int) {
        self.kind = kind
        self.detector = detector
        self.layers = layers
        self.fittedOn = fittedOn
    }

    /// The name tables and legends use.
    var name: String { detector.name }

    var typeName: String { "detector" }
    var attributeNames: [String] { ["kind", "name", "layer"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "kind": return .string(kind.name)
        case "name": return .string(self.name)
        default: return .object(layers[0])
        }
    }

    var summary: String {
        "Detector(\(name) on \(layers.flatMap(\.names).map(quote).joined(separator: ", "))\(fittedOn > 0 ? ", fitted on \(fittedOn) samples" : ""))"
    }

    /// Scores for an image or a batch: one per image, higher = more out-of-distribution; row block by row block.
    func score(_ x: Tensor) throws -> [Float] {
        let (batch, _) = layers[0].batched(x)
        let read = layers.map(\.detectorLayer)
        return try library("score(\(name))") {
            try Batching.inChunks(batch) { chunk in
                let s = try detector.score(chunk, layers: read)
                return [Tensor(shape: [s.count], data: s)]
            }[0].data
        }
    }
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
