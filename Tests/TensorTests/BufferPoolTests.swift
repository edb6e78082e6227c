/// Tests of the pool oneDNN tensors' buffers return to: reuse, freeing what a step did not use, zeroed padding.
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

    @Test func aBufferNoStepTookIsFreedAfterAWholeStep() throws {
        let pool = BufferPool()
        let layout = try DNNLLayout.plain([1])
        let (small, large) = (BufferPool.sizeClass(1000), BufferPool.sizeClass(50_000))
        func step(sizes: [Int]) {
            pool.newStep()
            let taken = sizes.map { pool.take(size: $0, layout: layout) }
            for (pointer, size) in zip(taken, sizes) { pool.give(pointer, size: size, layout: layout) }
        }
        step(sizes: [1000, 1000, 50_000])
        #expect(pool.bytes == (2 * small + large, 0))
        step(sizes: [1000, 1000])                 // the large one sat out one step: still pooled
        #expect(pool.bytes == (2 * small + large, 0))
        step(sizes: [1000])                       // and now a whole step: freed; one small one sat out a step
        #expect(pool.bytes == (2 * small, 0))
        step(sizes: [1000])
        #expect(pool.bytes == (small, 0))
        pool.drain()
        #expect(pool.bytes == (0, 0))
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
