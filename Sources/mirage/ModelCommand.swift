import ArgumentParser
import Foundation
import Graph
import Imaging
import Tensor

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect or run an ONNX model with Mirage's engine.",
        subcommands: [Info.self, Run.self, Check.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List inputs, outputs and every named tensor with shape, parameters and FLOPs.")
        @Argument(help: "An ONNX file.") var model: String

        func run() throws {
            let info = try Model(path: model).info()
            print("\(model)  (producer: \(info.producer.isEmpty ? "unknown" : info.producer), opset \(info.opsets[""] ?? 0))")
            print("input   \(info.input.name) \(describe(info.input))")
            for output in info.outputs { print("output  \(output.name) \(describe(output))") }
            print("parameters \(ModelInfo.grouped(info.parameterCount)), \(ModelInfo.grouped(info.totalFLOPs)) FLOPs per sample\n")
            print(info.table())
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a model on a .npy input; optionally write the gradient g = ∂Σy²/∂x.",
            discussion: "The input is float32/float64/uint8 NumPy, C order, shaped like the model's input. Outputs are float32 .npy.")
        @Argument(help: "An ONNX file.") var model: String
        @Option(help: "Input tensor (.npy).") var input: String
        @Option(help: "The tensor to compute (default: the model's first output).") var output: String?
        @Option(help: "Where to write the output (.npy).") var out: String
        @Option(help: "Where to write ∂Σy²/∂x (.npy).") var grad: String?

        func run() throws {
            let loaded = try Model(path: model)
            guard let name = output ?? loaded.graph.outputs.first?.name else { throw ValidationError("the model has no outputs") }
            let x = try NPY.decode(Array(try Data(contentsOf: URL(fileURLWithPath: input))))
            let encoder = try loaded.encoder(outputs: [name])
            let y = try encoder.forward(x)[0]
            try Data(NPY.encode(y)).write(to: URL(fileURLWithPath: out))
            if let grad {
                let g = try encoder.pullback([y.map { 2 * $0 }])
                try Data(NPY.encode(g)).write(to: URL(fileURLWithPath: grad))
            }
        }
    }
}

extension ModelCommand {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the engine's input gradient on a model against central differences (run once on any new model).",
            discussion: """
            Compares ⟨∇ₓΣy², v⟩ with central differences of Σy² along random directions v (float64 sums, several steps), \
            and every forward value of the engine's fast path with its plain one. Prints the relative error and a verdict \
            (ok, doubtful, wrong) and, when something is wrong, the first tensor where forward values or gradients go wrong. \
            Exit status 1 when the verdict is wrong. Without --input, x is seeded standard-normal noise shaped like the \
            model's input (unnamed or symbolic dimensions as 1).
            """)
        @Argument(help: "An ONNX file.") var model: String
        @Option(help: "The tensor y to check (default: the model's first output).") var output: String?
        @Option(help: "Input tensor (.npy); default: seeded normal noise.") var input: String?
        @Option(help: "Random directions (the verdict uses the median error).") var directions = 5
        @Option(help: "Seed of the directions (and of the default input).") var seed: UInt64 = 0

        func run() throws {
            let loaded = try Model(path: model)
            guard let name = output ?? loaded.graph.outputs.first?.name else { throw ValidationError("the model has no outputs") }
            let x: Tensor
            if let input {
                x = try NPY.decode(Array(try Data(contentsOf: URL(fileURLWithPath: input))))
            } else {
                let shape = (loaded.input?.shape ?? []).map { d -> Int in if case .fixed(let n) = d, n > 0 { return n }; return 1 }
                var generator = SeededGenerator(seed: seed)
                x = Tensor.normal(shape, using: &generator)
            }
            let report = try GradientCheck.run(loaded, output: name, input: x, directions: max(1, directions), seed: seed)
            print("\(model)  x \(x.shape)")
            print(report.description)
            if report.verdict == .wrong { throw ExitCode(1) }
        }
    }
}

private func describe(_ info: ValueInfo) -> String {
    guard let shape = info.shape else { return "(shape unknown)" }
    return "[" + shape.map { d -> String in
        switch d {
        case .fixed(let n): return "\(n)"
        case .symbolic(let s): return s.isEmpty ? "?" : s
        }
    }.joined(separator: ", ") + "]"
}
