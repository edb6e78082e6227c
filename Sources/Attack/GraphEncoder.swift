import Graph

/// The engine's encoders are what the attack differentiates.
extension Encoder: DifferentiableEncoder {}
