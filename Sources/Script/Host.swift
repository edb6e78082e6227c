/// What the language needs from its surroundings (a Jupyter kernel, a test, a command line).
public enum OutputStreamName: String, Sendable { case stdout, stderr }

/// A value as a notebook shows it: always plain text, optionally a PNG picture or HTML.
public struct RichOutput: Sendable, Equatable {
    public var plain: String
    public var png: [UInt8]?
    /// Logical display size in px (for the image/png metadata).
    public var pngWidth: Int?
    public var pngHeight: Int?
    public var html: String?

    public init(plain: String, png: [UInt8]? = nil, pngWidth: Int? = nil, pngHeight: Int? = nil, html: String? = nil) {
        self.plain = plain
        self.png = png
        self.pngWidth = pngWidth
        self.pngHeight = pngHeight
        self.html = html
    }
}

public protocol ScriptHost: AnyObject {
    func write(_ text: String, to stream: OutputStreamName)
    func display(_ output: RichOutput, displayID: String?, update: Bool)
    func clearOutput(wait: Bool)
    func page(_ output: RichOutput)
    /// The host throws a ScriptError when stdin is not allowed or on interrupt.
    func readInput(prompt: String, password: Bool) throws -> String
    var isInterrupted: Bool { get }
    /// Whether built-ins may read and write files (see Sandbox.swift; true unless a host says otherwise).
    var allowsFileAccess: Bool { get }
}

/// Whether a cell's source is ready to run (Jupyter's is_complete).
public enum Completeness: Equatable, Sendable {
    case complete
    case incomplete(indent: String)
    case invalid
}

/// Completion matches replace the source between `start` and `end` (Unicode-scalar offsets).
public struct Completion: Sendable, Equatable {
    public var matches: [String]
    public var start: Int
    public var end: Int

    public init(matches: [String], start: Int, end: Int) {
        self.matches = matches
        self.start = start
        self.end = end
    }
}
