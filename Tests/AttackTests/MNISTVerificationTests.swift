import Foundation
import Testing
import Tensor
import Graph
import Imaging
@testable import Attack

// The paper's claim checked end to end on the bundled encoder (issue #5): the OOD attack drives noise and spiral
// images to the `features` of held-out test digits (MAPE ≤ 1% for ≥ 95% of the sources), and then every detector
// that reads those features (or the logits computed from them) scores the attacked images like in-distribution
// digits (AUROC in-distribution vs attacked OOD ≤ 0.6), while it separates the raw OOD images.
//
// Settings (docs/attack.md, "Verification on the bundled encoder"): L2, ε = 15, Adamax, lr = 0.1, no schedule,
// uniform δ₀ (seed 0), 200 iterations. ε = 10 (the CIFAR preset) is not enough on MNIST: a noise start is about
// 16 from a digit in L2 and the ball binds, leaving about half of the sources above 1% (measured, see the doc).
//
// `swift test` runs the full experiment (100 sources; Attack and Graph are optimised even in debug builds);
// MIRAGE_VERIFY_SOURCES changes the count (scripts/attack/verify_mnist.sh), and MIRAGE_VERIFY_REPORT=path
// writes the per-sample MAPE and the detector table as JSON. MIRAGE_VERIFY_EPSILON and MIRAGE_VERIFY_STEPS override
// ε and the iteration count (for the comparison with the CIFAR preset's ε = 10 in the doc; the assertions stay).

/// Repository root (Tests/AttackTests/this file → three levels up).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A committed .npy file as (shape, float32 values).
func readNPY(_ url: URL) throws -> (shape: [Int], floats: [Float]) {
    let t = try NPY.decode([UInt8](try Data(contentsOf: url)))
    return (t.shape, t.data)
}

/// The experiment: data, sources, targets, detectors.
enum MNISTVerification {
    static let modelPath = repositoryRoot.appendingPathComponent("Examples/models/mnist_cnn.onnx").path
    /// Sources in a plain `swift test`: the issue's full experiment.
    static let defaultSources = 100
    static let configuration = AttackConfiguration(norm: .l2, epsilon: 15, iterations: 200, learningRate: 0.1,
                                                   initialization: .uniform(seed: 0))

    /// n sources (n/2 uniform noise, the rest spirals, each from its own seed) and n distinct target digits from the
    /// evaluation half (odd indices), spread over the classes.
    static func sources(_ n: Int) -> Tensor {
        var data: [Float] = []
        let noise = n / 2
        for i in 0..<noise {
            var g = SeededGenerator(seed: 1000 + UInt64(i))
            data += (0..<784).map { _ in Float(g.nextUniform()) }
        }
        for i in 0..<(n - noise) {
            var g = SeededGenerator(seed: 2000 + UInt64(i))
            data += try! Generators.spiral(channels: 1, height: 28, width: 28, using: &g).data
        }
        return Tensor(shape: [n, 1, 28, 28], data: data)
    }

    /// Test digits are stored 100 per class in class order; odd indices form the evaluation half. Target i is
    /// the (i / 10)-th odd-indexed digit of class i % 10 (classes alternate, all distinct for n ≤ 500).
    static func targetIndices(_ n: Int) -> [Int] {
        (0..<n).map { i in (i % 10) * 100 + 2 * (i / 10) + 1 }
    }

    static func rowsOf(_ t: Tensor, _ idx: [Int]) -> Tensor {
        let n = t.count / t.shape[0]
        var data: [Float] = []
        data.reserveCapacity(idx.count * n)
        for i in idx { data += t.data[(i * n)..<((i + 1) * n)] }
        return Tensor(shape: [idx.count] + Array(t.shape.dropFirst()), data: data)
    }

    static func floats(_ t: TensorValue) -> Tensor {
        guard case .floats(let v) = t.storage else { fatalError("not float") }
        return Tensor(shape: t.shape, data: v)
    }
}

@Suite(.serialized) struct MNISTVerificationTests {
    struct DetectorRow: Codable {
        var detector: String
        var aurocRaw: Double
        var aurocAttacked: Double
        var fpr95Raw: Double
        var fpr95Attacked: Double
    }

