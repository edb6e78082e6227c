import CZeroMQ
import Foundation
import Synchronization

/// A Jupyter kernel: binds the five channels of a connection file and serves a `KernelBackend`.
///
/// Threads: the caller's thread runs the shell channel (and so the backend, one request at a time);
/// the control channel has its own thread so that interrupt and shutdown are answered while a cell runs;
/// one thread owns iopub (see `IOPubForwarder`); heartbeat echoes in libzmq's proxy on another.
public final class Kernel: @unchecked Sendable {
    /// How `run` ended: a shutdown, or a shutdown the client asked to be followed by a restart.
    public enum Ending: Sendable { case shutdown, restart }

    let backend: KernelBackend
    let log: Log
    let codec: WireCodec
    let headers: HeaderFactory
    private let connection: ConnectionInfo
    private let context: ZMQContext
    private let shell, control, stdinSocket, iopub, heartbeat: ZMQSocket
    private let iopubInbox: ZMQSocket
    private let wake: ZMQSocket
    let shellPublisher: IOPubPublisher
    let stdin: StdinChannel

    var executionCount = 0
    var history = History()
    private let ending = Mutex<Ending?>(nil)

    /// Binds the five channels of `connection` (signing with its key, with CurveZMQ when it has keys); `run` then serves `backend`.
    public init(connection: ConnectionInfo, backend: KernelBackend, log: Log = Log()) throws {
        self.connection = connection
        self.backend = backend
        self.log = log
        codec = WireCodec(key: connection.key)
        let kernelID = UUID().uuidString.lowercased()
        headers = HeaderFactory(session: kernelID, username: "kernel")
        context = try ZMQContext()

        shell = try Self.externalSocket(context, connection, ZMQ_ROUTER, port: connection.shellPort)
        control = try Self.externalSocket(context, connection, ZMQ_ROUTER, port: connection.controlPort)
        stdinSocket = try Self.externalSocket(context, connection, ZMQ_ROUTER, port: connection.stdinPort)
        iopub = try Self.externalSocket(context, connection, ZMQ_XPUB, port: connection.iopubPort)
        heartbeat = try Self.externalSocket(context, connection, ZMQ_REP, port: connection.heartbeatPort)

        iopubInbox = try ZMQSocket(context, type: ZMQ_PULL)
        try iopubInbox.bind(IOPubForwarder.endpoint)
        wake = try ZMQSocket(context, type: ZMQ_PULL)
        try wake.bind(Self.wakeEndpoint)

        let topicPrefix = "kernel.\(kernelID)"
        shellPublisher = try IOPubPublisher(context: context, codec: codec, headers: headers, topicPrefix: topicPrefix, log: log)
        stdin = StdinChannel(socket: stdinSocket, codec: codec, headers: headers, log: log)
        self.topicPrefix = topicPrefix
        log(.info, "listening on \(connection.transport) \(connection.ip), shell port \(connection.shellPort)"
            + (connection.curveSecretKey != nil ? ", CurveZMQ" : "")
            + (connection.key.isEmpty ? ", unsigned" : ""))
        if connection.key.isEmpty {
            // Jupyter allows it, so we accept it; but then anyone who can reach the ports can run code.
            log(.warning, "the connection file's key is empty: messages are not signed, and any process that can reach "
                + "\(connection.transport)://\(connection.ip) can run code in this kernel")
        }
        if connection.transport == "tcp", Self.wildcardAddresses.contains(connection.ip) {
            log(.warning, "listening on every network interface (\(connection.ip)), as the connection file asks")
        }
    }

    /// Addresses that bind every interface; the kernel binds them only when the connection file says so.
    static let wildcardAddresses: Set<String> = ["*", "0.0.0.0", "::", "[::]"]

    private let topicPrefix: String

