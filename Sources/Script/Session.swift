import Foundation

/// A notebook's language session: variables and the random generator live here from cell to cell.
public final class Session {
    /// The language's version, reported in `kernel_info_reply`.
    public static let languageVersion = "0.1.0"
    /// Every built-in function's name (for completion and the docs).
    public static let builtinNames: [String] = Builtins.all.map(\.name)

    private let interpreter = Interpreter()

    /// An empty session: no variables, the random generator seeded with 0 (so a notebook re-run from the top repeats itself).
    public init() {}

    /// Runs a cell; returns the rich display of the last expression's value (nil when there is none). Throws ScriptError only.
    /// Statements run in order; when one fails, everything assigned before it stays.
    public func execute(_ source: String, host: ScriptHost) throws -> RichOutput? {
        try onLargeStack {
            interpreter.host = host
            defer { interpreter.host = SilentHost() }
            do {
                let statements = try parse(source)
                interpreter.source = source
                guard let value = try interpreter.run(statements) else { return nil }
                if case .none = value { return nil }
                return richOutput(for: value)
            } catch let error as ScriptError {
                throw error.located(in: source)
            }
        }
    }

    /// Evaluates one expression (Jupyter user_expressions); no side effects on the session's variables beyond what the expression does.
    public func evaluate(expression: String, host: ScriptHost) throws -> RichOutput {
        try onLargeStack {
            interpreter.host = host
            defer { interpreter.host = SilentHost() }
            do {
                let expr: Expr
                do { expr = try Parser.parseExpression(expression) } catch let incomplete as IncompleteInput { throw incomplete.error }
                interpreter.source = expression
                return richOutput(for: try interpreter.run([.expression(expr)]) ?? .none)
            } catch let error as ScriptError {
                throw error.located(in: expression)
            }
        }
    }

    /// Names (variables, built-ins, attributes, methods) that complete the word at `cursor`.
    public func complete(_ source: String, cursor: Int) -> Completion {
        completions(in: source, cursor: cursor, interpreter: interpreter)
    }

    /// The summary of the name at `cursor` (a variable's kind, shape and size, or a built-in's doc), or nil.
    public func inspect(_ source: String, cursor: Int, detailLevel: Int) -> RichOutput? {
        inspection(of: source, cursor: cursor, detailLevel: detailLevel, interpreter: interpreter)
    }

    /// Whether `source` is a complete cell, an incomplete block (with the indent to continue), or invalid, as IPython answers.
    public func completeness(_ source: String) -> Completeness {
        (try? onLargeStack { completenessOf(source) }) ?? .invalid
    }

    /// The doc strings, by built-in name, exactly as `help(name)` shows them (used to generate docs/language.md).
    public static func documentation() -> [(name: String, doc: String)] {
        Builtins.all.map { ($0.name, $0.documentation) }
    }

    private func parse(_ source: String) throws -> [Stmt] {
        do {
            return try Parser.parse(source)
        } catch let incomplete as IncompleteInput {
            throw incomplete.error
        }
    }
}

extension Session {
    /// The stack a cell runs on (bytes). A caller that runs many cells, like the fuzzer, can start one `Thread`
    /// with this `stackSize` and call the session from it: the session then runs there instead of starting a thread per call.
    public static let cellStackSize = 256 << 20
}

/// Runs `body` on a thread with a large stack and waits for it. The interpreter recurses on nested
/// expressions and calls; its depth limits are sized for this stack, not for whatever thread calls us.
/// (A debug build needs roughly 10 kB per level, so the 2,000-level limit fits with a wide margin;
/// the memory is only reserved, and pages are touched only as deep as a cell actually goes.)
/// On a `Thread` started with at least that stack it runs `body` in place.
func onLargeStack<T>(_ body: () throws -> T) throws -> T {
    if Thread.current.stackSize >= Session.cellStackSize { return try body() }
    return try withoutActuallyEscaping(body) { body in
        let box = ResultBox(body)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.run()
            done.signal()
        }
        thread.stackSize = Session.cellStackSize
        thread.start()
        done.wait()
        return try box.result!.get()
    }
}

/// Carries the work and its result across the thread boundary; safe because the caller waits for the thread.
/// It drops the work once run, so the non-escaping closure really does not outlive the call.
private final class ResultBox<T>: @unchecked Sendable {
    private var body: (() throws -> T)?
    var result: Result<T, any Error>?
    init(_ body: @escaping () throws -> T) { self.body = body }
    func run() {
        result = Result { try body!() }
        body = nil
    }
}
