import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The cooperative cancellation flag. interrupt_request (control channel) and SIGINT both set it;
/// long work polls it at safe points and stops there, so state computed before stays intact.
/// A global because a signal handler can reach nothing else.
let interruptFlag = Atomic<Bool>(false)

/// Reads and sets the process-wide interrupt flag.
public enum Interruption {
    /// Whether an interrupt is pending.
    public static var isRequested: Bool { interruptFlag.load(ordering: .relaxed) }
    /// Sets the flag, as interrupt_request and SIGINT do.
    public static func request() { interruptFlag.store(true, ordering: .relaxed) }
    /// Clears the flag; the kernel does so before each execute_request.
    public static func clear() { interruptFlag.store(false, ordering: .relaxed) }

    /// Routes SIGINT to the flag instead of killing the process.
    public static func installSignalHandler() {
        signal(SIGINT) { _ in interruptFlag.store(true, ordering: .relaxed) }
    }
}
