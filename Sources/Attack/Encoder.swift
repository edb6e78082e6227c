import Tensor

/// A differentiable map from a batch of inputs to one or more named outputs (layers).
public protocol DifferentiableEncoder: AnyObject {
    /// The outputs for a batch x ([B, …]); remembers what `pullback` needs.
    func forward(_ x: Tensor) throws -> [Tensor]
    /// Vector–Jacobian product at the last forward: ∂(Σ_k ⟨seeds[k], outputs[k]⟩)/∂x, shaped like x.
    func pullback(_ seeds: [Tensor]) throws -> Tensor
    /// Names of the outputs, in order.
    var outputNames: [String] { get }
}
