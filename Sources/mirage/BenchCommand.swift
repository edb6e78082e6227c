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
        subcommands: [AttackStep.self, ConvolutionStep.self])

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

    struct ConvolutionStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conv",
            abstract: "Time one convolution (with a fused ReLU), forward and input gradient, as the engine runs it beside oneDNN's direct kernel, interleaved.")
        @Option(help: "Batch size.") var batch = 8
        @Option(help: "Input channels.") var channels = 64
        @Option(help: "Output channels (default: as many as the input's).") var outputs: Int?
        @Option(help: "Height and width of the input map.") var size = 56
        @Option(help: "Kernel height and width.") var kernel = 3
        @Option(help: "Stride on both axes.") var stride = 1
        @Option(help: "Timed calls of each kernel and direction (after 3 warm-up calls).") var calls = 20

        func validate() throws {
            for (name, value) in [("--batch", batch), ("--channels", channels), ("--outputs", outputs ?? 1), ("--kernel", kernel),
                                  ("--stride", stride), ("--calls", calls)] where value < 1 {
                throw ValidationError("\(name) must be at least 1, got \(value)")
            }
            guard size >= kernel else { throw ValidationError("--size \(size) is smaller than the kernel (\(kernel))") }
        }

        func run() throws {
            let pad = kernel / 2, o = outputs ?? channels
            let geometry = ConvolutionGeometry(input: [batch, channels, size, size], weight: [o, channels, kernel, kernel], groups: 1,
                                               strides: [stride, stride], dilations: [1, 1], padsBegin: [pad, pad], padsEnd: [pad, pad])
            var rng = SeededGenerator(seed: 1)
            let weight = Tensor.normal(geometry.weight, std: (2 / Float(channels * kernel * kernel)).squareRoot(), using: &rng)
            let bias = Tensor.normal([o], std: 0.1, using: &rng)
            let engine = try ConvolutionKernel(geometry, weight: weight, bias: bias, fusedReLU: true, winogradBackwardData: true)
            let direct = try ConvolutionKernel(geometry, weight: weight, bias: bias, fusedReLU: true, winogradBackwardData: false, ownKernels: false)
            let x = KernelInput.plain(Tensor.normal(geometry.input, using: &rng))
            let dy = KernelInput.plain(Tensor.normal(geometry.output, using: &rng))
            // Inputs in the kernels' own layouts, as a graph hands them over, so the timed calls reorder nothing.
            let (xIn, dyIn) = (KernelInput.laidOut(try engine.laidOut(x, gradient: false)), KernelInput.laidOut(try engine.laidOut(dy, gradient: true)))
            /// Median ms of `calls` timed calls of each body, alternating between them.
            func interleaved(_ bodies: [() throws -> Void]) throws -> [Double] {
                for _ in 0..<3 { for body in bodies { try body() } }
                var times = [[Double]](repeating: [], count: bodies.count)
                for _ in 0..<calls {
                    for (i, body) in bodies.enumerated() {
                        let start = DispatchTime.now().uptimeNanoseconds
                        try body()
                        times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                    }
                }
                return times.map { $0.sorted()[$0.count / 2] }
            }
            let forward = try interleaved([{ _ = try engine.forward(xIn) }, { _ = try direct.forward(xIn) }])
            let backward = try interleaved([{ _ = try engine.backwardData(dyIn) }, { _ = try direct.backwardData(dyIn) }])
            /// The largest difference between the two kernels' results, relative to the largest magnitude.
            func difference(_ a: Tensor, _ b: Tensor) -> Float {
                zip(a.data, b.data).map { abs($0 - $1) }.max()! / max(b.data.map(abs).max()!, .leastNormalMagnitude)
            }
            let forwardDifference = difference(try engine.forward(xIn).plain(), try direct.forward(xIn).plain())
            let backwardDifference = difference(try engine.backwardData(dyIn).plain(), try direct.backwardData(dyIn).plain())
            print("convolution \(geometry.input) * \(geometry.weight), stride \(stride), padding \(pad), ReLU; the engine runs \(engine.runsWinograd ? "our Winograd F(2×2, 3×3)" : engine.runsPhaseGradient ? "oneDNN's forward and our phase-split input gradient" : "oneDNN's kernels"); median ms over \(calls) calls:")
            print(String(format: "  forward         engine %8.3f  oneDNN direct %8.3f  ratio %.2f  largest difference %.1e", forward[0], forward[1], forward[0] / forward[1], forwardDifference))
            print(String(format: "  input gradient  engine %8.3f  oneDNN direct %8.3f  ratio %.2f  largest difference %.1e", backward[0], backward[1], backward[0] / backward[1], backwardDifference))
        }
    }
}
