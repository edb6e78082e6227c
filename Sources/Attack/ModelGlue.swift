// What connects models to attacks and detectors: chunked batching, input normalisation, and several models read as one encoder.
import Foundation
import Imaging
import Tensor

/// Forwarding many images in row blocks, so memory stays flat whatever the batch.
public enum Batching {
    /// Rows per block: about 4 M input values per block, at most 256 rows.
    public static func rows(for batch: Tensor) -> Int {
        let perSample = max(1, batch.count / max(1, batch.shape.first ?? 1))
        return max(1, min(256, (1 << 22) / perSample))
    }

    /// Applies `body` to consecutive row blocks of `batch` and stacks what it returns along the first axis.
    public static func inChunks(_ batch: Tensor, _ body: (Tensor) throws -> [Tensor]) throws -> [Tensor] {
        let n = batch.shape.first ?? 0
        let rows = rows(for: batch)
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

    /// Whether two per-sample input shapes can hold the same images (a dimension ≤ 0 is dynamic and matches any).
    public static func compatible(_ a: [Int], _ b: [Int]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0 <= 0 || $1 <= 0 || $0 == $1 }
    }
}

/// An encoder behind its input normalisation: forward sees (x − mean) / std, and the pullback carries the chain
/// rule's 1 / std back to pixel space, so attacks clamp and project in [0, 1].
public final class NormalizedEncoder: DifferentiableEncoder {
    /// The encoder that sees normalised inputs.
    public let inner: any DifferentiableEncoder
    /// The per-channel mean and std.
    public let normalization: Normalization
    private let gradientScale: Normalization

    /// `inner` fed with `normalization.apply(x)`.
    public init(_ inner: any DifferentiableEncoder, _ normalization: Normalization) {
        self.inner = inner
        self.normalization = normalization
        gradientScale = Normalization(mean: normalization.mean.map { _ in 0 }, std: normalization.std)
    }

    /// The outputs' names.
    public var outputNames: [String] { inner.outputNames }

    /// The outputs for a batch x.
    public func forward(_ x: Tensor) throws -> [Tensor] {
        try inner.forward(try normalize(x, normalization))
    }

    /// The input gradient of Σ⟨seeds, outputs⟩ at the last forward.
    public func pullback(_ seeds: [Tensor]) throws -> Tensor {
        try normalize(try inner.pullback(seeds), gradientScale)
    }

    private func normalize(_ x: Tensor, _ n: Normalization) throws -> Tensor {
        do { return try n.apply(x) } catch let error as ImagingError {
            throw AttackError.shapeMismatch(what: "input normalisation (\(error.message))", expected: "[N, C, H, W] images", got: x.shape)
        }
    }
}

/// Several encoders that read the same input, seen as one: its outputs are theirs in order, and the pullback sums
/// their input gradients. An attack on it matches layers of different models in one loss (a CNN's features and a
/// flow's likelihood together).
public final class JointEncoder: DifferentiableEncoder {
    /// The encoders, in order.
    public let parts: [any DifferentiableEncoder]
    /// The outputs' names, part by part.
    public let outputNames: [String]
    private var lastShape: [Int]?

    /// `parts[k]` with its outputs called `names[k]` (unique over all parts), and its per-sample input shape if
    /// known: every known shape must agree, or the models cannot read one image.
    public init(_ parts: [(encoder: any DifferentiableEncoder, names: [String], inputShape: [Int]?)]) throws {
        guard !parts.isEmpty else { throw AttackError.invalidArgument("a joint encoder needs at least one model") }
        var first: (shape: [Int], name: String)?
        for p in parts {
            guard p.names.count == p.encoder.outputNames.count else {
                throw AttackError.invalidArgument("\(p.names.count) names for the \(p.encoder.outputNames.count) outputs \(p.encoder.outputNames)")
            }
            guard let shape = p.inputShape else { continue }
            if let first, !Batching.compatible(shape, first.shape) {
                throw AttackError.shapeMismatch(what: "the model of '\(p.names.first ?? "?")' reads images that",
                                                expected: "\(first.shape) like the model of '\(first.name)': layers of one attack must read the same images", got: shape)
            }
            if first == nil { first = (shape, p.names.first ?? "?") }
        }
        let names = parts.flatMap(\.names)
        if let duplicate = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw AttackError.invalidArgument("two outputs are called '\(duplicate)'; name them apart")
        }
        self.parts = parts.map(\.encoder)
        outputNames = names
    }

    /// The outputs for a batch x.
    public func forward(_ x: Tensor) throws -> [Tensor] {
        lastShape = x.shape
        return try parts.flatMap { try $0.forward(x) }
    }

    /// The input gradient of Σ⟨seeds, outputs⟩ at the last forward.
    public func pullback(_ seeds: [Tensor]) throws -> Tensor {
        guard let shape = lastShape else { throw AttackError.encoderContract("pullback before any forward") }
        guard seeds.count == outputNames.count else {
            throw AttackError.encoderContract("\(seeds.count) seeds for \(outputNames.count) outputs")
        }
        var total: Tensor?
        var start = 0
        for part in parts {
            let count = part.outputNames.count
            let own = Array(seeds[start..<(start + count)])
            start += count
            // A part whose seeds are all zero adds nothing; skip its backward pass.
            if own.allSatisfy({ $0.data.allSatisfy { $0 == 0 } }) { continue }
            let g = try part.pullback(own)
            total = try total.map { try $0 + g } ?? g
        }
        return total ?? Tensor.zeros(shape)
    }
}
