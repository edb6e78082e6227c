import Testing
@testable import JupyterKernel

@Suite struct WireCodecTests {
    let key = Array("secret-key".utf8)

    func message(_ type: String = "execute_request") -> Message {
        Message(
            identities: [Array("client".utf8)],
            header: HeaderFactory(session: "s", username: "u").header(type: type),
            parentHeader: [:], metadata: [:], content: ["code": "1 + 2"], buffers: [[1, 2, 3]])
    }

    @Test func roundTripsASignedMessageWithIdentitiesAndBuffers() throws {
        let codec = WireCodec(key: key)
        let decoded = try codec.decode(codec.encode(message()))
        #expect(decoded.identities == [Array("client".utf8)])
        #expect(decoded.type == "execute_request")
        #expect(decoded.content == ["code": "1 + 2"])
        #expect(decoded.buffers == [[1, 2, 3]])
    }

    /// The signature must be HMAC-SHA256 of the four dictionaries, hex-encoded, as jupyter_client computes it.
    @Test func signsLikeJupyterClient() {
        let signer = MessageSigner(key: Array("key".utf8))
        // python: hmac.new(b"key", b"{}" b"{}" b"{}" b"{}", hashlib.sha256).hexdigest()
        let expected = "ca767b02c5bc061ed184a9a029e7f93a7f2f7ed4e8fe74120fc1212f0b008fa3"
        #expect(String(decoding: signer.signature([Array("{}".utf8), Array("{}".utf8), Array("{}".utf8), Array("{}".utf8)]), as: UTF8.self) == expected)
    }

    @Test func dropsAWrongSignature() throws {
        let codec = WireCodec(key: key)
        var frames = codec.encode(message())
        frames[2][0] = frames[2][0] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        #expect { try codec.decode(frames) } throws: { "\($0)".contains("signature") }
    }

    @Test func dropsAMissingSignatureWhenAKeyIsSet() throws {
        let codec = WireCodec(key: key)
        var frames = codec.encode(message())
        frames[2] = []
        #expect(throws: WireError.self) { try codec.decode(frames) }
    }

    @Test func rejectsAReplayedMessage() throws {
        let codec = WireCodec(key: key)
        let frames = codec.encode(message())
        _ = try codec.decode(frames)
        #expect { try codec.decode(frames) } throws: { "\($0)".contains("replayed") }
    }

    @Test func acceptsUnsignedMessagesWhenNoKeyIsSet() throws {
        let codec = WireCodec(key: [])
        let frames = codec.encode(message())
        #expect(frames[2].isEmpty)
        _ = try codec.decode(frames)
        _ = try codec.decode(frames)  // no replay guard without signatures
    }

    @Test func explainsMalformedFrames() {
        let codec = WireCodec(key: [])
        #expect { try codec.decode([Array("x".utf8)]) } throws: { "\($0)".contains("delimiter") }
        #expect { try codec.decode([WireCodec.delimiter, [], Array("{}".utf8)]) } throws: { "\($0)".contains("at least 5") }
        let notJSON = [WireCodec.delimiter, [], Array("nope".utf8), Array("{}".utf8), Array("{}".utf8), Array("{}".utf8)]
        #expect { try codec.decode(notJSON) } throws: { "\($0)".contains("header") }
        let notObject = [WireCodec.delimiter, [], Array("[1]".utf8), Array("{}".utf8), Array("{}".utf8), Array("{}".utf8)]
        #expect { try codec.decode(notObject) } throws: { "\($0)".contains("not a JSON object") }
        let noType = [WireCodec.delimiter, [], Array("{}".utf8), Array("{}".utf8), Array("{}".utf8), Array("{}".utf8)]
        #expect { try codec.decode(noType) } throws: { "\($0)".contains("msg_type") }
    }

    @Test func headersCarryProtocolVersionAndAnISODate() throws {
        let header = HeaderFactory(session: "s", username: "u").header(type: "status")
        #expect(header["version"] == "5.4")
        let date = try #require(header["date"]?.stringValue)
        #expect(date.count == 27 && date.hasSuffix("Z") && date.contains("T"))
    }

    @Test func readsHeaderDatesWithFractionsAndOffsets() throws {
        let utc = try #require(HeaderFactory.seconds(fromTimestamp: "2026-11-25T11:40:20.250000Z"))
        #expect(utc == 1_795_606_820.25)
        #expect(HeaderFactory.seconds(fromTimestamp: "2026-11-25T12:40:20.25+01:00") == utc)
        #expect(HeaderFactory.seconds(fromTimestamp: "yesterday") == nil)
        let now = HeaderFactory.now()
        let ours = try #require(HeaderFactory.seconds(fromTimestamp: HeaderFactory.timestamp()))
        #expect(abs(ours - now) < 1)
    }
}
