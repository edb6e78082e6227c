import Tensor

/// One ONNX operator: its forward computation and, beside it, its backward (vector–Jacobian product).
/// An instance belongs to one node and may cache kernels (oneDNN primitives) keyed by input shape.
protocol Operator: AnyObject {
    /// Inputs that can carry gradients (the others are shapes, indices, axes).
    var differentiableInputs: [Int] { get }
    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue]
    /// Gradients with respect to the inputs listed in `wanted`, from the gradients of the outputs
    /// (nil for an output nothing depends on). Runs after this node's latest forward.
    func backward(_ outputGradients: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor]
    /// Told once, before the first forward, which inputs are constants of the model (weights),
    /// so kernels can keep them in their own layout.
    func prepare(constantInputs: Set<Int>)
    /// Told once, before the first forward, whether every reader of this node's outputs takes
    /// laid-out values (and none is a model output), so a result may stay in a oneDNN layout.
    func prepare(laidOutReaders: Bool)
    /// Whether `forward` and `backward(laidOut:…)` take `.laidOut` values (oneDNN layouts) as they
    /// are; the executor hands the other operators row-major values only.
    var takesLaidOutValues: Bool { get }
    /// `backward` for layout-aware operators: gradients come and go as values in any layout.
    func backward(laidOut outputGradients: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue]
    /// Which float values `backward` reads when it computes the gradients of `wanted`. The executor
    /// releases every other one as soon as no later forward step reads it; backward then gets
    /// `.released(shape:)` in its place.
    func backwardReads(wanted: Set<Int>) -> BackwardReads
}

/// What a node's backward reads of the float values its forward saw (integer values, such as shapes and
/// indices, are small and always kept).
struct BackwardReads: Sendable {
    /// The inputs whose values backward reads; nil for all of them.
    var inputs: Set<Int>?
    /// Whether backward reads the outputs' values.
    var outputs: Bool

    /// Every input and output: what an operator that declares nothing gets.
    static let everything = BackwardReads(inputs: nil, outputs: true)
    /// Shapes only (a reshape, a transposition, a sum).
    static let shapes = BackwardReads(inputs: [], outputs: false)
    /// The inputs, not the outputs (a product, a convolution).
    static let inputs = BackwardReads(inputs: nil, outputs: false)
    /// The outputs, not the inputs (softmax, a sigmoid).
    static let outputs = BackwardReads(inputs: [], outputs: true)
}

extension Operator {
    var differentiableInputs: [Int] { [0] }
    func prepare(constantInputs: Set<Int>) {}
    func prepare(laidOutReaders: Bool) {}
    var takesLaidOutValues: Bool { false }
    func backwardReads(wanted: Set<Int>) -> BackwardReads { .everything }

    func backward(laidOut outputGradients: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        try rowMajorBackward(outputGradients, inputs: inputs, outputs: outputs, wanted: wanted)
    }

    /// `backward` on row-major copies of every value, its gradients wrapped as values: the default of
    /// `backward(laidOut:…)`, and the fallback of layout-aware operators for the cases they do not handle.
    func rowMajorBackward(_ outputGradients: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
        try backward(outputGradients.map { $0?.floats }, inputs: inputs.map { $0?.plainLayout }, outputs: outputs.map(\.plainLayout), wanted: wanted)
            .mapValues { .float($0) }
    }

    /// `forward` with the inputs in a form the operator takes.
    func forwardAdapting(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        try forward(takesLaidOutValues ? inputs : inputs.map { $0?.plainLayout })
    }
}

/// Operators with no gradient at all (shape arithmetic, comparisons): backward is never asked for.
protocol NonDifferentiable: Operator {}
extension NonDifferentiable {
    var differentiableInputs: [Int] { [] }
    func backward(_ outputGradients: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] { [:] }
}

/// The operator set: ONNX name → constructor from a node.
enum OperatorSet {
    typealias Maker = @Sendable (Node) throws -> Operator

    static let makers: [String: Maker] = {
        var all: [String: Maker] = [:]
        for group in [elementwiseOperators, shapeOperators, convolutionOperators, linearOperators, poolingOperators, normalizationOperators, layoutOperators, indexingOperators] {
            all.merge(group) { first, _ in first }
        }
        return all
    }()

    static var supported: [String] { makers.keys.sorted() }

    static func make(_ node: Node) throws -> Operator {
        guard node.domain == "" || node.domain == "ai.onnx", let maker = makers[node.opType] else {
            throw EngineError("unsupported operator \(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType) (node '\(node.name)')")
        }
        return try maker(node)
    }
}

/// Required input `i` as floats, with a clear error when it is missing.
func floatInput(_ inputs: [RuntimeValue?], _ i: Int, _ node: Node) throws -> Tensor {
    guard i < inputs.count, let value = inputs[i] else {
        throw EngineError("node '\(node.name)' (\(node.opType)) is missing input \(i)")
    }
    guard !value.isReleased else {
        throw EngineError("node '\(node.name)' (\(node.opType)): backward read input \(i), which its backwardReads let the executor release")
    }
    return value.floats
}

/// The element count of an output shape a node computed from its inputs' values (a broadcast target, a
/// constant's shape): a product that overflows, or a tensor past the memory limit, is an error naming
/// the node instead of a trap or an allocation that cannot succeed. `bytesPerElement`: what the node
/// allocates per output element while it runs.
func checkedOutputCount(_ shape: [Int], _ node: Node, bytesPerElement: Int) throws -> Int {
    guard let count = Tensor.checkedElementCount(shape) else {
        throw EngineError("node '\(node.name)' (\(node.opType)): the output shape \(shape) has more elements than an Int counts")
    }
    try MemoryLimit.check(elements: count, elementSize: bytesPerElement, what: "the output of node '\(node.name)' (\(node.opType)), shape \(shape)")
    return count
}

func intInput(_ inputs: [RuntimeValue?], _ i: Int, _ node: Node) throws -> IntArray {
    guard i < inputs.count, let value = inputs[i] else {
        throw EngineError("node '\(node.name)' (\(node.opType)) is missing input \(i)")
    }
    return value.integers
}
