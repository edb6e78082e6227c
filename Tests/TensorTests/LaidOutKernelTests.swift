import Testing
@testable import Tensor

/// Kernels chained on laid-out tensors (oneDNN's blocked layouts, no reorder between them) give
/// what the plain path gives, forward and backward.
@Suite struct LaidOutKernelTests {
    let geometry = ConvolutionGeometry(input: [2, 16, 8, 8], weight: [32, 16, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                       padsBegin: [1, 1], padsEnd: [1, 1])

    @Test func fusedReLUConvolutionMatchesConvolutionThenMax() throws {
        let w = random(geometry.weight, seed: 10), b = random([32], seed: 11), x = random(geometry.input, seed: 12)
        let fused = try ConvolutionKernel(geometry, weight: w, bias: b, fusedReLU: true)
        let plain = try ConvolutionKernel(geometry, weight: w, bias: b)
        let y = try fused.forward(.plain(x))
        #expect(!y.isPlain)                                             // 32 channels: oneDNN blocks them
        let expected = try plain.forward(x).map { max(0, $0) }
        #expect(maxDifference(y.plain(), expected) == 0)
        // Backward: dy · [y > 0] through the convolution's backward-data.
        let dy = random(geometry.output, seed: 13)
        let dz = try fused.preActivationGradient(.plain(dy), output: .laidOut(y))
        let dx = try fused.backwardData(dz).plain()
        let masked = Tensor(shape: dy.shape, data: zip(dy.data, expected.data).map { $1 > 0 ? $0 : 0 })
        #expect(maxDifference(dx, try plain.backwardData(masked)) < 1e-5)
    }

    @Test func convolutionReLUPoolingChainStaysBlocked() throws {
        let w = random(geometry.weight, seed: 20), x = random(geometry.input, seed: 21)
        let conv = try ConvolutionKernel(geometry, weight: w, bias: nil)
        let z = try conv.forward(.plain(x))
        let relu = try ReLUKernel(for: .laidOut(z))
        let y = try relu.forward(.laidOut(z))
        let pool = try PoolingKernel(input: geometry.output, kind: .max, kernel: [2, 2], strides: [2, 2], dilations: [1, 1],
                                     padsBegin: [0, 0], padsEnd: [0, 0], layoutOf: .laidOut(y))
        let p = try pool.forward(.laidOut(y))
        #expect(pool.fits(.laidOut(y)) && !p.isPlain)
        // The same on plain tensors, kernel by kernel.
        let plainPool = try PoolingKernel(input: geometry.output, kind: .max, kernel: [2, 2], strides: [2, 2], dilations: [1, 1],
                                          padsBegin: [0, 0], padsEnd: [0, 0])
        let yPlain = try conv.forward(x).map { max(0, $0) }
        #expect(maxDifference(p.plain(), try plainPool.forward(yPlain)) == 0)
        let dp = random(p.shape, seed: 22)
        let dyBlocked = try relu.backward(.laidOut(try pool.backward(.plain(dp))), output: .laidOut(y))
        let dyPlain = try plainPool.backward(dp)
        #expect(maxDifference(dyBlocked.plain(), Tensor(shape: dyPlain.shape, data: zip(dyPlain.data, yPlain.data).map { $1 > 0 ? $0 : 0 })) == 0)
    }

    /// 24 channels in blocks of 16 (12 in blocks of 8 on AVX2) leave padded channels, where oneDNN's HardSwish
    /// backward has only its reference loops; the kernel runs that backward over the flat buffers instead.
    @Test func eltwiseBackwardOnAPaddedLayoutMatchesThePlainOne() throws {
        let block = DNNLLayout.channelBlock, channels = block + block / 2
        let padded = ConvolutionGeometry(input: [2, 8, 6, 6], weight: [channels, 8, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                         padsBegin: [1, 1], padsEnd: [1, 1])
        let conv = try ConvolutionKernel(padded, weight: random(padded.weight, seed: 40), bias: nil)
        let z = try conv.forward(.plain(random(padded.input, seed: 41)))
        #expect(BufferPool.hasPadding(z.layout))
        let dy = random(padded.output, seed: 42)
        for function in [EltwiseFunction.hardSwish, .geluErf, .logistic, .swish] {
            let kernel = try LaidOutEltwiseKernel(function, for: .laidOut(z))
            let y = try kernel.forward(.laidOut(z))
            let saved: KernelInput = kernel.backwardUsesOutput ? .laidOut(y) : .laidOut(z)
            let dx = try kernel.backward(.plain(dy), saved: saved)
            // oneDNN 2.6 has only reference loops for HardSwish's backward on padded blocks: the flat path
            // runs there; the others run oneDNN's own kernel and give the comparison's baseline.
            #expect(kernel.backwardIsFlat == (function == .hardSwish), "\(function)")
            #expect(DNNLLayout.equal(dx.layout, z.layout))
            let plain = try EltwiseKernel(function, count: z.plain().count)
            let expected = try plain.backward(dy, saved: kernel.backwardUsesOutput ? y.plain() : z.plain())
            #expect(maxDifference(dx.plain(), expected) <= 1e-6, "\(function)")
            // The padded channels of the blocked buffer stay zero.
            let physical = UnsafeBufferPointer(start: dx.memory.pointer!.assumingMemoryBound(to: Float.self), count: 2 * 2 * block * 36)
            for n in 0..<2 { for i in 0..<36 { for c in (block / 2)..<block { #expect(physical[((n * 2 + 1) * 36 + i) * block + c] == 0) } } }
        }
    }

    @Test func outputsAreNeverOverwrittenWhileHeld() throws {
        let conv = try ConvolutionKernel(geometry, weight: random(geometry.weight, seed: 31), bias: nil)
        let kept = try conv.forward(.plain(random(geometry.input, seed: 30)))
        let keptValues = kept.plain()
        let next = try conv.forward(.plain(random(geometry.input, seed: 32)))   // `kept` is held: a new buffer
        #expect(next !== kept && maxDifference(kept.plain(), keptValues) == 0)
        var sums = OutputAllocator()
        let total = try sums.sum(kept, next)
        #expect(maxDifference(total.plain(), Tensor(shape: kept.shape, data: zip(keptValues.data, next.plain().data).map { $0 + $1 })) == 0)
        #expect(try sums.sum(kept, kept) !== total)                             // `total` is held too
    }
}
