// The kernel's concurrent paths on real sockets: interrupt while a cell runs, shutdown while it streams output,
// restart while busy. `scripts/sanitize.sh thread --filter JupyterKernelTests` runs them under ThreadSanitizer.
import CZeroMQ
import Foundation
import Synchronization
import Testing
@testable import JupyterKernel

/// A cell that streams a line every millisecond until interrupted (or 20 s pass).
private final class StreamingBackend: KernelBackend {
    let identity = KernelIdentity(implementation: "test", implementationVersion: "0", languageName: "test", languageVersion: "0",
                                  mimetype: "text/plain", fileExtension: ".txt", pygmentsLexer: "text", codemirrorMode: "text", banner: "")
    let interruptFlag = InterruptFlag()

    func execute(_ code: String, context: ExecutionContext) -> ExecutionOutcome {
        if code == "quick" { return .ok(result: .text("done")) }
        var n = 0
        while !context.isInterrupted, n < 20_000 {
            context.stream(.stdout, "tick \(n)\n")
            context.display(.text("\(n)"), displayID: "progress", update: n > 0)
            usleep(1000)
            n += 1
        }
        return context.isInterrupted ? .error(name: "KeyboardInterrupt", value: "interrupted", traceback: []) : .ok(result: nil)
    }
    func evaluate(expression: String, context: ExecutionContext) -> ExecutionOutcome { .ok(result: nil) }
    func complete(_ code: String, cursor: Int) -> CompletionResult { CompletionResult(matches: [], cursorStart: cursor, cursorEnd: cursor) }
    func inspect(_ code: String, cursor: Int, detailLevel: Int) -> MimeBundle? { nil }
    func isComplete(_ code: String) -> CodeCompleteness { .complete }
}

/// A kernel on ipc sockets in a temporary directory, served on its own thread, and a client for it.
private final class RunningKernel: @unchecked Sendable {
    let codec = WireCodec(key: Array("key".utf8))
    let headers = HeaderFactory(session: "client", username: "test")
    let context: ZMQContext
    let shell, control, iopub: ZMQSocket
    let ending = Mutex<Kernel.Ending?>(nil)
    let finished = DispatchSemaphore(value: 0)
    private var thread: KernelThread?

    init() throws {
        let base = NSTemporaryDirectory() + "mirage-kernel-\(UUID().uuidString.prefix(8))"
        let connection = try ConnectionInfo(json: [
            "transport": "ipc", "ip": .string(base), "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
            "control_port": 4, "hb_port": 5, "key": "key", "signature_scheme": "hmac-sha256",
        ])
        let kernel = try Kernel(connection: connection, backend: StreamingBackend(), log: Log(level: .error))
        context = try ZMQContext()
        shell = try ZMQSocket(context, type: ZMQ_DEALER)
        control = try ZMQSocket(context, type: ZMQ_DEALER)
        iopub = try ZMQSocket(context, type: ZMQ_SUB)
        try iopub.set(ZMQ_SUBSCRIBE, bytes: [])
        for (socket, port) in [(shell, 1), (control, 4), (iopub, 2)] {
            try socket.set(ZMQ_LINGER, 0)
            try socket.connect(connection.endpoint(port: port))
        }
        thread = try KernelThread("kernel under test") { [self] in
            let how = try? kernel.run()
            ending.withLock { $0 = how }
            finished.signal()
        }
        // The kernel publishes "starting" then "idle"; wait until iopub is connected and carries it.
        #expect(wait(on: iopub, seconds: 10) { _ in true } != nil, "no iopub message from the kernel")
    }

    func send(_ type: String, _ content: JSON, on socket: ZMQSocket) throws -> String {
        let header = headers.header(type: type)
        try socket.send(codec.encode(Message(identities: [], header: header, parentHeader: [:], metadata: [:], content: content, buffers: [])))
        return header["msg_id"]?.stringValue ?? ""
    }

