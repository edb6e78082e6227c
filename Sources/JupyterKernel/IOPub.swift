import CZeroMQ

/// IOPub fan-out. libzmq sockets are single-threaded, yet both the shell and the control threads
/// publish; so each publisher pushes signed frames over inproc to one thread that owns the XPUB socket.
/// XPUB (rather than PUB) lets that thread see subscriptions and greet each new subscriber with
/// `iopub_welcome` (protocol 5.4), which tells a client that its subscription is live.
final class IOPubForwarder: @unchecked Sendable {
    static let endpoint = "inproc://mirage-iopub"
    static let stopFrame: [UInt8] = Array("STOP".utf8)

    private let xpub: ZMQSocket
    private let inbox: ZMQSocket
    private let codec: WireCodec
    private let headers: HeaderFactory
    private let topicPrefix: String
    private let log: Log

    init(xpub: ZMQSocket, inbox: ZMQSocket, codec: WireCodec, headers: HeaderFactory, topicPrefix: String, log: Log) {
        self.xpub = xpub
        self.inbox = inbox
        self.codec = codec
        self.headers = headers
        self.topicPrefix = topicPrefix
        self.log = log
    }

    func run() {
        defer {
            inbox.close()
            xpub.close()
        }
        while true {
            do {
                let ready = try poll([inbox, xpub], timeout: -1)
                if ready.contains(1) { try greet(try xpub.receive()) }
                if ready.contains(0) {
                    let frames = try inbox.receive()
                    if frames == [Self.stopFrame] { return }
                    try xpub.send(frames)
                }
            } catch {
                if !error.isTerminated { log(.error, "iopub: \(error)") }
                return
            }
        }
    }

    /// A subscription frame is 0x01 followed by the topic; unsubscriptions (0x00) need no answer.
    private func greet(_ frames: [[UInt8]]) throws(ZMQError) {
        guard let frame = frames.first, frame.first == 1 else { return }
        let topic = Array(frame.dropFirst())
        log(.debug, "iopub: new subscription \"\(String(decoding: topic, as: UTF8.self))\"")
        let welcome = Message(
            identities: [topic.isEmpty ? Array("\(topicPrefix).iopub_welcome".utf8) : topic],
            header: headers.header(type: "iopub_welcome"), parentHeader: [:], metadata: [:],
            content: ["subscription": .string(String(decoding: topic, as: UTF8.self))], buffers: [])
        try xpub.send(codec.encode(welcome))
    }
}

/// One per publishing thread: signs a message and hands it to the forwarder.
final class IOPubPublisher: @unchecked Sendable {
    private let push: ZMQSocket
    private let codec: WireCodec
    private let headers: HeaderFactory
    private let topicPrefix: String
    private let log: Log

    init(context: ZMQContext, codec: WireCodec, headers: HeaderFactory, topicPrefix: String, log: Log) throws(ZMQError) {
        push = try ZMQSocket(context, type: ZMQ_PUSH)
        try push.set(ZMQ_LINGER, 1000)
        try push.connect(IOPubForwarder.endpoint)
        self.codec = codec
        self.headers = headers
        self.topicPrefix = topicPrefix
        self.log = log
    }

    func publish(_ type: String, _ content: JSON, parent: Message?, metadata: JSON = [:]) {
        let message = Message(
            identities: [Array("\(topicPrefix).\(type)".utf8)],
            header: headers.header(type: type), parentHeader: parent?.header ?? [:],
            metadata: metadata, content: content, buffers: [])
        do { try push.send(codec.encode(message)) } catch { log(.error, "iopub \(type): \(error)") }
    }

    func status(_ state: String, parent: Message?) {
        publish("status", ["execution_state": .string(state)], parent: parent)
    }

    func stopForwarder() {
        push.send([IOPubForwarder.stopFrame], loggingTo: log, channel: "iopub")
    }

    func close() { push.close() }
}
