import Testing
@testable import JupyterKernel

@Suite struct ConnectionInfoTests {
    let base: [String: JSON] = [
        "shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004, "hb_port": 5005,
        "ip": "127.0.0.1", "key": "abc", "transport": "tcp", "signature_scheme": "hmac-sha256",
    ]

    @Test func readsAJupyterClientConnectionFile() throws {
        let info = try ConnectionInfo(json: .object(base))
        #expect(info.endpoint(port: info.shellPort) == "tcp://127.0.0.1:5001")
        #expect(info.key == Array("abc".utf8))
        #expect(info.curveSecretKey == nil)
    }

    @Test func usesJupyterClientsIPCNaming() throws {
        var fields = base
        fields["transport"] = "ipc"
        fields["ip"] = "/tmp/kernel-1"
        let info = try ConnectionInfo(json: .object(fields))
        #expect(info.endpoint(port: 3) == "ipc:///tmp/kernel-1-3")
    }

    @Test func namesTheBadField() {
        var fields = base
        fields["iopub_port"] = "five"
        #expect { try ConnectionInfo(json: .object(fields)) } throws: { "\($0)".contains("iopub_port") }
        fields = base
        fields["signature_scheme"] = "hmac-md5"
        #expect { try ConnectionInfo(json: .object(fields)) } throws: { "\($0)".contains("signature_scheme") }
        fields = base
        fields["curve_secretkey"] = "short"
        #expect { try ConnectionInfo(json: .object(fields)) } throws: { "\($0)".contains("curve_secretkey") }
    }
}