    /// The first message on `socket` within `seconds` that `accept` takes.
    func wait(on socket: ZMQSocket, seconds: Double, _ accept: (Message) -> Bool) -> Message? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard let ready = try? poll([socket], timeout: 50), !ready.isEmpty, let frames = try? socket.receive() else { continue }
            let decoder = WireCodec(key: Array("key".utf8))
            if let message = try? decoder.decode(frames), accept(message) { return message }
        }
        return nil
    }

    func reply(to id: String, on socket: ZMQSocket, seconds: Double = 10) -> Message? {
        wait(on: socket, seconds: seconds) { $0.parentHeader["msg_id"]?.stringValue == id }
    }

    func waitForOutput(of id: String) -> Bool {
        wait(on: iopub, seconds: 10) { $0.type == "stream" && $0.parentHeader["msg_id"]?.stringValue == id } != nil
    }

    /// Waits for `run()` to return; nil if it did not within `seconds`.
    func end(seconds: Double = 15) -> Kernel.Ending? {
        guard finished.wait(timeout: .now() + seconds) == .success else { return nil }
        thread?.join()
        shell.close(); control.close(); iopub.close()
        context.terminate()
        return ending.withLock { $0 }
    }
}

@Suite(.serialized) struct ConcurrencyTests {
    @Test func interruptFromTheControlThreadStopsTheRunningCell() throws {
        let kernel = try RunningKernel()
        let id = try kernel.send("execute_request", ["code": "loop", "silent": false], on: kernel.shell)
        #expect(kernel.waitForOutput(of: id))
        _ = try kernel.send("interrupt_request", [:], on: kernel.control)
        let reply = try #require(kernel.reply(to: id, on: kernel.shell, seconds: 5))
        #expect(reply.content["status"]?.stringValue == "error")
        #expect(reply.content["ename"]?.stringValue == "KeyboardInterrupt")
        // The flag is lowered for the next cell, which runs to the end.
        let next = try kernel.send("execute_request", ["code": "quick"], on: kernel.shell)
        #expect(kernel.reply(to: next, on: kernel.shell)?.content["status"]?.stringValue == "ok")
        _ = try kernel.send("shutdown_request", ["restart": false], on: kernel.control)
        #expect(kernel.end() == .shutdown)
    }

    @Test func shutdownWhileACellStreamsOutput() throws {
        let kernel = try RunningKernel()
        let id = try kernel.send("execute_request", ["code": "loop"], on: kernel.shell)
        #expect(kernel.waitForOutput(of: id))
        let shutdown = try kernel.send("shutdown_request", ["restart": false], on: kernel.control)
        #expect(kernel.reply(to: shutdown, on: kernel.control)?.content["status"]?.stringValue == "ok")
        #expect(kernel.end() == .shutdown, "run() did not return after shutdown while the cell was streaming")
    }

    @Test func restartWhileBusy() throws {
        let kernel = try RunningKernel()
        let ids = try (0..<5).map { _ in try kernel.send("execute_request", ["code": "loop"], on: kernel.shell) }
        #expect(kernel.waitForOutput(of: ids[0]))
        let restart = try kernel.send("shutdown_request", ["restart": true], on: kernel.control)
        #expect(kernel.reply(to: restart, on: kernel.control)?.content["restart"]?.boolValue == true)
        #expect(kernel.end() == .restart)
    }

    /// An interrupt that arrives while the cell it was sent after still waits its turn is not lost.
    @Test func manyInterruptsRacingCellStarts() throws {
        let kernel = try RunningKernel()
        for _ in 0..<20 {
            let id = try kernel.send("execute_request", ["code": "loop"], on: kernel.shell)
            usleep(UInt32.random(in: 0..<3000))
            // Sent after the cell, the interrupt stops it even when it lands before the cell starts.
            _ = try kernel.send("interrupt_request", [:], on: kernel.control)
            let reply = kernel.reply(to: id, on: kernel.shell, seconds: 5)
            #expect(reply?.content["ename"]?.stringValue == "KeyboardInterrupt")
        }
        _ = try kernel.send("shutdown_request", [:], on: kernel.control)
        #expect(kernel.end() == .shutdown)
    }
}
