// Where a session runs a cell: on a large-stack thread of its own, or in place on a caller's thread that has one.
import Foundation
import Script
import Testing

/// Records the thread each `print` ran on (its pthread id: holding `Thread` objects in the closures below would make
/// a retain cycle, thread → block → captured variable → thread, that LeakSanitizer rightly reports).
private final class ThreadRecordingHost: ScriptHost, @unchecked Sendable {
    var threads: [pthread_t] = []
    func write(_ text: String, to stream: OutputStreamName) { threads.append(pthread_self()) }
    func display(_ output: RichOutput, displayID: String?, update: Bool) {}
    func clearOutput(wait: Bool) {}
    func page(_ output: RichOutput) {}
    func readInput(prompt: String, password: Bool) throws -> String { "" }
    var isInterrupted: Bool { false }
    var allowsFileAccess: Bool { false }
}

/// Runs `body` on a new `Thread` with `stackSize` and waits for it.
private func onThread(stackSize: Int, _ body: @escaping @Sendable () -> Void) {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread { body(); done.signal() }
    thread.stackSize = stackSize
    thread.start()
    done.wait()
}

@Suite struct LargeStackTests {
    /// Recursion near the call-depth limit, which needs the large stack in a debug build; its value is 1.
    static let deep = "def f(n):\n    if n == 0:\n        return 1\n    return f(n - 1)\nf(190)"

    @Test func aSmallStackCallerGetsAThreadOfItsOwn() {
        nonisolated(unsafe) var ran: [pthread_t] = []
        nonisolated(unsafe) var caller: pthread_t?
        nonisolated(unsafe) var value: String?
        onThread(stackSize: 1 << 20) {
            let host = ThreadRecordingHost()
            caller = pthread_self()
            value = (try? Session().execute("print(1)\n" + Self.deep, host: host))?.plain
            ran = host.threads
        }
        #expect(ran.count == 1)
        #expect(ran.first != caller, "the cell ran on the 1 MB caller's thread")
        #expect(value == "1")
    }

    @Test func aCallerWithTheCellStackRunsCellsInPlace() {
        nonisolated(unsafe) var ran: [pthread_t] = []
        nonisolated(unsafe) var caller: pthread_t?
        nonisolated(unsafe) var values: [String?] = []
        onThread(stackSize: Session.cellStackSize) {
            caller = pthread_self()
            for _ in 0..<3 {
                let host = ThreadRecordingHost()
                let session = Session()
                values.append((try? session.execute("print(1)\n" + Self.deep, host: host))?.plain)
                ran += host.threads
            }
        }
        #expect(ran.count == 3)
        #expect(caller != nil && ran.allSatisfy { $0 == caller }, "a thread was started although the caller has the cell's stack")
        #expect(values == ["1", "1", "1"])
    }
}