    @Test func attackReachesThePapersResultOnTheBundledEncoder() throws {
        let env = ProcessInfo.processInfo.environment
        let n = env["MIRAGE_VERIFY_SOURCES"].flatMap(Int.init) ?? MNISTVerification.defaultSources
        #expect(n >= 2 && n <= 500)
        let model = try Model(path: MNISTVerification.modelPath)
        let both = try model.encoder(outputs: ["features", "logits"])
        let images = try readNPY(repositoryRoot.appendingPathComponent("Examples/data/mnist/test_images.npy"))
        let labels = try readNPY(repositoryRoot.appendingPathComponent("Examples/data/mnist/test_labels.npy")).floats.map { Int($0) }
        let digits = Tensor(shape: images.shape, data: images.floats)
        #expect(digits.shape == [1000, 1, 28, 28] && labels.count == 1000)

        // Targets: n distinct held-out digits; sources: noise and spirals.
        let targetIdx = MNISTVerification.targetIndices(n)
        #expect(Set(targetIdx).count == n && targetIdx.allSatisfy { $0 % 2 == 1 })
        let xIn = MNISTVerification.rowsOf(digits, targetIdx)
        let xOut = MNISTVerification.sources(n)

        let clock = ContinuousClock()
        let started = clock.now
        var configuration = MNISTVerification.configuration
        if let e = env["MIRAGE_VERIFY_EPSILON"].flatMap(Double.init) { configuration.epsilon = e }
        if let s = env["MIRAGE_VERIFY_STEPS"].flatMap(Int.init) { configuration.iterations = s }
        let attack = try OODAttack(encoder: both, xIn: xIn, xOut: xOut, configuration: configuration,
                                   outputs: [OutputWeight("features")])
        try attack.run()
        let attackSeconds = (clock.now - started) / .seconds(1)
        let metrics = try attack.metrics(output: "features")
        let mape = metrics.samples.map(\.mape)
        let reached = mape.filter { $0 <= 0.01 }.count
        // The paper's result: MAPE ≤ 1% for at least 95% of the sources.
        #expect(Double(reached) >= 0.95 * Double(n), "MAPE ≤ 1% for \(reached)/\(n); MAPE \(mape)")
        // The budget holds (up to Float32 rounding of δ = x − x′).
        #expect(metrics.samples.allSatisfy { $0.deltaL2 <= configuration.epsilon * (1 + 1e-5) })

        // Detectors: fitted on the even half of the test digits, evaluated on the odd half.
        let fitIdx = Array(stride(from: 0, to: 1000, by: 2)), evalIdx = Array(stride(from: 1, to: 1000, by: 2))
        let fitOuts = try both.forward(MNISTVerification.rowsOf(digits, fitIdx))
        let fitZ = fitOuts[0]
        let fitLabels = fitIdx.map { labels[$0] }
        let xEval = MNISTVerification.rowsOf(digits, evalIdx)
        var mahalanobis = MahalanobisDetector()
        try mahalanobis.fit(features: fitZ, labels: fitLabels)
        var knn = KNNDetector(k: 50)
        try knn.fit(features: fitZ)
        var vim = ViMDetector(principalDimension: 64)
        try vim.fit(features: fitZ, weight: MNISTVerification.floats(model.graph.initializers["fc2.weight"]!),
                    bias: MNISTVerification.floats(model.graph.initializers["fc2.bias"]!))
        let odin = ODINDetector()
        func scores(_ x: Tensor) throws -> [(String, [Float])] {
            let outs = try both.forward(x)
            let (z, logits) = (outs[0], outs[1])
            return [("MSP", try MaxSoftmaxDetector().score(logits: logits)),
                    ("MaxLogit", try MaxLogitDetector().score(logits: logits)),
                    ("ODIN (T=1000, ε=0.0014)", try odin.score(encoder: both, x: x, logits: "logits")),
                    ("Energy (T=1)", try EnergyDetector().score(logits: logits)),
                    ("Mahalanobis", try mahalanobis.score(features: z)),
                    ("KNN (k=50)", try knn.score(features: z)),
                    ("ViM (D=64)", try vim.score(features: z))]
        }
        let sIn = try scores(xEval), sRaw = try scores(xOut), sAdv = try scores(attack.x)
        var table: [DetectorRow] = []
        for k in sIn.indices {
            let raw = try DetectionMetrics(inDistribution: sIn[k].1, outOfDistribution: sRaw[k].1)
            let adv = try DetectionMetrics(inDistribution: sIn[k].1, outOfDistribution: sAdv[k].1)
            table.append(DetectorRow(detector: sIn[k].0, aurocRaw: raw.auroc, aurocAttacked: adv.auroc,
                                     fpr95Raw: raw.fpr95, fpr95Attacked: adv.fpr95))
            // Every detector is fooled: in-distribution vs attacked OOD falls to ≤ 0.6.
            #expect(adv.auroc <= 0.6, "\(sIn[k].0): AUROC attacked \(adv.auroc) (raw \(raw.auroc))")
        }

        let sorted = mape.sorted()
        func quantile(_ q: Double) -> Double { sorted[min(n - 1, Int((q * Double(n - 1)).rounded()))] }
        var lines = ["MNIST verification: \(n) sources (\(n / 2) noise, \(n - n / 2) spirals), ε = \(configuration.epsilon), lr = \(configuration.learningRate), \(attack.stepCount) steps in \(String(format: "%.1f", attackSeconds)) s",
                     String(format: "MAPE ≤ 1%%: %d/%d; min %.5f, median %.5f, p95 %.5f, max %.5f, mean %.5f; noise max %.5f, spiral max %.5f",
                            reached, n, sorted[0], quantile(0.5), quantile(0.95), sorted[n - 1], metrics.meanMAPE,
                            mape[..<(n / 2)].max()!, mape[(n / 2)...].max()!),
                     String(format: "mean ‖δ‖₂ %.3f, max ‖δ‖₂ %.3f", metrics.meanDeltaL2, metrics.samples.map(\.deltaL2).max()!),
                     "| detector | AUROC ID vs raw OOD | AUROC ID vs attacked | \(FPRConvention.inDistributionPositive.label) raw | attacked |",
                     "|---|---|---|---|---|"]
        for r in table {
            lines.append(String(format: "| %@ | %.4f | %.4f | %.3f | %.3f |", r.detector, r.aurocRaw, r.aurocAttacked, r.fpr95Raw, r.fpr95Attacked))
        }
        print(lines.joined(separator: "\n"))
        if let path = env["MIRAGE_VERIFY_REPORT"] {
            struct Report: Codable {
                var sources: Int, steps: Int, seconds: Double, epsilon: Double, learningRate: Double
                var mape: [Double], deltaL2: [Double], detectors: [DetectorRow], fprConvention: String
            }
            let report = Report(sources: n, steps: attack.stepCount, seconds: attackSeconds, epsilon: configuration.epsilon, learningRate: configuration.learningRate,
                                mape: mape, deltaL2: metrics.samples.map(\.deltaL2), detectors: table,
                                fprConvention: FPRConvention.inDistributionPositive.label)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: path))
        }
    }
}
