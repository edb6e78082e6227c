/// Names reserved for built-ins that arrive with later issues. They are documented and completed like the others,
/// but calling them reports what they are waiting for instead of pretending to work.
extension Builtins {
    static let later: [Builtin] = [
        laterBuiltin("plot", "values, title=\"\", log=false", "Draws a line plot, for example of an attack's loss history.", "plot(atk.loss, title=\"feature distance\", log=true)", until: "plotting"),
        laterBuiltin("scatter", "x, y, title=\"\"", "Draws a scatter plot of two lists or tensors.", "scatter(xs, ys)", until: "plotting"),
    ]

    private static func laterBuiltin(_ name: String, _ parameters: String, _ description: String, _ example: String, until: String) -> Builtin {
        var builtin = Builtin(name, .later, [.variadic("arguments")],
                              description: "\(description) Not available yet: it arrives with \(until).",
                              example: example, unavailableUntil: until) { _, _ in .none }
        builtin.plannedSignature = "\(name)(\(parameters))"
        return builtin
    }
}
