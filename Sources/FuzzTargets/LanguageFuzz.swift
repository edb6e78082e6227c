/// The language target: lexer, parser, completion and the interpreter on a sandboxed host.
import Script

enum LanguageFuzz {
    /// Steps (loop iterations, calls) one input may take before the sandbox interrupts it.
    static let stepBudget = 2_000

    static let target = FuzzTarget("language", "a cell's source through is_complete, completion, inspection and execution (no file access, a step budget)") { bytes in
        let source = String(decoding: bytes, as: UTF8.self)
        let session = Session()
        _ = session.completeness(source)
        let length = source.unicodeScalars.count
        let cursor = bytes.isEmpty ? 0 : Int(bytes[0]) % (length + 1)
        _ = session.complete(source, cursor: cursor)
        _ = session.inspect(source, cursor: cursor, detailLevel: 1)
        let host = SandboxHost(stepBudget: stepBudget)
        _ = try? session.execute(source, host: host)
        // The same session again: state left by a failed or interrupted cell must be usable.
        _ = try? session.execute("1 + 1", host: SandboxHost(stepBudget: stepBudget))
    }
}