    private static func externalSocket(_ context: ZMQContext, _ connection: ConnectionInfo, _ type: Int32, port: Int) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, type: type)
        try socket.set(ZMQ_LINGER, 1000)
        if let secret = connection.curveSecretKey {
            try socket.set(ZMQ_CURVE_SERVER, 1)
            try socket.set(ZMQ_CURVE_SECRETKEY, bytes: Array(secret.utf8))
        }
        if connection.ip.contains(":") { try socket.set(ZMQ_IPV6, 1) }
        if type == ZMQ_ROUTER { try socket.set(ZMQ_ROUTER_HANDOVER, 1) }
        if type == ZMQ_XPUB { try socket.set(ZMQ_XPUB_VERBOSE, 1) }
        let endpoint = connection.transport == "tcp" && connection.ip.contains(":")
            ? "tcp://[\(connection.ip)]:\(port)" : connection.endpoint(port: port)
        try socket.bind(endpoint)
        if connection.transport == "ipc" {
            // An ipc socket is a file: only its owner may connect (the umask alone may leave it open to all).
            let path = String(endpoint.dropFirst("ipc://".count))
            if chmod(path, 0o600) != 0 { throw ZMQError(operation: "chmod \(path)", code: errno) }
        }
        return socket
    }

    private static let wakeEndpoint = "inproc://mirage-wake"

    /// Serves until a shutdown request; returns whether the client asked for a restart
    /// (the client starts the new process; we only exit cleanly).
    public func run() throws -> Ending {
        let forwarder = IOPubForwarder(xpub: iopub, inbox: iopubInbox, codec: codec, headers: headers, topicPrefix: topicPrefix, log: log)
        let iopubThread = try KernelThread("iopub") { forwarder.run() }
        let heartbeatSocket = heartbeat
        let heartbeatThread = try KernelThread("heartbeat") {
            // Echo every ping; returns when the context terminates.
            zmq_proxy(heartbeatSocket.handle, heartbeatSocket.handle, nil)
            heartbeatSocket.close()
        }
        let controlPublisher = try IOPubPublisher(context: context, codec: codec, headers: headers, topicPrefix: topicPrefix, log: log)
        let waker = try ZMQSocket(context, type: ZMQ_PUSH)
        try waker.connect(Self.wakeEndpoint)
        let controlThread = try KernelThread("control") { [self] in
            serveControl(publisher: controlPublisher, waker: waker)
        }

        // Publish starting → idle: some clients wait for the first status before sending.
        shellPublisher.status("starting", parent: nil)
        shellPublisher.status("idle", parent: nil)
        serveShell()

        shellPublisher.stopForwarder()
        iopubThread.join()
        shellPublisher.close()
        shell.close()
        stdinSocket.close()
        wake.close()
        context.terminate()
        controlThread.join()
        heartbeatThread.join()
        return ending.withLock { $0 } ?? .shutdown
    }

    // MARK: Shell

    private func serveShell() {
        while ending.withLock({ $0 }) == nil {
            let ready: [Int]
            do { ready = try poll([shell, wake], timeout: -1) } catch {
                log(.error, "shell: \(error)")
                return
            }
            if ready.contains(1) { _ = wake.receive(loggingTo: log, channel: "shell wake-up") }
            if ready.contains(0), let frames = shell.receive(loggingTo: log, channel: "shell"), let message = decode(frames, channel: "shell") {
                handleShell(message)
            }
        }
    }

    func decode(_ frames: [[UInt8]], channel: String) -> Message? {
        do { return try codec.decode(frames) } catch {
            log(.warning, "\(channel): dropped a message: \(error)")
            return nil
        }
    }

    func reply(on socket: ZMQSocket? = nil, to request: Message, _ content: JSON, type: String? = nil) {
        let replyType = type ?? request.type.replacingOccurrences(of: "_request", with: "_reply")
        let message = Message(
            identities: request.identities, header: headers.header(type: replyType),
            parentHeader: request.header, metadata: [:], content: content, buffers: [])
        do { try (socket ?? shell).send(codec.encode(message)) } catch { log(.error, "reply \(replyType): \(error)") }
    }

    /// After an error with stop_on_error: execute requests the client sent before the error reply
    /// (by their header date) are answered "aborted"; anything sent later, and every other request,
    /// is served normally. Requests still in flight are waited for briefly, so a client that sends
    /// several cells at once sees them aborted however the scheduler ordered things.
    func abortExecutions(sentBefore errorTime: Double) {
        while true {
            let ready: [Int]
            do { ready = try poll([shell], timeout: Self.abortWindowMilliseconds) } catch {
                log(.error, "shell: poll failed while aborting queued executions: \(error)")
                return
            }
            if ready.isEmpty { return }
            guard let frames = shell.receive(loggingTo: log, channel: "shell"), let message = decode(frames, channel: "shell") else { continue }
            let sent = message.header["date"]?.stringValue.flatMap(HeaderFactory.seconds(fromTimestamp:))
            guard message.type == "execute_request", (sent ?? errorTime) <= errorTime else {
                handleShell(message)
                continue
            }
            shellPublisher.status("busy", parent: message)
            reply(to: message, ["status": "aborted", "execution_count": .int(executionCount)])
            shellPublisher.status("idle", parent: message)
        }
    }

    /// How long to wait for requests still on their way after an error.
    static let abortWindowMilliseconds = 20

    // MARK: Control

    private func serveControl(publisher: IOPubPublisher, waker: ZMQSocket) {
        defer {
            publisher.close()
            waker.close()
            control.close()
        }
        while true {
            let frames: [[UInt8]]
            do { frames = try control.receive() } catch {
                if !error.isTerminated { log(.error, "control: \(error)") }
                return
            }
            guard let message = decode(frames, channel: "control") else { continue }
            publisher.status("busy", parent: message)
            switch answerOnEitherChannel(message, on: control) {
            case .ending(let how)?:
                publisher.status("idle", parent: message)
                requestEnding(how, waker: waker)
                return
            case .answered?:
                break
            case nil where message.type == "interrupt_request":
                backend.interruptFlag.raise()
                reply(on: control, to: message, ["status": "ok"])
            case nil:
                unknownRequest(message, socket: control)
            }
            publisher.status("idle", parent: message)
        }
    }

    /// What `answerOnEitherChannel` did with a request.
    enum EitherChannelAnswer {
        /// Replied; nothing else to do.
        case answered
        /// Replied to a shutdown_request: the caller passes this to `requestEnding` when its idle status is out.
        case ending(Ending)
    }

    /// Answers the requests the protocol allows on both shell and control, kernel_info and shutdown, the same
    /// way on either (`socket` nil is the shell). Returns nil for any other request, which the caller handles.
    func answerOnEitherChannel(_ message: Message, on socket: ZMQSocket?) -> EitherChannelAnswer? {
        switch message.type {
        case "kernel_info_request":
            reply(on: socket, to: message, kernelInfo)
            return .answered
        case "shutdown_request":
            let restart = message.content["restart"]?.boolValue ?? false
            reply(on: socket, to: message, ["status": "ok", "restart": .bool(restart)])
            return .ending(restart ? .restart : .shutdown)
        default:
            return nil
        }
    }

    /// Stops the shell loop, interrupting the running cell if there is one.
    func requestEnding(_ how: Ending, waker: ZMQSocket?) {
        ending.withLock { $0 = how }
        backend.interruptFlag.raise()
        waker?.send([[1]], loggingTo: log, channel: "shell wake-up")
        log(.info, "shutting down\(how == .restart ? " for restart" : "")")
    }

    func unknownRequest(_ message: Message, socket: ZMQSocket? = nil) {
        log(.warning, "unsupported message type \(message.type)")
        guard message.type.hasSuffix("_request") else { return }
        reply(on: socket, to: message, [
            "status": "error", "ename": "UnsupportedMessage",
            "evalue": .string("the mirage kernel does not handle \(message.type)"), "traceback": [],
        ])
    }

    var kernelInfo: JSON {
        let identity = backend.identity
        return [
            "status": "ok",
            "protocol_version": .string(protocolVersion),
            "implementation": .string(identity.implementation),
            "implementation_version": .string(identity.implementationVersion),
            "language_info": [
                "name": .string(identity.languageName),
                "version": .string(identity.languageVersion),
                "mimetype": .string(identity.mimetype),
                "file_extension": .string(identity.fileExtension),
                "pygments_lexer": .string(identity.pygmentsLexer),
                "codemirror_mode": .string(identity.codemirrorMode),
                "nbconvert_exporter": "script",
            ],
            "banner": .string(identity.banner),
            "help_links": .array(identity.helpLinks.map { ["text": .string($0.text), "url": .string($0.url)] }),
            "debugger": false,
        ]
    }
}
