import ArgumentParser
import Foundation

@main
struct Mirage: ParsableCommand {
    /// oneDNN runs on libgomp, which by default spins and then yields while waiting at barriers;
    /// on a busy 2-core machine that turns a 0.5 ms attack step into 200 ms. Passive waiting avoids
    /// it. libgomp reads its environment before `main`, so set it and start again, once.
    static func main() {
        if ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil {
            setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
            let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
            execv("/proc/self/exe", arguments)
            // execv returned: carry on with libgomp's defaults.
        }
        do {
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
