/// The attack-file target: .attack bytes through the reader and the restore of an attack's state.
import Attack
import Foundation
import Tensor

enum AttackFileFuzz {
    /// The reader takes a file; each input is written to one scratch file in memory-backed /dev/shm when there is one.
    static let scratch: URL = {
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return URL(fileURLWithPath: "\(directory)/mirage-fuzz-\(getpid()).attack")
    }()

    static let target = FuzzTarget("attack", "attack-file bytes through OODAttack.context and OODAttack.load (restoring onto a tiny encoder)",
                                   seeds: seeds) { bytes in
        guard (try? Data(bytes).write(to: scratch)) != nil else { FuzzTargets.violated("attack", "cannot write \(scratch.path)") }
        _ = try? OODAttack.context(in: scratch)
        if let attack = try? OODAttack.load(from: scratch, encoder: TinyEncoder()) {
            _ = try? attack.step(1)
        }
    }

    /// Attacks saved by the real writer: one plain, one after steps with extras and info.
    static func seeds() throws -> [[UInt8]] {
        var files: [[UInt8]] = []
        let xOut = Tensor(shape: [1, 1, 2, 2], data: [0.1, 0.2, 0.3, 0.4])
        let xIn = Tensor(shape: [1, 1, 2, 2], data: [0.9, 0.8, 0.7, 0.6])
        let encoder = TinyEncoder()
        let target = try encoder.forward(xIn)
        for steps in [0, 3] {
            var configuration = AttackConfiguration(norm: steps > 0 ? .linf : .l2, epsilon: 0.5, iterations: 10, learningRate: 0.1)
            configuration.trackBest = steps > 0
            let attack = try OODAttack(encoder: encoder, objective: .featureMatching(outputs: [OutputWeight("y")]),
                                       targets: target, xOut: xOut, configuration: configuration)
            if steps > 0 { _ = try attack.step(steps) }
            try attack.save(to: scratch, info: steps > 0 ? ["model": "tiny.onnx", "layer": "y"] : [:],
                            extras: steps > 0 ? ["x_in": xIn] : [:])
            files.append([UInt8](try Data(contentsOf: scratch)))
        }
        return files
    }
}

/// y = 2x − 1 per element, flattened: enough for the attack to restore and step.
final class TinyEncoder: DifferentiableEncoder {
    private var inputShape: [Int] = []

    func forward(_ x: Tensor) throws -> [Tensor] {
        inputShape = x.shape
        return [Tensor(shape: [x.shape.first ?? 1, x.count / max(1, x.shape.first ?? 1)], data: x.data.map { 2 * $0 - 1 })]
    }
    func pullback(_ seeds: [Tensor]) throws -> Tensor {
        guard let seed = seeds.first, seed.count == Tensor.elementCount(inputShape) else { throw AttackError.fileFormat("seed does not match the input") }
        return Tensor(shape: inputShape, data: seed.data.map { 2 * $0 })
    }
    var outputNames: [String] { ["y"] }
}
