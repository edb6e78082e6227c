import JupyterKernel
import Script

/// Binds the Mirage language to the Jupyter protocol: the one place that knows both.
final class MirageBackend: KernelBackend {
    private let session = Session()
    /// Raised by the kernel's control thread (interrupt_request, shutdown) or SIGINT; the cell's host polls it.
    let interruptFlag = InterruptFlag()

    let identity = KernelIdentity(
        implementation: "mirage",
        implementationVersion: Mirage.version,
        languageName: "mirage",
        languageVersion: Session.languageVersion,
        mimetype: "text/x-mirage",
        fileExtension: ".mirage",
        // No lexer for Mirage exists in Pygments or CodeMirror; its syntax is Python's subset.
        pygmentsLexer: "python",
        codemirrorMode: "python",
        banner: "Mirage \(Mirage.version): out-of-distribution attacks on neural-network encoders.\nType help() for the built-ins.",
        helpLinks: [("Mirage language reference", MirageBackend.languageReferenceURL)]
    )

    /// The reference shipped in this checkout (the kernel runs from its build tree).
    static let languageReferenceURL: String = {
        let source = #filePath  // …/Sources/mirage/MirageBackend.swift
        let root = source.split(separator: "/").dropLast(3).joined(separator: "/")
        return "file:///\(root)/docs/language.md"
    }()

    func execute(_ code: String, context: ExecutionContext) -> ExecutionOutcome {
        let host = KernelScriptHost(context)
        do {
            return .ok(result: try session.execute(code, host: host).map(MimeBundle.init))
        } catch {
            return Self.outcome(error)
        }
    }

    func evaluate(expression: String, context: ExecutionContext) -> ExecutionOutcome {
        do {
            return .ok(result: MimeBundle(try session.evaluate(expression: expression, host: KernelScriptHost(context))))
        } catch {
            return Self.outcome(error)
        }
    }

    func complete(_ code: String, cursor: Int) -> CompletionResult {
        let completion = session.complete(code, cursor: cursor)
        return CompletionResult(matches: completion.matches, cursorStart: completion.start, cursorEnd: completion.end)
    }

    func inspect(_ code: String, cursor: Int, detailLevel: Int) -> MimeBundle? {
        session.inspect(code, cursor: cursor, detailLevel: detailLevel).map(MimeBundle.init)
    }

    func isComplete(_ code: String) -> CodeCompleteness {
        switch session.completeness(code) {
        case .complete: return .complete
        case .incomplete(let indent): return .incomplete(indent: indent)
        case .invalid: return .invalid
        }
    }

    private static func outcome(_ error: any Error) -> ExecutionOutcome {
        let scriptError = error as? ScriptError
            ?? ScriptError(kind: .internalError, message: String(describing: error))
        return .error(
            name: scriptError.kind.rawValue, value: scriptError.message,
            traceback: scriptError.rendered.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
    }
}

extension MimeBundle {
    init(_ output: RichOutput) {
        if let png = output.png {
            self = .png(png, width: output.pngWidth, height: output.pngHeight, fallback: output.plain)
        } else {
            self = .text(output.plain)
        }
        if let html = output.html { data["text/html"] = .string(html) }
    }
}

/// What a cell can do, routed to the Jupyter channels.
final class KernelScriptHost: ScriptHost {
    private let context: ExecutionContext
    init(_ context: ExecutionContext) { self.context = context }

    func write(_ text: String, to stream: OutputStreamName) {
        context.stream(stream == .stdout ? .stdout : .stderr, text)
    }

    func display(_ output: RichOutput, displayID: String?, update: Bool) {
        context.display(MimeBundle(output), displayID: displayID, update: update)
    }

    func clearOutput(wait: Bool) { context.clearOutput(wait: wait) }

    func page(_ output: RichOutput) { context.page(MimeBundle(output)) }

    func readInput(prompt: String, password: Bool) throws -> String {
        do {
            return try context.input(prompt: prompt, password: password)
        } catch .notAllowed {
            throw ScriptError(kind: .ioError, message: "this client does not accept input requests", hint: "run the cell from a front end that allows input, such as JupyterLab")
        } catch .interrupted {
            throw ScriptError.interrupted()
        }
    }

    var isInterrupted: Bool { context.isInterrupted }
}
