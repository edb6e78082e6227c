import ArgumentParser
import Foundation
import JupyterKernel

struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install the Mirage kernelspec so Jupyter clients can start this kernel.",
        discussion: "Defaults to --user. --sys-prefix installs into the active virtual environment ($VIRTUAL_ENV, else python3's sys.prefix).")

    @Flag(help: "Install for the current user (the Jupyter data directory).") var user = false
    @Flag(help: "Install into the active Python environment.") var sysPrefix = false
    @Option(help: "Install under PREFIX/share/jupyter/kernels.") var prefix: String?
    @Option(help: "The kernelspec's name.") var name = "mirage"
    @Option(help: "The name shown in Jupyter's launcher.") var displayName = "Mirage"

    func validate() throws {
        if [user, sysPrefix, prefix != nil].filter({ $0 }).count > 1 {
            throw ValidationError("choose one of --user, --sys-prefix and --prefix")
        }
    }

    func run() throws {
        let scope: KernelSpec.Scope
        if let prefix {
            scope = .prefix(prefix)
        } else if sysPrefix {
            scope = .prefix(try Self.pythonPrefix())
        } else {
            scope = .user
        }
        let spec = KernelSpec(
            name: name,
            argv: [try Self.executablePath(), "kernel", "--connection-file", "{connection_file}"],
            displayName: displayName,
            language: "mirage",
            interruptMode: "message",
            // jupyter_client provisions CurveZMQ keys only for kernels that declare support.
            metadata: ["supported_encryption": ["curve"]],
            // See Mirage.main (which sets it too when it is missing): libgomp reads it when oneDNN is first loaded.
            environment: ["OMP_WAIT_POLICY": "PASSIVE"],
            logos: ["logo-32x32.png": Logo.png(size: 32), "logo-64x64.png": Logo.png(size: 64)])
        let directory = try spec.install(in: scope)
        print("Installed kernelspec \(name) in \(directory)")
    }

    static func executablePath() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    static func pythonPrefix() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let venv = env["VIRTUAL_ENV"] ?? env["CONDA_PREFIX"], !venv.isEmpty { return venv }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import sys; print(sys.prefix)"]
        let pipe = Pipe()
        python.standardOutput = pipe
        try python.run()
        python.waitUntilExit()
        let prefix = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard python.terminationStatus == 0, !prefix.isEmpty else {
            throw ValidationError("--sys-prefix: no active environment and python3 did not report sys.prefix")
        }
        return prefix
    }
}
