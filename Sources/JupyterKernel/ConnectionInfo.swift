import Foundation

/// The connection file a Jupyter client writes before starting the kernel.
public struct ConnectionInfo: Sendable, Equatable {
    /// How the channels are reached: "tcp" (ports on `ip`) or "ipc" (Unix sockets at `ip`-port paths).
    public var transport: String        // "tcp" or "ipc"
    /// The address to bind for tcp, or the socket path prefix for ipc.
    public var ip: String
    /// Port of the shell channel (execute, complete, inspect, … requests).
    public var shellPort: Int
    /// Port of the iopub channel (outputs and status, broadcast to every client).
    public var iopubPort: Int
    /// Port of the stdin channel (input requests from a running cell).
    public var stdinPort: Int
    /// Port of the control channel (interrupt and shutdown, answered while a cell runs).
    public var controlPort: Int
    /// Port of the heartbeat channel (echoes, so the client knows the kernel is alive).
    public var heartbeatPort: Int
    /// The HMAC key that signs every message; empty means messages are not signed.
    public var key: [UInt8]
    /// The signing scheme; only "hmac-sha256" is supported.
    public var signatureScheme: String
    /// CurveZMQ server key pair (Z85 text, 40 characters each), present when the client asks for encryption.
    public var curvePublicKey: String?
    /// The CurveZMQ server's secret key, matching `curvePublicKey`.
    public var curveSecretKey: String?

    /// Why a connection file was rejected: the file and the field at fault.
    public struct Invalid: Error, CustomStringConvertible {
        /// The message, starting with the file it is about.
        public var description: String
    }

    /// Reads a parsed connection file, checking ports, transport, signature scheme and Curve keys; `source` names it in errors.
    public init(json: JSON, source: String = "connection file") throws(Invalid) {
        guard case .object = json else { throw Invalid(description: "\(source): expected a JSON object") }
        func port(_ name: String) throws(Invalid) -> Int {
            guard let value = json[name]?.intValue, (0...65535).contains(value) else {
                throw Invalid(description: "\(source): missing or invalid \"\(name)\"")
            }
            return value
        }
        transport = json["transport"]?.stringValue ?? "tcp"
        guard transport == "tcp" || transport == "ipc" else {
            throw Invalid(description: "\(source): unsupported transport \"\(transport)\" (tcp or ipc)")
        }
        ip = json["ip"]?.stringValue ?? "127.0.0.1"
        shellPort = try port("shell_port")
        iopubPort = try port("iopub_port")
        stdinPort = try port("stdin_port")
        controlPort = try port("control_port")
        heartbeatPort = try port("hb_port")
        key = Array((json["key"]?.stringValue ?? "").utf8)
        signatureScheme = json["signature_scheme"]?.stringValue ?? "hmac-sha256"
        guard signatureScheme == "hmac-sha256" || key.isEmpty else {
            throw Invalid(description: "\(source): unsupported signature_scheme \"\(signatureScheme)\" (hmac-sha256)")
        }
        curvePublicKey = json["curve_publickey"]?.stringValue
        curveSecretKey = json["curve_secretkey"]?.stringValue
        if let secret = curveSecretKey, secret.utf8.count != 40 {
            throw Invalid(description: "\(source): curve_secretkey must be 40 Z85 characters")
        }
    }

    /// Reads and checks the connection file at `path`.
    public static func load(path: String) throws -> ConnectionInfo {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try ConnectionInfo(json: try JSON.parse(Array(data)), source: path)
    }

    /// tcp://ip:port, or for ipc the path `ip-port` (jupyter_client's convention).
    public func endpoint(port: Int) -> String {
        transport == "ipc" ? "ipc://\(ip)-\(port)" : "tcp://\(ip):\(port)"
    }
}
