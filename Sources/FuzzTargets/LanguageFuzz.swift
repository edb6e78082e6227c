/// The language target: lexer, parser, completion and the interpreter on a sandboxed host.
import Foundation
import Script

enum LanguageFuzz {
    /// Steps (loop iterations, calls) one input may take before the sandbox interrupts it.
    static let stepBudget = 2_000

    /// One thread with a cell's stack, started once: every input runs on it, so the session runs in place instead of
    /// starting a 256 MB-stack thread per call (three per input; under ASan that was most of the time per input).
    static let worker = StackWorker(stackSize: Session.cellStackSize)

    static let target = FuzzTarget("language", "a cell's source through is_complete, completion, inspection and execution (no file access, a step budget)") { bytes in
        worker.run { runOne(bytes) }
    }

    /// One input, on the worker: a fresh session (fresh interpreter state) each time.
    static func runOne(_ bytes: [UInt8]) {
        let source = String(decoding: bytes, as: UTF8.self)
        let session = Session()
        _ = session.completeness(source)
        let length = source.unicodeScalars.count
        let cursor = bytes.isEmpty ? 0 : Int(bytes[0]) % (length + 1)
        _ = session.complete(source, cursor: cursor)
        _ = session.inspect(source, cursor: cursor, detailLevel: 1)
        let host = SandboxHost(stepBudget: stepBudget)
        _ = try? session.execute(source, host: host)
        // The same session again: state left by a failed or interrupted cell must be usable.
        _ = try? session.execute("1 + 1", host: SandboxHost(stepBudget: stepBudget))
    }
}

/// A long-lived thread with a given stack that runs one job at a time for its caller (semaphore hand-off).
final class StackWorker: @unchecked Sendable {
    private let jobReady = DispatchSemaphore(value: 0)
    private let jobDone = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    // Written by the caller before `jobReady` is signalled and read by the worker after it waits: the semaphores order them.
    private var job: (() -> Void)?

    /// Starts the thread.
    init(stackSize: Int) {
        let thread = Thread { [unowned self] in
            while true {
                jobReady.wait()
                job?()
                job = nil
                jobDone.signal()
            }
        }
        thread.stackSize = stackSize
        thread.start()
    }

    /// Runs `body` on the worker and waits for it; callers on several threads take turns.
    func run(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        withoutActuallyEscaping(body) { body in
            job = body
            jobReady.signal()
            jobDone.wait()
        }
    }
}
