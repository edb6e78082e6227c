/// The Jupyter wire target: multipart frames through the signature check, JSON, message decoding and history requests.
import Crypto
import JupyterKernel

enum WireFuzz {
    static let key = Array("fuzz-key".utf8)
    /// Separates frames in an input (never part of valid UTF-8, so JSON frames are whole).
    static let separator: UInt8 = 0xFF

    /// The first byte chooses the mode: 0 unsigned, 1 signed by the harness (so the JSON is reached),
    /// 2 signed as given (the signature check itself). The rest is frames separated by 0xFF.
    static let target = FuzzTarget("wire", "ZeroMQ multipart frames through WireCodec.decode (signature, replay guard, JSON, msg_type), re-encoding, and history_request") { bytes in
        guard let mode = bytes.first else { return }
        var frames = bytes.dropFirst().split(separator: separator, omittingEmptySubsequences: false).map(Array.init)
        let signing = mode % 3 != 0
        let codec = WireCodec(key: signing ? key : [])
        if mode % 3 == 1, let split = frames.firstIndex(of: WireCodec.delimiter), frames.count >= split + 6 {
            frames[split + 1] = signature(Array(frames[(split + 2)..<(split + 6)]))
        }
        guard let message = try? codec.decode(frames) else { return }
        // What the kernel sends back must decode to the same message with a fresh codec.
        let again = WireCodec(key: signing ? key : [])
        guard let copy = try? again.decode(again.encode(message)), copy == message else {
            FuzzTargets.violated("wire", "a decoded message does not survive encode → decode")
        }
        if signing, (try? codec.decode(frames)) != nil { FuzzTargets.violated("wire", "a replayed message was accepted") }
        var history = History()
        for line in 1...3 { history.record(line: line, input: "x\(line) = \(line)", output: nil) }
        _ = history.reply(to: message.content)
    }

    /// Hex HMAC-SHA256 of the four dictionaries, as jupyter_client signs.
    static func signature(_ parts: [[UInt8]]) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key))
        for part in parts { hmac.update(data: part) }
        return Array(hmac.finalize().map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined().utf8)
    }
}
