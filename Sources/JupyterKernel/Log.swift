#if canImport(Glibc)
import Glibc
#endif

/// Kernel logging goes to stderr (Jupyter clients show or capture it); quiet by default.
public struct Log: Sendable {
    /// Message severity, from always shown (error) to most verbose (debug).
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case error, warning, info, debug
        /// Levels order by verbosity: error < warning < info < debug.
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// The most verbose level that is written.
    public var level: Level
    /// A log writing messages at `level` and below.
    public init(level: Level = .warning) { self.level = level }

    /// Writes `message` to stderr when `level` is at or below the log's level (the message is built only then).
    public func callAsFunction(_ level: Level, _ message: @autoclosure () -> String) {
        guard level <= self.level else { return }
        // write(2) rather than stdio: unbuffered, and safe from any thread.
        let line = Array("[mirage \(level)] \(message())\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
