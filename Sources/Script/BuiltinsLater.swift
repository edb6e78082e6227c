/// Names reserved for built-ins that arrive with later issues. They are documented and completed like the others,
/// but calling them reports what they are waiting for instead of pretending to work.
extension Builtins {
    static let later: [Builtin] = [
        laterBuiltin("load", "path", "Loads an ONNX model (an encoder) from a file.", "enc = load(\"Examples/models/mnist_cnn.onnx\")", until: "the ONNX engine"),
        laterBuiltin("layer", "model, name", "Selects a named layer of a loaded model, whose output becomes the features an attack works on.", "feat = layer(enc, \"features\")", until: "the ONNX engine"),
        laterBuiltin("encode", "model, x", "Runs a model on an input tensor and returns its output features.", "z = encode(feat, x_in)", until: "the ONNX engine"),
        laterBuiltin("ood_attack", "model, source, target, norm=\"L2\", eps, lr, seed=none", "Sets up an out-of-distribution attack that perturbs `source` so that the model's features match those of `target`.", "atk = ood_attack(feat, source=x_out, target=x_in, norm=\"L2\", eps=10, lr=0.1, seed=0)", until: "the attack engine"),
        laterBuiltin("step", "attack, n", "Runs `n` optimisation steps of an attack.", "step(atk, 50)", until: "the attack engine"),
        laterBuiltin("plot", "values, title=\"\", log=false", "Draws a line plot, for example of an attack's loss history.", "plot(atk.loss, title=\"feature distance\", log=true)", until: "plotting"),
        laterBuiltin("scatter", "x, y, title=\"\"", "Draws a scatter plot of two lists or tensors.", "scatter(xs, ys)", until: "plotting"),
        laterBuiltin("mape", "model, x", "Computes the MAPE out-of-distribution score of inputs.", "mape(feat, x_out)", until: "the OOD detectors"),
        laterBuiltin("msp", "model, x", "Computes the maximum-softmax-probability out-of-distribution score of inputs.", "msp(enc, x_out)", until: "the OOD detectors"),
    ]

    private static func laterBuiltin(_ name: String, _ parameters: String, _ description: String, _ example: String, until: String) -> Builtin {
        var builtin = Builtin(name, .later, [.variadic("arguments")],
                              description: "\(description) Not available yet: it arrives with \(until).",
                              example: example, unavailableUntil: until) { _, _ in .none }
        builtin.plannedSignature = "\(name)(\(parameters))"
        return builtin
    }
}
