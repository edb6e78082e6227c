/// The interrupt flag: owned by the backend that honours it, raised by interrupt_request, shutdown and SIGINT.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Cooperative cancellation. The control thread (interrupt_request, shutdown) or a signal raises it while a
/// cell runs on the shell thread; long work polls it at safe points and stops there, so state computed
/// before stays intact. The backend owns its flag (see `KernelBackend.interruptFlag`); the kernel lowers
/// it when a cell starts, unless the interrupt came after that cell was sent (then it is meant for it).
public final class InterruptFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    /// When it was last raised: seconds since 1970 as a Double's bit pattern.
    private let raisedAt = Atomic<UInt64>(0)

    /// A lowered flag.
    public init() {}

    /// Whether an interrupt is pending.
    public var isRaised: Bool { raised.load(ordering: .acquiring) }
    /// Asks the running work to stop at its next safe point.
    public func raise() {
        raisedAt.store(HeaderFactory.now().bitPattern, ordering: .relaxed)
        raised.store(true, ordering: .releasing)
    }
    /// Clears a pending interrupt.
    public func lower() { raised.store(false, ordering: .releasing) }

    /// Clears a pending interrupt raised before `sent` (seconds since 1970; nil: clear it anyway). An
    /// interrupt that arrived after the client sent a cell, while the cell waited its turn, stops that cell.
    public func lower(unlessRaisedAfter sent: Double?) {
        if let sent, isRaised, Double(bitPattern: raisedAt.load(ordering: .relaxed)) > sent { return }
        lower()
    }

    /// Routes SIGINT to this flag instead of killing the process. A signal handler can reach only a global,
    /// so the global holds the one flag that receives signals (retained for the process's life).
    public func receivesSIGINT() {
        let address = UInt(bitPattern: Unmanaged.passRetained(self).toOpaque())
        let previous = signalReceiver.exchange(address, ordering: .acquiringAndReleasing)
        if let previous = UnsafeMutableRawPointer(bitPattern: previous) { Unmanaged<InterruptFlag>.fromOpaque(previous).release() }
        signal(SIGINT) { _ in
            guard let receiver = UnsafeMutableRawPointer(bitPattern: signalReceiver.load(ordering: .acquiring)) else { return }
            // No retain or release in the handler: the flag stays retained by the global.
            Unmanaged<InterruptFlag>.fromOpaque(receiver)._withUnsafeGuaranteedRef { $0.raise() }
        }
    }
}

/// The address of the flag SIGINT raises (0: none).
private let signalReceiver = Atomic<UInt>(0)
