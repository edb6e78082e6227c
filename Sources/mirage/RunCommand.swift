import ArgumentParser
import Audit
import Foundation
import JupyterKernel
import Script
import CEditLine

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a .mirage script without Jupyter.",
        discussion: "Text goes to stdout/stderr; every displayed image or plot is written to DIR as a numbered PNG. Exits non-zero with the rendered error when a statement fails.")

    @Argument(help: "The script to run.") var script: String
    @Option(name: .long, help: "Where displayed images go (created if missing).") var out: String?
    @Option(name: .long, help: ArgumentHelp("Run only shard I of N of every dataset audit: the chunks c with c mod N = I (I from 0).",
                                            discussion: "Without it the shard comes from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX/MIRAGE_SHARD_COUNT.",
                                            valueName: "I/N")) var shard: String?

    func run() throws {
        let source: String
        do { source = try String(contentsOfFile: script, encoding: .utf8) } catch {
            throw ValidationError("cannot read \(script): \(error.localizedDescription)")
        }
        do {
            if let shard { Shard.commandLine = try Shard(parsing: shard) }
            _ = try Shard.current()
        } catch let error as AuditError {
            throw ValidationError(error.message)
        }
        Shard.scriptSource = source
        Interruption.installSignalHandler()
        let host = try TerminalHost(imageDirectory: out)
        do {
            if let result = try Session().execute(source, host: host) { host.show(result) }
        } catch let error as ScriptError {
            host.write(error.rendered + "\n", to: .stderr)
            throw ExitCode(1)
        }
    }
}

struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "An interactive Mirage prompt in the terminal (for quick checks without Jupyter).",
        discussion: "Line editing and history through libedit; the history is kept in ~/.mirage_history. Ctrl-C interrupts a running statement, Ctrl-D quits.")

    @Option(name: .long, help: "Where displayed images go.") var out: String?

    func run() throws {
        Interruption.installSignalHandler()
        let host = try TerminalHost(imageDirectory: out)
        let session = Session()
        let interactive = isatty(0) != 0
        let historyFile = (ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) + "/.mirage_history"
        if interactive {
            print("Mirage \(Mirage.version). help() lists the built-ins; Ctrl-D quits.")
            _ = read_history(historyFile)
        }
        defer { if interactive { _ = write_history(historyFile) } }
        var pending = ""
        while true {
            let line = Self.readLine(prompt: pending.isEmpty ? ">>> " : "... ", interactive: interactive)
            if line == nil && pending.isEmpty {
                if interactive { print("") }
                return
            }
            // An empty line ends a block, as at Python's prompt; end of input runs what is pending.
            let endsBlock = line == nil || (line!.trimmingCharacters(in: .whitespaces).isEmpty && !pending.isEmpty)
            pending += (pending.isEmpty ? "" : "\n") + (line ?? "")
            if !endsBlock, case .incomplete = session.completeness(pending) { continue }
            if interactive, !pending.trimmingCharacters(in: .whitespaces).isEmpty { _ = add_history(pending) }
            Interruption.clear()
            do {
                if let result = try session.execute(pending, host: host) { host.show(result) }
            } catch let error as ScriptError {
                host.write(error.rendered + "\n", to: .stderr)
            }
            pending = ""
        }
    }

    /// libedit's line editor on a terminal; plain lines from a pipe.
    static func readLine(prompt: String, interactive: Bool) -> String? {
        guard interactive else { return Swift.readLine() }
        guard let raw = readline(prompt) else { return nil }
        defer { free(raw) }
        return String(cString: raw)
    }
}

/// Output for `run` and `repl`: text to the terminal, images to numbered PNG files.
final class TerminalHost: ScriptHost {
    private let imageDirectory: String?
    private var imageCount = 0
    /// Live progress (display updates): redrawn in place on a terminal; in a log only the last
    /// state of each display is kept, written when other output follows or the run ends.
    private var pendingUpdate: String?
    private let isTerminal = isatty(1) != 0

    deinit { flushUpdate() }

    private func flushUpdate() {
        guard let text = pendingUpdate else { return }
        pendingUpdate = nil
        FileHandle.standardOutput.write(Data((isTerminal ? "\r\u{1B}[K" : "") .appending(text + "\n").utf8))
    }

    init(imageDirectory: String?) throws {
        // "out/" and "out" name the same folder; keep printed paths free of "//".
        self.imageDirectory = imageDirectory.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        if let imageDirectory {
            try FileManager.default.createDirectory(atPath: imageDirectory, withIntermediateDirectories: true)
        }
    }

    func write(_ text: String, to stream: OutputStreamName) {
        flushUpdate()
        let handle = stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError
        handle.write(Data(text.utf8))
    }

    func show(_ output: RichOutput) {
        write(output.plain + "\n", to: .stdout)
        guard let png = output.png else { return }
        imageCount += 1
        guard let imageDirectory else { return }
        let path = "\(imageDirectory)/\(String(format: "%03d", imageCount)).png"
        do {
            try Data(png).write(to: URL(fileURLWithPath: path))
            write("[image \(path)]\n", to: .stdout)
        } catch {
            write("cannot write \(path): \(error.localizedDescription)\n", to: .stderr)
        }
    }

    func display(_ output: RichOutput, displayID: String?, update: Bool) {
        // Progress of long work (dataset audits) goes to stderr, one line per update (in place on a terminal).
        if let displayID, displayID.hasPrefix("progress:") {
            let tty = isatty(2) != 0
            FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + output.plain + (tty ? "" : "\n")).utf8))
            return
        }
        guard displayID != nil, output.png == nil else { return show(output) }
        if !update { flushUpdate() }
        pendingUpdate = output.plain
        if isTerminal { FileHandle.standardOutput.write(Data("\r\u{1B}[K\(output.plain)".utf8)) }
    }
    func clearOutput(wait: Bool) {}
    func page(_ output: RichOutput) { write(output.plain + "\n", to: .stdout) }

    func readInput(prompt: String, password: Bool) throws -> String {
        write(prompt, to: .stdout)
        guard let line = readLine() else { throw ScriptError(kind: "EOFError", message: "end of input") }
        return line
    }

    var isInterrupted: Bool { Interruption.isRequested }
}
