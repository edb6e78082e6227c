import ArgumentParser
import JupyterKernel
#if canImport(Glibc)
import Glibc
#endif

extension Log.Level: ExpressibleByArgument {
    /// A level from its name on the command line (`--log-level debug`).
    public init?(argument: String) {
        guard let level = Self.allCases.first(where: { "\($0)" == argument }) else { return nil }
        self = level
    }
    /// The level names `--help` lists.
    public static var allValueStrings: [String] { allCases.map { "\($0)" } }
}

struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Run as a Jupyter kernel (what kernel.json starts).")

    @Option(name: .long, help: "The connection file written by the Jupyter client.")
    var connectionFile: String

    @Option(name: .long, help: "Log to stderr at this level and above.")
    var logLevel: Log.Level = .warning

    func run() throws {
        try KernelCommand.serve(connectionFile: connectionFile, logLevel: logLevel)
    }

    /// The options of `kernel --connection-file PATH [--log-level LEVEL]`, the command line kernel.json starts,
    /// read without ArgumentParser: its reflection over the command types costs a few milliseconds of
    /// start-up. Anything else (other spellings, `--help`, a bad level) is nil and goes through the parser.
    static func jupyterLaunch(_ arguments: [String]) -> (connectionFile: String, logLevel: Log.Level)? {
        guard arguments.count == 3 || arguments.count == 5, arguments[0] == "kernel", arguments[1] == "--connection-file",
              !arguments[2].hasPrefix("-") else { return nil }
        guard arguments.count == 5 else { return (arguments[2], .warning) }
        guard arguments[3] == "--log-level", let level = Log.Level(argument: arguments[4]) else { return nil }
        return (arguments[2], level)
    }

    static func serve(connectionFile: String, logLevel: Log.Level) throws {
        forbidWorldWritableFiles()
        let log = Log(level: logLevel)
        let connection: ConnectionInfo
        do { connection = try ConnectionInfo.load(path: connectionFile) } catch {
            throw ValidationError("cannot read connection file: \(error)")
        }
        let backend = MirageBackend()
        backend.interruptFlag.receivesSIGINT()
        let kernel = try Kernel(connection: connection, backend: backend, log: log)
        _ = try kernel.run()
    }
}

/// Files this process creates (results, attack files, plots) are never world-writable, whatever umask it inherited.
func forbidWorldWritableFiles() {
    umask(umask(0) | 0o002)
}
