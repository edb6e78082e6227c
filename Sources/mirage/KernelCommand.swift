import ArgumentParser
import JupyterKernel
#if canImport(Glibc)
import Glibc
#endif

extension Log.Level: ExpressibleByArgument {
    public init?(argument: String) {
        guard let level = Self.allCases.first(where: { "\($0)" == argument }) else { return nil }
        self = level
    }
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
