import Foundation

/// What a language plugs into the kernel. The protocol module knows nothing of the language:
/// it hands code to the backend and publishes what the backend produces.
/// All methods run on the kernel's shell thread, one request at a time.
public protocol KernelBackend: AnyObject {
    var identity: KernelIdentity { get }
    /// The flag the backend's long work polls; the kernel raises it on interrupt_request and shutdown
    /// (from the control thread, while `execute` runs) and lowers it before each cell.
    var interruptFlag: InterruptFlag { get }
    func execute(_ code: String, context: ExecutionContext) -> ExecutionOutcome
    /// Jupyter `user_expressions`: evaluated after the cell, in the cell's state.
    func evaluate(expression: String, context: ExecutionContext) -> ExecutionOutcome
    func complete(_ code: String, cursor: Int) -> CompletionResult
    func inspect(_ code: String, cursor: Int, detailLevel: Int) -> MimeBundle?
    func isComplete(_ code: String) -> CodeCompleteness
}

/// What kernel_info_reply says about the kernel and its language.
public struct KernelIdentity: Sendable {
    public var implementation: String
    public var implementationVersion: String
    public var languageName: String
    public var languageVersion: String
    public var mimetype: String
    public var fileExtension: String
    public var pygmentsLexer: String
    public var codemirrorMode: String
    public var banner: String
    public var helpLinks: [(text: String, url: String)]

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
    public var data: [String: JSON]
    public var metadata: [String: JSON]

    public init(data: [String: JSON] = [:], metadata: [String: JSON] = [:]) {
        self.data = data
        self.metadata = metadata
    }

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

    public static func html(_ html: String, fallback: String) -> MimeBundle {
        MimeBundle(data: ["text/html": .string(html), "text/plain": .string(fallback)])
    }

    public var plainText: String? { data["text/plain"]?.stringValue }
}

public enum ExecutionOutcome: Sendable {
    /// `result` is the value shown as execute_result (nil: nothing to show).
    case ok(result: MimeBundle?)
    case error(name: String, value: String, traceback: [String])
}

public struct CompletionResult: Sendable {
    public var matches: [String]
    public var cursorStart: Int
    public var cursorEnd: Int
    public init(matches: [String], cursorStart: Int, cursorEnd: Int) {
        self.matches = matches
        self.cursorStart = cursorStart
        self.cursorEnd = cursorEnd
    }
}

public enum CodeCompleteness: Sendable, Equatable {
    case complete
    case incomplete(indent: String)
    case invalid
    case unknown
}

public enum StreamName: String, Sendable {
    case stdout, stderr
}

/// Why `ExecutionContext.input` gave no line.
public enum InputError: Error, Sendable {
    case notAllowed       // the client did not allow stdin for this request
    case interrupted
}
