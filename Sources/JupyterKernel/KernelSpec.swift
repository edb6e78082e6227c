import Foundation

/// A kernelspec directory: kernel.json plus logos, as `jupyter kernelspec list` finds them.
public struct KernelSpec: Sendable {
    /// The kernelspec's directory name, which clients select the kernel by.
    public var name: String
    /// The command line that starts the kernel; `{connection_file}` is replaced by the client.
    public var argv: [String]
    /// The name clients show in their kernel menus.
    public var displayName: String
    /// The language's name.
    public var language: String
    /// "message" (interrupt_request on the control channel) or "signal" (SIGINT).
    public var interruptMode: String
    /// kernel.json's `metadata` object.
    public var metadata: JSON
    /// Environment variables the client sets for the kernel process (kernel.json `env`).
    public var environment: [String: String]
    /// File name → PNG bytes (logo-32x32.png, logo-64x64.png).
    public var logos: [String: [UInt8]]

    /// A kernelspec; interrupts are messages unless said otherwise.
    public init(name: String, argv: [String], displayName: String, language: String,
                interruptMode: String = "message", metadata: JSON = [:], environment: [String: String] = [:],
                logos: [String: [UInt8]] = [:]) {
        self.name = name
        self.argv = argv
        self.displayName = displayName
        self.language = language
        self.interruptMode = interruptMode
        self.metadata = metadata
        self.environment = environment
        self.logos = logos
    }

    /// The kernel.json document.
    public var kernelJSON: JSON {
        var fields: [String: JSON] = [
            "argv": .array(argv.map { .string($0) }),
            "display_name": .string(displayName),
            "language": .string(language),
            "interrupt_mode": .string(interruptMode),
            "metadata": metadata,
        ]
        if !environment.isEmpty { fields["env"] = .object(environment.mapValues { .string($0) }) }
        return .object(fields)
    }

    /// Where Jupyter looks for kernelspecs of each scope.
    public enum Scope: Sendable {
        case user, prefix(String)

        /// The `kernels` directory of this scope (~/.local/share/jupyter/kernels for the user, PREFIX/share/jupyter/kernels for a prefix).
        public var kernelsDirectory: String {
            switch self {
            case .user:
                let env = ProcessInfo.processInfo.environment
                // As jupyter_core: $HOME first (NSHomeDirectory reads the password database instead).
                let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
                let data = env["JUPYTER_DATA_DIR"] ?? ((env["XDG_DATA_HOME"] ?? (home + "/.local/share")) + "/jupyter")
                return data + "/kernels"
            case .prefix(let prefix):
                return prefix + "/share/jupyter/kernels"
            }
        }
    }

    /// Writes the spec, replacing an earlier one of the same name; returns its directory.
    @discardableResult
    public func install(in scope: Scope) throws -> String {
        let directory = scope.kernelsDirectory + "/" + name
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(kernelJSON.bytes).write(to: URL(fileURLWithPath: directory + "/kernel.json"))
        for (file, bytes) in logos {
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + file))
        }
        return directory
    }
}
