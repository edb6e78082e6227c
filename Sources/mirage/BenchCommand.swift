import ArgumentParser
import Attack
import Foundation
import Graph
import Tensor
#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (build with -c release).",
        subcommands: [AttackStep.self])

    struct AttackStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attack",
            abstract: "Time the full OOD attack step: forward, squared-distance loss, gradient to the input, normalisation, Adamax, projection.")
        @Argument(help: "An ONNX file.") var model: String
        @Option(help: "The attacked tensor (default: the model's first output).") var output: String?
        @Option(help: "Batch size.") var batch = 1
        @Option(help: "Timed steps (after 3 warm-up steps).") var steps = 20
        @Flag(help: "Print the time spent per operator type.") var profile = false

        func run() throws {
            let loaded = try Model(path: model)
            guard let name = output ?? loaded.graph.outputs.first?.name, let input = loaded.input else {
                throw ValidationError("the model has no outputs or no input")
            }
            let shape = [batch] + (input.shape ?? []).dropFirst().map { d -> Int in if case .fixed(let n) = d { return n }; return 1 }
            var rng = SeededGenerator(seed: 1)
            let xIn = Tensor.uniform(shape, using: &rng), xOut = Tensor.uniform(shape, using: &rng)
            let encoder = try loaded.encoder(outputs: [name])
            let attack = try OODAttack(encoder: encoder, xIn: xIn, xOut: xOut,
                                       configuration: AttackConfiguration(norm: .l2, epsilon: 10, iterations: steps, learningRate: 0.1))
            try attack.step(3)
            if profile { encoder.profile = [:] }
            var times: [Double] = []
            for _ in 0..<steps {
                let start = DispatchTime.now().uptimeNanoseconds
                try attack.step(1)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            times.sort()
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let median = times[times.count / 2]
            print(String(format: "model %@ output %@ batch %d: median %.3f ms/step (min %.3f, max %.3f) over %d steps; peak RSS %.1f MB; final loss %.4g",
                         (model as NSString).lastPathComponent, name, batch, median, times.first!, times.last!, steps,
                         Double(usage.ru_maxrss) / 1024, attack.meanLossHistory.last ?? .nan))
            if let table = encoder.profile {
                let total = times.reduce(0, +)
                let engine = table.values.reduce(0) { $0 + $1.forward + $1.backward } * 1000
                print(String(format: "engine %.1f%% of step time; per step:", engine / total * 100))
                for (op, t) in table.sorted(by: { $0.value.forward + $0.value.backward > $1.value.forward + $1.value.backward }) {
                    print(String(format: "  %-20@ forward %8.3f ms  backward %8.3f ms", op as NSString, t.forward * 1000 / Double(steps), t.backward * 1000 / Double(steps)))
                }
            }
        }
    }
}
