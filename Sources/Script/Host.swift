/// The two text streams a cell writes to.
public enum OutputStreamName: String, Sendable { case stdout, stderr }

/// A value as a notebook shows it: always plain text, optionally a PNG picture or HTML.
public struct RichOutput: Sendable, Equatable {
    /// The text/plain form, which every client can show.
    public var plain: String
    /// A PNG picture of the value, if it has one (tensors that look like pictures, plots).
    public var png: [UInt8]?
    /// Logical display size in px (for the image/png metadata).
    public var pngWidth: Int?
    /// Logical display height in px (for the image/png metadata).
    public var pngHeight: Int?
    /// An HTML form (tables), if the value has one.
    public var html: String?

    /// An output of `plain` text and, optionally, a PNG with its display size and HTML.
    public init(plain: String, png: [UInt8]? = nil, pngWidth: Int? = nil, pngHeight: Int? = nil, html: String? = nil) {
        self.plain = plain
        self.png = png
        self.pngWidth = pngWidth
        self.pngHeight = pngHeight
        self.html = html
    }
}

/// What the language needs from its surroundings (a Jupyter kernel, a test, a command line): somewhere to write text and show rich output, a line of input, and the interrupt flag.
public protocol ScriptHost: AnyObject {
    /// Writes text to stdout or stderr, as `print` does.
    func write(_ text: String, to stream: OutputStreamName)
    /// Shows rich output; with a `displayID`, `update: true` replaces the earlier output of that id in place.
    func display(_ output: RichOutput, displayID: String?, update: Bool)
    /// Clears the cell's output (with `wait`, when the next output arrives).
    func clearOutput(wait: Bool)
    /// Shows text in the client's pager (help pages).
    func page(_ output: RichOutput)
    /// The host throws a ScriptError when stdin is not allowed or on interrupt.
    func readInput(prompt: String, password: Bool) throws -> String
    /// Whether the user asked to stop; long work checks it at safe points.
    var isInterrupted: Bool { get }
}

/// Whether a cell's source is ready to run (Jupyter's is_complete).
public enum Completeness: Equatable, Sendable {
    case complete
    case incomplete(indent: String)
    case invalid
}

/// Completion matches replace the source between `start` and `end` (Unicode-scalar offsets).
public struct Completion: Sendable, Equatable {
    /// The candidates, in the order to show them.
    public var matches: [String]
    /// Where the replaced text starts (a Unicode-scalar offset into the source).
    public var start: Int
    /// Where the replaced text ends (a Unicode-scalar offset into the source).
    public var end: Int

    /// Matches replacing the source between `start` and `end`.
    public init(matches: [String], start: Int, end: Int) {
        self.matches = matches
        self.start = start
        self.end = end
    }
}
