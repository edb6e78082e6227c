import Foundation

/// The version of the Jupyter messaging protocol this kernel speaks.
public let protocolVersion = "5.4"

/// One Jupyter message: routing identities, the four JSON dictionaries and raw buffers.
public struct Message: Sendable {
    /// ZeroMQ routing identities of the sender, echoed on replies.
    public var identities: [[UInt8]]
    /// The header: msg_id, msg_type, session, username, date, version.
    public var header: JSON
    /// The header of the request this message answers, or {}.
    public var parentHeader: JSON
    /// Message metadata (free-form).
    public var metadata: JSON
    /// The message body, whose shape depends on msg_type.
    public var content: JSON
    /// Raw binary frames after the four dictionaries (used by comms).
    public var buffers: [[UInt8]]

    /// The msg_type, or "" when the header has none.
    public var type: String { header["msg_type"]?.stringValue ?? "" }
    /// The msg_id, or "" when the header has none.
    public var id: String { header["msg_id"]?.stringValue ?? "" }
}

/// Why a multipart message could not be read; logged, never acted on.
enum WireError: Error, CustomStringConvertible {
    case missingDelimiter
    case tooFewFrames(Int)
    case badSignature
    case replayed
    case badJSON(frame: String, JSONParseError)
    case notAnObject(frame: String)
    case missingMessageType

    var description: String {
        switch self {
        case .missingDelimiter: return "no <IDS|MSG> delimiter frame"
        case .tooFewFrames(let n): return "expected at least 5 frames after <IDS|MSG>, got \(n)"
        case .badSignature: return "invalid or missing signature"
        case .replayed: return "duplicate signature (replayed message)"
        case .badJSON(let frame, let error): return "\(frame): \(error)"
        case .notAnObject(let frame): return "\(frame) is not a JSON object"
        case .missingMessageType: return "header has no msg_type"
        }
    }
}

/// Reads and writes the wire format:
/// `ident…, <IDS|MSG>, signature, header, parent_header, metadata, content, buffers…`.
struct WireCodec: Sendable {
    static let delimiter = Array("<IDS|MSG>".utf8)
    let signer: MessageSigner
    let replays: ReplayGuard

    init(key: [UInt8]) {
        signer = MessageSigner(key: key)
        replays = ReplayGuard()
    }

    func decode(_ frames: [[UInt8]]) throws(WireError) -> Message {
        guard let split = frames.firstIndex(of: Self.delimiter) else { throw .missingDelimiter }
        let rest = frames[(split + 1)...]
        guard rest.count >= 5 else { throw .tooFewFrames(rest.count) }
        let signature = rest[rest.startIndex]
        let parts = Array(rest[(rest.startIndex + 1)..<(rest.startIndex + 5)])
        guard signer.isValid(signature, for: parts) else { throw .badSignature }
        if signer.isSigning, !replays.admit(signature) { throw .replayed }
        let names = ["header", "parent_header", "metadata", "content"]
        var dictionaries: [JSON] = []
        for (name, part) in zip(names, parts) {
            let value: JSON
            do { value = try JSON.parse(part) } catch { throw .badJSON(frame: name, error) }
            guard case .object = value else { throw .notAnObject(frame: name) }
            dictionaries.append(value)
        }
        guard dictionaries[0]["msg_type"]?.stringValue != nil else { throw .missingMessageType }
        return Message(
            identities: Array(frames[..<split]),
            header: dictionaries[0], parentHeader: dictionaries[1],
            metadata: dictionaries[2], content: dictionaries[3],
            buffers: Array(rest.dropFirst(5)))
    }

    func encode(_ message: Message) -> [[UInt8]] {
        let parts = [message.header.bytes, message.parentHeader.bytes, message.metadata.bytes, message.content.bytes]
        return message.identities + [Self.delimiter, signer.signature(parts)] + parts + message.buffers
    }
}

/// Makes headers for messages the kernel sends.
struct HeaderFactory: Sendable {
    let session: String
    let username: String

    func header(type: String) -> JSON {
        [
            "msg_id": .string(UUID().uuidString.lowercased()),
            "session": .string(session),
            "username": .string(username),
            "date": .string(Self.timestamp()),
            "msg_type": .string(type),
            "version": .string(protocolVersion),
        ]
    }

    /// Seconds since 1970, as header dates count them.
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Reads a header date ("2026-11-25T11:40:20.123456Z", or with a "+01:00" offset); nil if it is not one.
    static func seconds(fromTimestamp text: String) -> Double? {
        let c = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= c.count else { return nil }
            var n = 0
            for i in range { guard (48...57).contains(c[i]) else { return nil }; n = n * 10 + Int(c[i] - 48) }
            return n
        }
        guard c.count >= 19, let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        var seconds = Double(timegm(&parts))
        var i = 19
        if i < c.count, c[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < c.count, (48...57).contains(c[i]) { seconds += Double(c[i] - 48) * scale; scale /= 10; i += 1 }
        }
        if i + 6 <= c.count, c[i] == UInt8(ascii: "+") || c[i] == UInt8(ascii: "-"),
           let h = number((i + 1)..<(i + 3)), let m = number((i + 4)..<(i + 6)) {
            seconds -= (c[i] == UInt8(ascii: "+") ? 1 : -1) * Double(h * 3600 + m * 60)
        }
        return seconds
    }

    /// ISO 8601 in UTC with microseconds, as Jupyter clients write it.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
            + ".\(pad(now.tv_nsec / 1000, 6))Z"
    }
}
