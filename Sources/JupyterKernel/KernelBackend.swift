import Foundation

/// What a language plugs into the kernel. The protocol module knows nothing of the language:
/// it hands code to the backend and publishes what the backend produces.
/// All methods run on the kernel's shell thread, one request at a time.
public protocol KernelBackend: AnyObject {
    /// What kernel_info_reply says about the kernel and its language.
    var identity: KernelIdentity { get }
    /// Runs a cell; outputs go through `context`, and the outcome becomes the execute_reply (and an error message on iopub).
    func execute(_ code: String, context: ExecutionContext) -> ExecutionOutcome
    /// Jupyter `user_expressions`: evaluated after the cell, in the cell's state.
    func evaluate(expression: String, context: ExecutionContext) -> ExecutionOutcome
    /// Completions at `cursor` (a character offset into `code`): complete_request.
    func complete(_ code: String, cursor: Int) -> CompletionResult
    /// Help for the name at `cursor`, or nil when there is none: inspect_request (`detailLevel` 0 or 1).
    func inspect(_ code: String, cursor: Int, detailLevel: Int) -> MimeBundle?
    /// Whether `code` is a whole cell or needs more lines: is_complete_request (console clients).
    func isComplete(_ code: String) -> CodeCompleteness
}

/// What kernel_info_reply says about the kernel and its language.
public struct KernelIdentity: Sendable {
    /// The kernel's name ("mirage").
    public var implementation: String
    /// The kernel's version.
    public var implementationVersion: String
    /// The language's name, as notebooks record it.
    public var languageName: String
    /// The language's version.
    public var languageVersion: String
    /// The MIME type of source files.
    public var mimetype: String
    /// The extension of source files, with its dot.
    public var fileExtension: String
    /// The Pygments lexer that highlights the language in exported notebooks.
    public var pygmentsLexer: String
    /// The CodeMirror mode that highlights the language in the notebook editor.
    public var codemirrorMode: String
    /// The text console clients show at start-up.
    public var banner: String
    /// Links for the client's Help menu.
    public var helpLinks: [(text: String, url: String)]

    /// An identity; every field is sent as given.
    public init(
        implementation: String, implementationVersion: String, languageName: String, languageVersion: String,
        mimetype: String, fileExtension: String, pygmentsLexer: String, codemirrorMode: String,
        banner: String, helpLinks: [(text: String, url: String)] = []
    ) {
        self.implementation = implementation
        self.implementationVersion = implementationVersion
        self.languageName = languageName
        self.languageVersion = languageVersion
        self.mimetype = mimetype
        self.fileExtension = fileExtension
        self.pygmentsLexer = pygmentsLexer
        self.codemirrorMode = codemirrorMode
        self.banner = banner
        self.helpLinks = helpLinks
    }
}

/// A set of representations of one value, keyed by MIME type; `text/plain` is always the fallback.
public struct MimeBundle: Sendable, Equatable {
    /// Representations by MIME type; images are base64 strings.
    public var data: [String: JSON]
    /// Per-MIME-type metadata, such as the size to show an image at.
    public var metadata: [String: JSON]

    /// A bundle of `data` with its `metadata`.
    public init(data: [String: JSON] = [:], metadata: [String: JSON] = [:]) {
        self.data = data
        self.metadata = metadata
    }

    /// Plain text alone.
    public static func text(_ text: String) -> MimeBundle { MimeBundle(data: ["text/plain": .string(text)]) }

    /// A PNG with a text fallback; `width`/`height` are the logical size to show it at
    /// (a 2× rendering shown at half size stays crisp on high-DPI screens).
    public static func png(_ bytes: [UInt8], width: Int? = nil, height: Int? = nil, fallback: String) -> MimeBundle {
        var size: [String: JSON] = [:]
        if let width { size["width"] = .int(width) }
        if let height { size["height"] = .int(height) }
        return MimeBundle(
            data: ["image/png": .string(Data(bytes).base64EncodedString()), "text/plain": .string(fallback)],
            metadata: size.isEmpty ? [:] : ["image/png": .object(size)])
    }

    /// HTML with a plain-text fallback.
    public static func html(_ html: String, fallback: String) -> MimeBundle {
        MimeBundle(data: ["text/html": .string(html), "text/plain": .string(fallback)])
    }

    /// The text/plain representation, if any.
    public var plainText: String? { data["text/plain"]?.stringValue }
}

/// How a cell ended: its result, or an error for the client to show.
public enum ExecutionOutcome: Sendable {
    /// `result` is the value shown as execute_result (nil: nothing to show).
    case ok(result: MimeBundle?)
    case error(name: String, value: String, traceback: [String])
}

/// The completions of complete_reply and the span of text they replace.
public struct CompletionResult: Sendable {
    /// Candidate texts, in the order to show them.
    public var matches: [String]
    /// Character offset where the replaced text starts.
    public var cursorStart: Int
    /// Character offset where the replaced text ends.
    public var cursorEnd: Int
    /// Completions replacing the characters cursorStart..<cursorEnd.
    public init(matches: [String], cursorStart: Int, cursorEnd: Int) {
        self.matches = matches
        self.cursorStart = cursorStart
        self.cursorEnd = cursorEnd
    }
}

/// is_complete_reply's status: complete, incomplete (with the indent of the next line), invalid, or unknown.
public enum CodeCompleteness: Sendable, Equatable {
    case complete
    case incomplete(indent: String)
    case invalid
    case unknown
}

/// The two output streams a cell writes to.
public enum StreamName: String, Sendable {
    case stdout, stderr
}

/// Why `ExecutionContext.input` gave no line.
public enum InputError: Error, Sendable {
    case notAllowed       // the client did not allow stdin for this request
    case interrupted
}
