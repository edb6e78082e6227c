import Foundation
@testable import Script

/// A ScriptHost that records everything the language sends to it.
final class RecordingHost: ScriptHost, @unchecked Sendable {
    var stdout = ""
    var stderr = ""
    var displays: [RichOutput] = []
    var pages: [RichOutput] = []
    var clears: [Bool] = []
    var inputs: [String] = []
    var prompts: [String] = []
    /// When set, `isInterrupted` turns true this many seconds after the host was created.
    var interruptAfter: TimeInterval?
    private let created = Date()

    init(interruptAfter: TimeInterval? = nil) {
        self.interruptAfter = interruptAfter
    }

    func write(_ text: String, to stream: OutputStreamName) {
        if stream == .stdout { stdout += text } else { stderr += text }
    }
    func display(_ output: RichOutput, displayID: String?, update: Bool) { displays.append(output) }
    func clearOutput(wait: Bool) { clears.append(wait) }
    func page(_ output: RichOutput) { pages.append(output) }
    func readInput(prompt: String, password: Bool) throws -> String {
        prompts.append(prompt)
        guard !inputs.isEmpty else { throw ScriptError(kind: .ioError, message: "input is not allowed") }
        return inputs.removeFirst()
    }
    var isInterrupted: Bool {
        guard let interruptAfter else { return false }
        return Date().timeIntervalSince(created) > interruptAfter
    }
}

/// Runs a cell in a session, returning the result's plain text (nil for no result).
@discardableResult
func run(_ source: String, in session: Session, host: RecordingHost = RecordingHost()) throws -> String? {
    try session.execute(source, host: host)?.plain
}

/// The ScriptError a cell throws (nil if it succeeds).
func error(of source: String, in session: Session = Session(), host: RecordingHost = RecordingHost()) -> ScriptError? {
    do {
        _ = try session.execute(source, host: host)
        return nil
    } catch let error as ScriptError {
        return error
    } catch {
        return ScriptError(kind: .internalError, message: "\(error)")
    }
}
