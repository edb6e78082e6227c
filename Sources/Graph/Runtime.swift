import Tensor

/// Why a model cannot be loaded or run, in terms of the model: which node, which tensor, which shapes.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    /// The message a user sees.
    public var description: String
    /// An error with this message.
    public init(_ description: String) { self.description = description }
}

/// Integer tensors: shapes, indices, axes. They flow through shape subgraphs and index inputs
/// and never carry gradients.
struct IntArray: Equatable, Sendable {
    var shape: [Int]
    var data: [Int64]

    init(shape: [Int], data: [Int64]) {
        self.shape = shape
        self.data = data
    }

    init(vector: [Int]) { self.init(shape: [vector.count], data: vector.map { Int64($0) }) }
    init(scalar: Int64) { self.init(shape: [], data: [scalar]) }
}

/// A value in a running graph. Float tensors come row-major (`float`) or, between oneDNN kernels,
/// in the layout the producing primitive chose (`laidOut`, often blocked); operators that do not
/// declare `takesLaidOutValues` only ever see the first two (the executor reorders for them).
/// A float value no backward step reads is `released` once the forward is past its last reader:
/// only its shape is left.
enum RuntimeValue: Sendable {
    case float(Tensor)
    case int(IntArray)
    case laidOut(DNNLTensor)
    case released(shape: [Int])

    var shape: [Int] {
        switch self {
        case .float(let t): return t.shape
        case .int(let a): return a.shape
        case .laidOut(let t): return t.shape
        case .released(let shape): return shape
        }
    }

    /// The value with a float tensor in row-major layout (reordered if it was laid out).
    var plainLayout: RuntimeValue {
        if case .laidOut(let t) = self { return .float(t.plain()) }
        return self
    }

    /// A float tensor as a kernel argument, in whichever layout it is.
    var kernelInput: KernelInput {
        if case .laidOut(let t) = self { return .laidOut(t) }
        return .plain(floats)
    }

    init(_ constant: TensorValue) {
        switch constant.storage {
        case .floats(let values): self = .float(Tensor(shape: constant.shape, data: values))
        case .doubles(let values): self = .float(Tensor(shape: constant.shape, data: values.map { Float($0) }))
        case .integers(let values): self = .int(IntArray(shape: constant.shape, data: values))
        case .bools(let values): self = .int(IntArray(shape: constant.shape, data: values.map { $0 ? 1 : 0 }))
        case .strings: self = .int(IntArray(shape: constant.shape, data: Array(repeating: 0, count: constant.count)))
        }
    }

    /// The value as floats (integers convert, as ONNX's arithmetic on mixed inputs would after a Cast).
    var floats: Tensor {
        switch self {
        case .float(let t): return t
        case .int(let a): return Tensor(shape: a.shape, data: a.data.map { Float($0) })
        case .laidOut(let t): return t.plain()
        case .released(let shape):
            preconditionFailure("a released value of shape \(shape) was read: an operator's backwardReads left out a value its backward reads")
        }
    }

    /// The value as integers (floats truncate).
    var integers: IntArray {
        switch self {
        case .int(let a): return a
        case .float, .laidOut, .released: let t = floats; return IntArray(shape: t.shape, data: t.data.map { Int64($0) })
        }
    }

    /// Whether the executor released this value (see `BackwardReads`).
    var isReleased: Bool { if case .released = self { return true } else { return false } }

    var isFloat: Bool { if case .int = self { return false } else { return true } }
}

/// Reads a node's attributes, naming the node in every complaint.
struct NodeAttributes {
    let node: Node

    private func missing(_ name: String) -> EngineError {
        EngineError("node '\(node.name)' (\(node.opType)) needs attribute '\(name)'")
    }

    private func wrong(_ name: String, _ expected: String) -> EngineError {
        EngineError("node '\(node.name)' (\(node.opType)): attribute '\(name)' should be \(expected)")
    }

    func int(_ name: String, default value: Int? = nil) throws -> Int {
        switch node.attributes[name] {
        case .int(let v)?: return v
        case nil: if let value { return value }; throw missing(name)
        default: throw wrong(name, "an integer")
        }
    }

    func ints(_ name: String, default value: [Int]? = nil) throws -> [Int] {
        switch node.attributes[name] {
        case .ints(let v)?: return v
        case .int(let v)?: return [v]
        case nil: if let value { return value }; throw missing(name)
        default: throw wrong(name, "a list of integers")
        }
    }

    func float(_ name: String, default value: Float? = nil) throws -> Float {
        switch node.attributes[name] {
        case .float(let v)?: return v
        case .int(let v)?: return Float(v)
        case nil: if let value { return value }; throw missing(name)
        default: throw wrong(name, "a number")
        }
    }

    func string(_ name: String, default value: String? = nil) throws -> String {
        switch node.attributes[name] {
        case .string(let v)?: return v
        case nil: if let value { return value }; throw missing(name)
        default: throw wrong(name, "a string")
        }
    }

    func tensor(_ name: String) throws -> TensorValue? {
        switch node.attributes[name] {
        case .tensor(let v)?: return v
        case nil: return nil
        default: throw wrong(name, "a tensor")
        }
    }
}

/// Resolves a possibly negative axis against a rank, naming the node when out of range.
func normalizeAxis(_ axis: Int, rank: Int, _ node: Node) throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < max(rank, 1) else {
        throw EngineError("node '\(node.name)' (\(node.opType)): axis \(axis) is out of range for rank \(rank)")
    }
    return a
}
