import Foundation

/// The connection file a Jupyter client writes before starting the kernel.
public struct ConnectionInfo: Sendable, Equatable {
    public var transport: String        // "tcp" or "ipc"
    public var ip: String
    public var shellPort: Int
    public var iopubPort: Int
    public var stdinPort: Int
    public var controlPort: Int
    public var heartbeatPort: Int
    public var key: [UInt8]
    public var signatureScheme: String
    /// CurveZMQ server key pair (Z85 text, 40 characters each), present when the client asks for encryption.
    public var curvePublicKey: String?
    public var curveSecretKey: String?

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

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

    public static func load(path: String) throws -> ConnectionInfo {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try ConnectionInfo(json: try JSON.parse(Array(data)), source: path)
    }

    /// tcp://ip:port, or for ipc the path `ip-port` (jupyter_client's convention).
    public func endpoint(port: Int) -> String {
        transport == "ipc" ? "ipc://\(ip)-\(port)" : "tcp://\(ip):\(port)"
    }
}
