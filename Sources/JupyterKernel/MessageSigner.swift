@preconcurrency import Crypto
import Synchronization

/// HMAC-SHA256 over header, parent_header, metadata and content, as the messaging spec requires.
struct MessageSigner: Sendable {
    private let key: SymmetricKey?

    init(key: [UInt8]) {
        self.key = key.isEmpty ? nil : SymmetricKey(data: key)
    }

    var isSigning: Bool { key != nil }

    func signature(_ parts: [[UInt8]]) -> [UInt8] {
        guard let key else { return [] }
        var hmac = HMAC<SHA256>(key: key)
        for part in parts { hmac.update(data: part) }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in hmac.finalize() {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return out
    }

    /// Constant-time comparison: timing must not reveal how much of a forged signature is right.
    func isValid(_ signature: [UInt8], for parts: [[UInt8]]) -> Bool {
        guard isSigning else { return true }
        let expected = self.signature(parts)
        guard signature.count == expected.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<expected.count { difference |= signature[i] ^ expected[i] }
        return difference == 0
    }
}

/// Refuses a signature already seen: whoever captures a signed message could otherwise make
/// the kernel act on it again. Shared by the shell and control threads, hence the lock.
final class ReplayGuard: Sendable {
    /// As ipykernel: enough for any realistic replay window, bounded for memory.
    static let limit = 1 << 16
    private let state = Mutex(State())

    private struct State {
        var seen: Set<[UInt8]> = []
        var order: [[UInt8]] = []
        var oldest = 0
    }

    /// True the first time a signature is offered.
    func admit(_ signature: [UInt8]) -> Bool {
        state.withLock { s in
            guard s.seen.insert(signature).inserted else { return false }
            s.order.append(signature)
            if s.seen.count > Self.limit {
                s.seen.remove(s.order[s.oldest])
                s.oldest += 1
                if s.oldest >= Self.limit {
                    s.order.removeFirst(s.oldest)
                    s.oldest = 0
                }
            }
            return true
        }
    }
}
