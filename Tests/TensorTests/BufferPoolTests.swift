/// Tests of the pool oneDNN tensors' buffers return to: reuse, its bound, zeroed padding.
import CDNNL
import Testing
@testable import Tensor

@Suite struct BufferPoolTests {
    @Test func aDeadTensorsBufferServesTheNextOfItsSize() throws {
        let pool = BufferPool()
        let layout = try DNNLLayout.plain([1000])
        let first = pool.take(size: 4000, layout: layout)
        pool.give(first, size: 4000, layout: layout)
        let second = pool.take(size: 3990, layout: layout)          // same size class
        #expect(second == first)
        let third = pool.take(size: 4000, layout: layout)           // `second` is live: a new buffer
        #expect(third != second)
        #expect(pool.bytes.live == 2 * BufferPool.sizeClass(4000) && pool.bytes.pooled == 0)
        pool.give(second, size: 3990, layout: layout)
        pool.give(third, size: 4000, layout: layout)
        pool.drain()
        #expect(pool.bytes == (0, 0))
    }

    @Test func sizeClassesAreAtMostAnEighthLarger() {
        var previous = 0
        for size in stride(from: 1, to: 3_000_000, by: 997) {
            let c = BufferPool.sizeClass(size)
            #expect(c >= size && c <= max(64, size + size / 8 + 64) && c >= previous)
            previous = c
        }
    }

    @Test func pooledAndLiveStayWithinThePeakAndAnEighth() throws {
        let pool = BufferPool()
        let layout = try DNNLLayout.plain([1])
        var generator = SeededGenerator(seed: 5)
        var live: [(UnsafeMutableRawPointer, Int)] = []
        var peak = 0
        for _ in 0..<2000 {
            if live.isEmpty || Int.random(in: 0..<3, using: &generator) > 0 && live.count < 40 {
                let size = Int.random(in: 1...200_000, using: &generator)
                live.append((pool.take(size: size, layout: layout), size))
            } else {
                let (pointer, size) = live.remove(at: Int.random(in: 0..<live.count, using: &generator))
                pool.give(pointer, size: size, layout: layout)
            }
            let (pooled, inUse) = pool.bytes
            peak = max(peak, inUse)
            #expect(pooled + inUse <= peak + peak / 8)
        }
        for (pointer, size) in live { pool.give(pointer, size: size, layout: layout) }
        pool.drain()
    }

    @Test func aBufferReusedForAPaddedLayoutStartsAtZero() throws {
        let pool = BufferPool()
        var dims: [dnnl_dim_t] = [1, 3, 4, 4]
        var blocked = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_tag(&blocked, 4, &dims, dnnl_f32, dnnl_nChw16c), "describing a blocked layout")
        #expect(BufferPool.hasPadding(blocked))
        let size = dnnl_memory_desc_get_size(&blocked)                   // 16 channels stored for 3
        let plain = try DNNLLayout.plain([size / 4])
        #expect(!BufferPool.hasPadding(plain))
        let buffer = pool.take(size: size, layout: plain)
        buffer.initializeMemory(as: Float.self, repeating: 7, count: size / 4)
        pool.give(buffer, size: size, layout: plain)
        let reused = pool.take(size: size, layout: blocked)
        #expect(reused == buffer)
        #expect(UnsafeBufferPointer(start: reused.assumingMemoryBound(to: Float.self), count: size / 4).allSatisfy { $0 == 0 })
        pool.give(reused, size: size, layout: blocked)
        pool.drain()
    }
}
