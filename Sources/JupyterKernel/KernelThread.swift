#if canImport(Glibc)
import Glibc
#endif

/// A joinable OS thread. The kernel needs exactly four long-lived threads (shell on main,
/// control, iopub, heartbeat) and must join them at shutdown, which Foundation's Thread cannot.
final class KernelThread: @unchecked Sendable {
    private var thread = pthread_t()
    private final class Body { let run: () -> Void; init(_ run: @escaping () -> Void) { self.run = run } }

    /// Starts `body` on a new thread; a failure (the process is out of threads or memory) is thrown, naming it.
    init(_ name: String, _ body: @escaping @Sendable () -> Void) throws(ZMQError) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw ZMQError(operation: "starting the \(name) thread (pthread_create)", code: rc)
        }
    }

    func join() { pthread_join(thread, nil) }
}
