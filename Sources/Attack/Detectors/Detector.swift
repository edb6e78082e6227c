// The Detector protocol, the registry of detector kinds, and what a detector reads (layers of models).
import Foundation
import Graph
import Tensor

/// A model's tensor as a detector reads it: the encoder whose first output is that tensor, the model (for constants a
/// detector takes from the graph, such as ViM's linear head) and the per-sample input shape (to check that several
/// layers read the same images).
public struct DetectorLayer {
    /// The encoder whose first output is the tensor.
    public let encoder: any DifferentiableEncoder
    /// The model the tensor belongs to, for constants of the graph.
    public let model: Model?
    /// The tensor's name in its model.
    public let name: String
    /// The model's input shape without the batch axis, when the model declares it.
    public let inputShape: [Int]?

    /// A layer read through `encoder` (its first output).
    public init(encoder: any DifferentiableEncoder, model: Model? = nil, name: String? = nil, inputShape: [Int]? = nil) {
        self.encoder = encoder
        self.model = model
        self.name = name ?? encoder.outputNames.first ?? "?"
        self.inputShape = inputShape
    }

    /// The tensor for a batch x [N, …], forwarded in chunks (`Batching`).
    public func output(_ x: Tensor) throws -> Tensor {
        try Batching.inChunks(x) { [try encoder.forward($0)[0]] }[0]
    }

    /// One value per image from a scalar layer ([N] or [N, 1]), e.g. a flow's bits/dim.
    public func scalars(_ x: Tensor) throws -> [Double] {
        try scalarRows(try output(x), what: "layer '\(name)'")
    }
}

/// An OOD detector, configured and (if its kind needs it) fitted: one score per image, higher = more out-of-distribution.
public protocol Detector: Sendable {
    /// The name tables and legends use, with its settings ("Energy (T=2)").
    var name: String { get }
    /// Scores of a batch `x` [N, …]; `layers` are the layers it reads, in its kind's `layers` order.
    func score(_ x: Tensor, layers: [DetectorLayer]) throws -> [Float]
}

/// A numeric setting of a detector kind (the language's keyword argument of the same name).
public struct DetectorOption: Sendable {
    /// Its name.
    public let name: String
    /// nil: the kind computes a default from the data (ViM's `dim`).
    public let defaultValue: Double?
    /// The values allowed.
    public let range: ClosedRange<Double>
    /// Whether only whole numbers are allowed.
    public let integer: Bool
    /// One line for help.
    public let summary: String

    /// A setting called `name`.
    public init(_ name: String, default defaultValue: Double?, range: ClosedRange<Double>, integer: Bool = false, _ summary: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.range = range
        self.integer = integer
        self.summary = summary
    }
}

/// What a detector kind is fitted on.
public enum DetectorFitting: Sendable {
    /// Nothing: the score is a formula of the layers.
    case none
    /// In-distribution images.
    case images
    /// In-distribution images and their class labels.
    case imagesAndLabels
}

/// What a kind's `make` receives: the layers in the kind's order, the options (every one of the kind's options, with
/// its default filled in where it has one), and the fitting data.
public struct DetectorSetup {
    /// The layers read, in the kind's order.
    public var layers: [DetectorLayer]
    /// Option values by name.
    public var options: [String: Double]
    /// In-distribution images to fit on, [N, …].
    public var fit: Tensor?
    /// Class labels of the fit images.
    public var labels: [Int]?

    /// A setup; `build` checks it against a kind.
    public init(layers: [DetectorLayer], options: [String: Double] = [:], fit: Tensor? = nil, labels: [Int]? = nil) {
        self.layers = layers
        self.options = options
        self.fit = fit
        self.labels = labels
    }

    /// The fitting images, checked to be there.
    func fitImages(_ kind: String) throws -> Tensor {
        guard let fit, fit.rank >= 1, fit.shape[0] > 0 else {
            throw AttackError.invalidArgument("\(kind) is fitted on in-distribution images: pass a non-empty batch [N, C, H, W] to fit")
        }
        return fit
    }
}

/// A kind of detector in the registry: its name, paper, the layers it reads, its options and how it is fitted.
public struct DetectorKind: Sendable {
    /// The registry key (`detector("energy", …)`).
    public let name: String
    /// One paragraph for `help`: what it scores and which paper it comes from.
    public let summary: String
    /// The roles of the layers it reads; the first is the main layer, the others are keyword arguments
    /// (ViM's `logits`, the likelihood ratio's `background`).
    public let layers: [String]
    /// Its numeric settings.
    public let options: [DetectorOption]
    /// What it is fitted on.
    public let fitting: DetectorFitting
    let make: @Sendable (DetectorSetup) throws -> any Detector

