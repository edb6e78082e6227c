/// The sandbox a host can ask for: built-ins that touch files refused, and a budget of interpreter steps.

extension ScriptHost {
    /// Hosts allow file access unless they say otherwise.
    public var allowsFileAccess: Bool { true }
}

extension Interpreter {
    /// Parameters that name a file or folder; a built-in taking one reads or writes the file system.
    static let fileParameterNames: Set<String> = ["path", "folder"]

    /// Refuses a built-in that touches files when the host does not allow file access.
    func checkSandbox(_ builtin: Builtin) throws {
        guard !host.allowsFileAccess, builtin.parameters.contains(where: { Self.fileParameterNames.contains($0.name) }) else { return }
        throw ScriptError(kind: .permissionError, message: "\(builtin.name)() reads or writes files, and file access is off here")
    }
}

/// A host for untrusted code (fuzzing, previews): no file access, output kept up to a cap, and a step budget.
/// The interpreter polls `isInterrupted` once per loop iteration, function call and long built-in; after
/// `stepBudget` polls the cell stops with a KeyboardInterrupt, so no input runs for ever.
public final class SandboxHost: ScriptHost {
    /// Polls of `isInterrupted` allowed before the cell is stopped.
    public let stepBudget: Int
    /// Polls so far.
    public private(set) var steps = 0
    /// What the cell wrote, up to `outputLimit` characters.
    public private(set) var output = ""
    /// Characters of output kept.
    public let outputLimit: Int

    /// A sandbox allowing `stepBudget` steps and keeping `outputLimit` characters of output.
    public init(stepBudget: Int = 10_000, outputLimit: Int = 1 << 16) {
        self.stepBudget = stepBudget
        self.outputLimit = outputLimit
    }

    /// Keeps the text (up to the cap).
    public func write(_ text: String, to stream: OutputStreamName) { keep(text) }
    /// Keeps the plain-text form (up to the cap).
    public func display(_ output: RichOutput, displayID: String?, update: Bool) { keep(output.plain) }
    /// Nothing to clear.
    public func clearOutput(wait: Bool) {}
    /// Keeps the plain-text form (up to the cap).
    public func page(_ output: RichOutput) { keep(output.plain) }
    /// Always refused: a sandbox has no one to ask.
    public func readInput(prompt: String, password: Bool) throws -> String {
        throw ScriptError(kind: .ioError, message: "input is not available in a sandbox")
    }
    /// Off: built-ins that read or write files throw a PermissionError.
    public var allowsFileAccess: Bool { false }
    /// Counts a step; true once the budget is spent.
    public var isInterrupted: Bool {
        steps += 1
        return steps > stepBudget
    }

    private func keep(_ text: String) {
        guard output.count < outputLimit else { return }
        output += text.prefix(outputLimit - output.count)
    }
}
