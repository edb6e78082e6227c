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
        let log = Log(level: logLevel)
        let connection: ConnectionInfo
        do { connection = try ConnectionInfo.load(path: connectionFile) } catch {
            throw ValidationError("cannot read connection file: \(error)")
        }
        Interruption.installSignalHandler()
        let kernel = try Kernel(connection: connection, backend: MirageBackend(), log: log)
        _ = try kernel.run()
    }
}
