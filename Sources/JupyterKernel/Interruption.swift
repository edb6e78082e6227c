import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The cooperative cancellation flag. interrupt_request (control channel) and SIGINT both set it;
/// long work polls it at safe points and stops there, so state computed before stays intact.
/// A global because a signal handler can reach nothing else.
let interruptFlag = Atomic<Bool>(false)

public enum Interruption {
    public static var isRequested: Bool { interruptFlag.load(ordering: .relaxed) }
    public static func request() { interruptFlag.store(true, ordering: .relaxed) }
    public static func clear() { interruptFlag.store(false, ordering: .relaxed) }

    /// Routes SIGINT to the flag instead of killing the process.
    public static func installSignalHandler() {
        signal(SIGINT) { _ in interruptFlag.store(true, ordering: .relaxed) }
    }
}
