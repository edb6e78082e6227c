// Splitting a loop over elements between the machine's two threads for the engine's own element-wise kernels.
import Dispatch

/// Loops the engine writes itself (where oneDNN has no primitive) split over two threads.
enum Parallel {
    /// Splits 0..<count into one range per thread (two when `count` reaches `minimum`, else one) and
    /// runs `body` on them concurrently; returns when every range is done. Callers compute each index
    /// the same way whatever range it falls in, so results do not depend on the split.
    static func split(_ count: Int, minimum: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
        let parts = count >= minimum ? 2 : 1
        let chunk = (count + parts - 1) / parts
        withoutActuallyEscaping(body) { body in
            // Each part works on its own range; the call returns after both are done.
            let part = Part(run: body)
            DispatchQueue.concurrentPerform(iterations: parts) { p in part.run(min(p * chunk, count)..<min((p + 1) * chunk, count)) }
        }
    }

    /// Splits `count` rows of `size` elements each into one range of rows per thread, as `split` splits
    /// their elements (a row goes with the part its first element falls in).
    static func rows(_ count: Int, size: Int, _ body: (Range<Int>) -> Void) {
        split(count * size) { range in
            guard size > 0 else { return body(range.lowerBound == 0 ? 0..<count : 0..<0) }
            body(min((range.lowerBound + size - 1) / size, count)..<min((range.upperBound + size - 1) / size, count))
        }
    }

    private struct Part: @unchecked Sendable { let run: (Range<Int>) -> Void }
}
