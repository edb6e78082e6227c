import ArgumentParser
import Foundation
import Tensor

@main
struct Mirage: ParsableCommand {
    /// oneDNN runs on libgomp, which by default spins and then yields while waiting at barriers;
    /// on a busy 2-core machine that turns a 0.5 ms attack step into 200 ms. Passive waiting avoids
    /// it. libgomp reads its environment when it is loaded, and it is loaded with oneDNN on the first
    /// tensor operation (CDNNLLoader), long after this line: setting the variable here is enough, with
    /// no second start of the process. A value already in the environment is kept.
    static func main() {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 0)
        Allocator.keepFreedMemory()
        do {
            if let launch = KernelCommand.jupyterLaunch(Array(CommandLine.arguments.dropFirst())) {
                return try KernelCommand.serve(connectionFile: launch.connectionFile, logLevel: launch.logLevel)
            }
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mirage",
        abstract: "A Jupyter kernel and language for out-of-distribution attacks on neural-network encoders.",
        version: version,
        subcommands: [KernelCommand.self, InstallCommand.self, RunCommand.self, ReplCommand.self, MergeCommand.self, ModelCommand.self, BenchCommand.self]
    )
}
