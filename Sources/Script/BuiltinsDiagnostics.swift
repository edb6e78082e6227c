// check_gradient: the engine's gradient self-check (GradientCheck) from the language.
import Foundation
import Graph
import Imaging
import Tensor

extension Builtins {
    static let diagnostics: [Builtin] = [
        Builtin("check_gradient", .models, [.required("layer"), .required("x"), .optional("directions", .number(5)), .optional("seed", .number(0))],
                description: """
                Checks the engine's input gradient on your model; run it once per new model. It compares ⟨∇ₓΣy², v⟩ with central differences of \
                Σy² along `directions` seeded random directions v (sums in float64, several step sizes, the median error decides), at x plus a little noise (off ReLU and max-pool kinks), where y is the layer's \
                first tensor and x images in [0, 1] (the model's normalisation applied). It also compares every forward value of \
                the engine's fast path with its plain one. The cell shows the relative error and a verdict (ok, doubtful, wrong); \
                when something is wrong it names the first tensor whose forward value or gradient goes wrong. `.error`, \
                `.verdict`, `.forward_mismatch` and `.first_wrong_gradient` give the findings.
                """,
                example: "check_gradient(feat, x_in)") { args, _ in
            let layer = try layerArgument(args, "layer")
            var (x, _) = layer.batched(try images(args["x"], args, "x"))
            if let normalization = layer.model.normalization {
                do { x = try normalization.apply(x) } catch let error as ImagingError { throw ScriptError.shape(error.message) }
            }
            let directions = try args.integer("directions", range: 1...64)
            let seed = try args.integer("seed", range: 0...Int(Int32.max))
            let report = try library("check_gradient") {
                try GradientCheck.run(layer.model.model, output: layer.names[0], input: x, directions: directions, seed: UInt64(seed))
            }
            return .object(GradientCheckObject(report: report))
        },
    ]
}

/// The result of `check_gradient`: the report's text, and its figures as attributes.
final class GradientCheckObject: ScriptObject, @unchecked Sendable {
    let report: GradientCheckReport

    init(report: GradientCheckReport) { self.report = report }

    var typeName: String { "gradient_check" }
    var attributeNames: [String] { ["error", "verdict", "forward_mismatch", "first_wrong_gradient"] }
    func attribute(_ name: String) throws -> Value {
        switch name {
        case "error": return .number(report.relativeError)
        case "verdict": return .string(report.verdict.rawValue)
        case "forward_mismatch": return report.forwardMismatch.map { .string($0.tensor) } ?? .none
        default: return report.firstWrongGradient.map { .string($0) } ?? .none
        }
    }
    var summary: String { report.description }
}
