// Tests of the per-channel sums read in a tensor's own layout: the same bits as a sequential row-major loop.
import CDNNL
import Testing
@testable import Tensor

/// `t` copied into a oneDNN tensor of `layout`.
func laidOut(_ t: Tensor, _ layout: dnnl_memory_desc_t) throws -> DNNLTensor {
    let result = try DNNLTensor(shape: t.shape, layout: layout)
    try LayoutConformer(shape: t.shape, layout: layout).write(.plain(t), into: result.memory)
    return result
}

@Suite struct ChannelReductionTests {
    /// `t` in channel blocks of `width`: 16 (AVX-512 machines) or 8 (AVX2), whichever this machine runs.
    private func blocked(_ t: Tensor, _ width: Int) throws -> DNNLTensor { try laidOut(t, try #require(try DNNLLayout.channelBlocked(t.shape, block: width))) }
    private func rowMajor(_ t: Tensor) throws -> DNNLTensor { try laidOut(t, try DNNLLayout.plain(t.shape)) }

    /// Each (n, c) row of the row-major data summed one value after another from 0, of a·b when `b` is given.
    private func reference(_ a: Tensor, _ b: Tensor? = nil) -> [Float] {
        let rows = a.shape[0] * a.shape[1], length = a.count / rows
        return (0..<rows).map { r in
            var total: Float = 0
            for i in r * length ..< (r + 1) * length {
                let value = b.map { a.data[i] * $0.data[i] } ?? a.data[i]
                total += value
            }
            return total
        }
    }

    /// Bit patterns, so that a difference in the last bit (or in a zero's sign) fails.
    private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    // Shapes: ranks 3–5, a row count not a multiple of 8, one large enough to split between two threads.
    static let shapes: [[Int]] = [[3, 32, 7, 9], [2, 48, 5], [2, 16, 3, 4, 5], [4, 64, 32, 32], [1, 16, 1, 1]]

    @Test(arguments: shapes) func sumsHaveTheBitsOfASequentialLoopInEitherLayout(_ shape: [Int]) throws {
        let x = random(shape, seed: UInt64(shape.reduce(7, *)))
        let expected = bits(reference(x))
        for width in [16, 8] { #expect(bits(try #require(ChannelReduction.sums(try blocked(x, width)))) == expected) }
        #expect(bits(try #require(ChannelReduction.sums(try rowMajor(x)))) == expected)
        #expect(bits(x.data.withUnsafeBufferPointer { ChannelReduction.rowSums($0, rowCount: shape[0] * shape[1]) }) == expected)
    }

    @Test(arguments: shapes) func productSumsRoundEachProductThenAddInOrder(_ shape: [Int]) throws {
        let a = random(shape, seed: 50), b = random(shape, seed: 51)
        let expected = bits(reference(a, b))
        for width in [16, 8] { #expect(bits(try #require(ChannelReduction.productSums(try blocked(a, width), try blocked(b, width)))) == expected) }
        #expect(bits(try #require(ChannelReduction.productSums(try rowMajor(a), try rowMajor(b)))) == expected)
        // Operands in different layouts are not summed.
        #expect(ChannelReduction.productSums(try blocked(a, 8), try rowMajor(b)) == nil)
        #expect(ChannelReduction.productSums(try blocked(a, 16), try blocked(b, 8)) == nil)
    }

    @Test func rowMajorRowsThatAreNotAMultipleOfEightAreSummedToo() throws {
        let x = random([3, 5, 7, 7], seed: 60)          // 15 rows: one group of eight, seven alone
        #expect(bits(try #require(ChannelReduction.sums(try rowMajor(x)))) == bits(reference(x)))
    }

    @Test func spreadFillsEachChannelWithItsValueInTheGivenLayout() throws {
        let shape = [2, 32, 3, 5]
        let values = random([2, 32], seed: 70).data
        let expected = (0..<Tensor.elementCount(shape)).map { values[$0 / 15] }
        for layout in [try #require(try DNNLLayout.channelBlocked(shape, block: 16)), try #require(try DNNLLayout.channelBlocked(shape, block: 8)),
                       try DNNLLayout.plain(shape)] {
            let spread = try #require(try ChannelReduction.spread(values, over: TensorLayout(shape: shape, descriptor: layout)))
            #expect(DNNLLayout.equal(spread.layout, layout))
            #expect(bits(spread.plain().data) == bits(expected))
        }
        #expect(throws: KernelError.self) {
            try ChannelReduction.spread([1, 2, 3], over: TensorLayout(shape: shape, descriptor: try DNNLLayout.plain(shape)))
        }
    }

    @Test func channelBlocksFollowTheMachinesVectorWidth() throws {
        // 16 channels to a block where oneDNN's JIT runs AVX-512, 8 where it runs AVX2: the blocks its convolutions choose.
        let isa = dnnl_get_effective_cpu_isa().rawValue, avx512 = dnnl_cpu_isa_avx512_core.rawValue
        #expect(DNNLLayout.channelBlock == (isa & avx512 == avx512 ? 16 : 8))
        let g = ConvolutionGeometry(input: [1, 32, 8, 8], weight: [32, 32, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                    padsBegin: [1, 1], padsEnd: [1, 1])
        let conv = try ConvolutionKernel(g, weight: random(g.weight, seed: 90), bias: nil)
        let y = try conv.forward(KernelInput.plain(random(g.input, seed: 91)))
        #expect(DNNLLayout.equal(y.layout, try #require(try DNNLLayout.channelBlocked(g.output))))
        #expect(try DNNLLayout.channelBlocked([1, 24, 4, 4], block: 16) == nil)   // 24 channels would need padding
        #expect(try DNNLLayout.channelBlocked([1, 16, 4], block: 4) == nil)
    }

    @Test func aLayoutItDoesNotReadIsRefused() throws {
        // Channels last ([N, H, W, C] in memory): neither row-major nor in channel blocks.
        let shape = [2, 16, 3, 3]
        let channelsLast = try DNNLLayout.strided(shape, strides: [16 * 9, 1, 3 * 16, 16])
        let x = try laidOut(random(shape, seed: 80), channelsLast)
        #expect(ChannelReduction.sums(x) == nil)
        #expect(try ChannelReduction.spread(Array(repeating: 0, count: 32), over: x.tensorLayout) == nil)
    }
}
