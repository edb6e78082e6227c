/// The memory limit: large allocations are checked against it and fail with a MemoryError instead of killing the process.
import Foundation
import Synchronization

/// An allocation that would take the process past its memory limit (see `MemoryLimit`).
public struct MemoryError: Error, CustomStringConvertible, Sendable {
    /// What was being allocated ("an activation of shape [4096, 32, 28, 28]").
    public var what: String
    /// Bytes it needed.
    public var requested: Int
    /// Bytes already held by tracked allocations.
    public var inUse: Int
    /// The limit.
    public var limit: Int

    /// "WHAT needs N on top of M in use, over the memory limit of L (set MIRAGE_MEMORY_LIMIT to change it)".
    public var description: String {
        "\(what) needs \(MemoryLimit.format(requested))"
            + (inUse > 0 ? " on top of \(MemoryLimit.format(inUse)) in use" : "")
            + ", over the memory limit of \(MemoryLimit.format(limit))"
            + " (set \(MemoryLimit.environmentVariable) to change it)"
    }
}

/// How much memory Mirage's large allocations may take: `MIRAGE_MEMORY_LIMIT` (bytes, or with a K, M, G or T
/// suffix, powers of 1024) when set, else 80% of the machine's memory (or of the cgroup's limit, if lower).
/// Engine activations are tracked while they live; model initializers and single tensors are checked as
/// they are made. A request past the limit throws `MemoryError`; the process keeps serving.
public enum MemoryLimit {
    /// The environment variable that overrides the limit.
    public static let environmentVariable = "MIRAGE_MEMORY_LIMIT"

    /// The limit in bytes.
    public static let bytes: Int = {
        if let text = ProcessInfo.processInfo.environment[environmentVariable], let value = parse(text) { return value }
        var machine = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let cgroup = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), cgroup > 0 {
            machine = min(machine, cgroup)
        }
        return machine / 10 * 8
    }()

    private static let tracked = Atomic<Int>(0)

    /// Bytes held by tracked allocations now.
    public static var inUse: Int { tracked.load(ordering: .relaxed) }

    /// Throws if one allocation of `elements` × `elementSize` bytes would exceed the limit with what is in use.
    public static func check(elements: Int, elementSize: Int = 4, what: @autoclosure () -> String) throws(MemoryError) {
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
        let held = inUse
        if overflow || elements < 0 || bytes > limit(minus: held) {
            throw MemoryError(what: what(), requested: overflow || elements < 0 ? Int.max : bytes, inUse: held, limit: Self.bytes)
        }
    }

    /// Like `check`, and counts the bytes as in use until `release`.
    public static func reserve(_ bytes: Int, what: @autoclosure () -> String) throws(MemoryError) {
        let after = tracked.add(bytes, ordering: .relaxed).newValue
        if bytes < 0 || after > Self.bytes || after < 0 {
            tracked.subtract(bytes, ordering: .relaxed)
            throw MemoryError(what: what(), requested: bytes, inUse: after - bytes, limit: Self.bytes)
        }
    }

    /// Returns bytes taken by `reserve`.
    public static func release(_ bytes: Int) {
        tracked.subtract(bytes, ordering: .relaxed)
    }

    private static func limit(minus held: Int) -> Int { max(0, Self.bytes - held) }

    /// "12", "512M", "2G", "1.5T" → bytes; nil for anything else.
    static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var number = Substring(trimmed)
        var scale = 1.0
        if let last = trimmed.last, let unit = units[last] { scale = unit; number = number.dropLast() }
        if number.hasSuffix("B") || number.hasSuffix("I") { return nil }
        guard let value = Double(number), value > 0, value * scale < 9e18 else { return nil }
        return Int(value * scale)
    }

    /// "1.5 GB" (powers of 1000), for messages.
    public static func format(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than 9 EB" }
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}

extension Tensor {
    /// Elements of `shape`, or nil when a dimension is negative or the product overflows Int
    /// (shapes read from files and models must not trap).
    public static func checkedElementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            count = product
        }
        return count
    }
}
