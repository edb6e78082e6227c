/// What a running cell can do besides return a value: write streams, display rich output
/// (optionally under a display id, updated in place), clear output, page help, ask for input,
/// and look at the interrupt flag. Given to the backend for one execute_request.
public final class ExecutionContext {
    /// The execution count of this request (shown as In [n]).
    public let executionCount: Int
    /// silent=true: nothing goes to iopub (the spec's "as quietly as possible").
    public let isSilent: Bool
    let parent: Message
    private let publisher: IOPubPublisher
    private let stdin: StdinChannel
    private let allowStdin: Bool
    private(set) var payloads: [JSON] = []
    private let interruptFlag: InterruptFlag

    init(executionCount: Int, isSilent: Bool, parent: Message, publisher: IOPubPublisher, stdin: StdinChannel, allowStdin: Bool,
         interruptFlag: InterruptFlag) {
        self.interruptFlag = interruptFlag
        self.executionCount = executionCount
        self.isSilent = isSilent
        self.parent = parent
        self.publisher = publisher
        self.stdin = stdin
        self.allowStdin = allowStdin
    }

    /// Long work checks this at safe points and stops there (interrupt_request or SIGINT).
    public var isInterrupted: Bool { interruptFlag.isRaised }

    /// Writes `text` to the cell's stdout or stderr (nothing when the request is silent).
    public func stream(_ name: StreamName, _ text: String) {
        guard !isSilent, !text.isEmpty else { return }
        publisher.publish("stream", ["name": .string(name.rawValue), "text": .string(text)], parent: parent)
    }

    /// With a `displayID`, later calls with `update: true` replace this output in place
    /// (live progress of long cells).
    public func display(_ bundle: MimeBundle, displayID: String? = nil, update: Bool = false) {
        guard !isSilent else { return }
        var content: [String: JSON] = ["data": .object(bundle.data), "metadata": .object(bundle.metadata)]
        if let displayID { content["transient"] = ["display_id": .string(displayID)] }
        publisher.publish(update && displayID != nil ? "update_display_data" : "display_data", .object(content), parent: parent)
    }

    /// Clears the cell's output; with `wait`, only when the next output arrives (no flicker).
    public func clearOutput(wait: Bool = false) {
        guard !isSilent else { return }
        publisher.publish("clear_output", ["wait": .bool(wait)], parent: parent)
    }

    /// Shown by the client's pager (the execute_reply `page` payload).
    public func page(_ bundle: MimeBundle) {
        payloads.append(["source": "page", "data": .object(bundle.data), "start": 0])
    }

    /// Asks the client for a line on the stdin channel; waits until it answers or the cell is interrupted.
    public func input(prompt: String, password: Bool = false) throws(InputError) -> String {
        guard allowStdin else { throw .notAllowed }
        return try stdin.request(prompt: prompt, password: password, parent: parent, interrupt: interruptFlag)
    }
}

/// The stdin ROUTER socket, used only from the shell thread while a cell runs.
final class StdinChannel {
    private let socket: ZMQSocket
    private let codec: WireCodec
    private let headers: HeaderFactory
    private let log: Log

    init(socket: ZMQSocket, codec: WireCodec, headers: HeaderFactory, log: Log) {
        self.socket = socket
        self.codec = codec
        self.headers = headers
        self.log = log
    }

    func request(prompt: String, password: Bool, parent: Message, interrupt: InterruptFlag) throws(InputError) -> String {
        // The client's stdin socket has the same routing identity as its shell socket.
        let request = Message(
            identities: parent.identities, header: headers.header(type: "input_request"),
            parentHeader: parent.header, metadata: [:],
            content: ["prompt": .string(prompt), "password": .bool(password)], buffers: [])
        do { try socket.send(codec.encode(request)) } catch {
            log(.error, "stdin: \(error)")
            throw .notAllowed
        }
        while true {
            if interrupt.isRaised { throw .interrupted }
            let ready: [Int]
            do { ready = try poll([socket], timeout: 50) } catch { throw .interrupted }
            guard !ready.isEmpty, let frames = socket.receive(loggingTo: log, channel: "stdin") else { continue }
            do {
                let reply = try codec.decode(frames)
                guard reply.type == "input_reply" else {
                    log(.warning, "stdin: ignoring \(reply.type)")
                    continue
                }
                return reply.content["value"]?.stringValue ?? ""
            } catch {
                log(.warning, "stdin: dropped message: \(error)")
            }
        }
    }
}
