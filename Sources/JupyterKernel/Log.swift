#if canImport(Glibc)
import Glibc
#endif

/// Kernel logging goes to stderr (Jupyter clients show or capture it); quiet by default.
public struct Log: Sendable {
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case error, warning, info, debug
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    public var level: Level
    public init(level: Level = .warning) { self.level = level }

    public func callAsFunction(_ level: Level, _ message: @autoclosure () -> String) {
        guard level <= self.level else { return }
        // write(2) rather than stdio: unbuffered, and safe from any thread.
        let line = Array("[mirage \(level)] \(message())\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
