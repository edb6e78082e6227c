import ArgumentParser

@main
struct Mirage: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mirage",
        abstract: "A Jupyter kernel and language for out-of-distribution attacks on neural-network encoders.",
        version: version,
        subcommands: [KernelCommand.self, InstallCommand.self, RunCommand.self, ReplCommand.self, ModelCommand.self, BenchCommand.self]
    )
}
