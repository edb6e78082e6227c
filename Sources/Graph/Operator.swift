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
    /// Whether `forward` and `backward(laidOut:…)` take `.laidOut` values (oneDNN layouts) as they
    /// are; the executor hands the other operators row-major values only.
    var takesLaidOutValues: Bool { get }
    /// `backward` for layout-aware operators: gradients come and go as values in any layout.
    func backward(laidOut outputGradients: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue]
}

extension Operator {
    var differentiableInputs: [Int] { [0] }
    func prepare(constantInputs: Set<Int>) {}
    var takesLaidOutValues: Bool { false }

    func backward(laidOut outputGradients: [RuntimeValue?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: RuntimeValue] {
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
    return value.floats
}

func intInput(_ inputs: [RuntimeValue?], _ i: Int, _ node: Node) throws -> IntArray {
    guard i < inputs.count, let value = inputs[i] else {
        throw EngineError("node '\(node.name)' (\(node.opType)) is missing input \(i)")
    }
    return value.integers
}