    /// A registry entry; `make` builds (and fits) a detector from a checked setup.
    public init(_ name: String, layers: [String], options: [DetectorOption] = [], fitting: DetectorFitting = .none,
                summary: String, make: @escaping @Sendable (DetectorSetup) throws -> any Detector) {
        self.name = name
        self.layers = layers
        self.options = options
        self.fitting = fitting
        self.summary = summary
        self.make = make
    }

    /// Checks the setup (layer count, same input shapes, options known and in range, fitting data) and makes the detector.
    public func build(_ setup: DetectorSetup) throws -> any Detector {
        guard setup.layers.count == layers.count else {
            throw AttackError.invalidArgument("\(name) reads \(layers.count) layer\(layers.count == 1 ? "" : "s") (\(layers.joined(separator: ", "))), got \(setup.layers.count)")
        }
        if let first = setup.layers.first?.inputShape {
            for (role, layer) in zip(layers, setup.layers).dropFirst() {
                if let shape = layer.inputShape, !Batching.compatible(shape, first) {
                    throw AttackError.shapeMismatch(what: "\(name): the \(role) layer '\(layer.name)' reads images that",
                                                    expected: "\(first) like the \(layers[0]) layer '\(setup.layers[0].name)'", got: shape)
                }
            }
        }
        var checked = setup
        for key in setup.options.keys where !options.contains(where: { $0.name == key }) {
            let known = options.map(\.name)
            throw AttackError.invalidArgument("\(name) takes no option '\(key)'" + (known.isEmpty ? "" : "; its options: \(known.joined(separator: ", "))"))
        }
        for option in options {
            guard let value = setup.options[option.name] ?? option.defaultValue else { continue }
            guard value.isFinite, option.range.contains(value), !option.integer || value == value.rounded() else {
                throw AttackError.invalidArgument("\(name): \(option.name) must be \(option.integer ? "a whole number" : "a number") in \(option.range), got \(value)")
            }
            checked.options[option.name] = value
        }
        switch fitting {
        case .none:
            guard setup.fit == nil else { throw AttackError.invalidArgument("\(name) needs no fitting; drop fit") }
        case .images:
            _ = try setup.fitImages(name)
        case .imagesAndLabels:
            _ = try setup.fitImages(name)
            guard setup.labels != nil else { throw AttackError.invalidArgument("\(name) needs the class labels of the fit images") }
        }
        return try make(checked)
    }
}

/// The detector kinds, by name. A new detector is one file with its `static let kind` and one line here.
public enum DetectorRegistry {
    /// Every kind, in the order `help` lists them.
    public static let kinds: [DetectorKind] = [
        MaxSoftmaxDetector.kind, MaxLogitDetector.kind, EnergyDetector.kind, ODINDetector.kind,
        MahalanobisDetector.kind, KNNDetector.kind, ViMDetector.kind,
        LikelihoodDetector.kind, TypicalityDetector.kind, LikelihoodRatioDetector.kind, ComplexityDetector.kind,
    ]

    /// The kind called `name` (case-insensitive).
    public static func kind(named name: String) -> DetectorKind? {
        kinds.first { $0.name == name.lowercased() }
    }
}

// MARK: Helpers the detectors share

/// Rows of a rank-2 tensor [N, D] as Double arrays.
func rows(_ t: Tensor, what: String) throws -> [[Double]] {
    guard t.rank == 2 else { throw AttackError.shapeMismatch(what: what, expected: "[N, D]", got: t.shape) }
    let d = t.shape[1]
    return (0..<t.shape[0]).map { i in t.data[(i * d)..<((i + 1) * d)].map(Double.init) }
}

/// One value per sample of a scalar output: [N] or [N, 1] (any trailing axes of size 1).
func scalarRows(_ t: Tensor, what: String) throws -> [Double] {
    guard t.rank >= 1, t.count == t.shape[0] else {
        throw AttackError.shapeMismatch(what: what, expected: "one value per image ([N] or [N, 1]): a likelihood detector reads a scalar such as a flow's bits/dim", got: t.shape)
    }
    return t.data.map(Double.init)
}

func softmaxRow(_ row: [Double]) -> [Double] {
    let m = row.max() ?? 0
    let e = row.map { Foundation.exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

/// log Σ exp(row), shifted by the maximum so that no term overflows (−∞ for an empty row; an infinite or NaN
/// maximum is returned as it is).
func logSumExpRow(_ row: [Double]) -> Double {
    guard let m = row.max(), m.isFinite else { return row.max() ?? -.infinity }
    return m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
}
