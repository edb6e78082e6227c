import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// An error from libzmq, with the operation that failed and libzmq's own words.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    /// What was being done, e.g. "bind tcp://127.0.0.1:5555".
    public var operation: String
    /// libzmq's errno value.
    public var code: Int32
    /// The operation and libzmq's message for the code.
    public var description: String { "\(operation): \(String(cString: zmq_strerror(code)))" }

    static func last(_ operation: String) -> ZMQError { ZMQError(operation: operation, code: zmq_errno()) }

    /// The context was terminated: the owning thread should close its socket and return.
    public var isTerminated: Bool { code == ETERM }
}

/// One libzmq context per kernel process.
final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init() throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw .last("zmq_ctx_new") }
        self.handle = handle
    }

    /// Blocks until every socket of the context is closed; blocked calls in other threads return ETERM.
    func terminate() {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

/// A libzmq socket. A socket belongs to one thread at a time (libzmq sockets are not thread-safe);
/// sockets are created and bound on the main thread and handed to their thread when it starts.
final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private var closed = false

    init(_ context: ZMQContext, type: Int32) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type) else { throw .last("zmq_socket") }
        self.handle = handle
    }

    deinit { close() }

    func close() {
        if !closed {
            zmq_close(handle)
            closed = true
        }
    }

    func set(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw .last("zmq_setsockopt(\(option))")
        }
    }

    func set(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw .last("zmq_setsockopt(\(option))") }
    }

    func bind(_ endpoint: String) throws(ZMQError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw .last("bind \(endpoint)") }
    }

    func connect(_ endpoint: String) throws(ZMQError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw .last("connect \(endpoint)") }
    }

    /// Sends a multipart message. Retries on EINTR (SIGINT is one of our interrupt paths).
    func send(_ frames: [[UInt8]]) throws(ZMQError) {
        for (i, frame) in frames.enumerated() {
            let flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
                if rc >= 0 { break }
                if zmq_errno() == EINTR { continue }
                throw .last("zmq_send")
            }
        }
    }

    /// Receives one whole multipart message, blocking.
    func receive() throws(ZMQError) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        repeat {
            while zmq_msg_recv(&message, handle, 0) < 0 {
                if zmq_errno() == EINTR { continue }
                throw .last("zmq_msg_recv")
            }
            let size = zmq_msg_size(&message)
            if let data = zmq_msg_data(&message), size > 0 {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
        } while zmq_msg_more(&message) == 1
        return frames
    }
}

/// Waits until one of `sockets` is readable; returns the readable indices (empty on timeout).
/// `timeout` in milliseconds, -1 for no limit. EINTR counts as a timeout so callers can look at flags.
func poll(_ sockets: [ZMQSocket], timeout: Int) throws(ZMQError) -> [Int] {
    var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    let rc = zmq_poll(&items, Int32(items.count), timeout)
    if rc < 0 {
        if zmq_errno() == EINTR { return [] }
        throw .last("zmq_poll")
    }
    return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
}

extension ZMQSocket {
    /// `receive()` for loops that keep serving after a failed read: the error is logged with the channel's
    /// name (a terminated context quietly, at debug level, since that is how shutdown ends the loops) and nil returned.
    func receive(loggingTo log: Log, channel: String) -> [[UInt8]]? {
        do { return try receive() } catch {
            log(error.isTerminated ? .debug : .error, "\(channel): receive failed: \(error)")
            return nil
        }
    }

    /// `send(_:)` for best-effort signals (wake-ups, stop frames): a failure is logged, not thrown.
    func send(_ frames: [[UInt8]], loggingTo log: Log, channel: String) {
        do { try send(frames) } catch {
            log(error.isTerminated ? .debug : .error, "\(channel): send failed: \(error)")
        }
    }
}
