// Tests of the per-channel affine map (with its ReLU), its gradient, and joins along the channel axis, in a tensor's own layout.
import CDNNL
import Testing
@testable import Tensor

@Suite struct ChannelWiseTests {
    /// `t` row-major (width 1) or in channel blocks of `width` (16 or 8).
    private func stored(_ t: Tensor, _ width: Int) throws -> DNNLTensor {
        try laidOut(t, width == 1 ? try DNNLLayout.plain(t.shape) : try #require(try DNNLLayout.channelBlocked(t.shape, block: width)))
    }

    /// Whether `t` is stored as `stored(_, width)` stores it.
    private func isStored(_ t: DNNLTensor, _ width: Int) throws -> Bool {
        let expected = width == 1 ? try DNNLLayout.plain(t.shape) : try #require(try DNNLLayout.channelBlocked(t.shape, block: width))
        return DNNLLayout.equal(t.layout, expected)
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }

    // One shape large enough to split between two threads, one of rank 3, one with a single position.
    static let shapes: [[Int]] = [[2, 32, 7, 9], [3, 16, 5], [4, 64, 32, 32], [1, 48, 1, 1]]

    @Test(arguments: shapes) func affineHasTheBitsOfTheRowMajorLoopInEveryLayout(_ shape: [Int]) throws {
        let x = random(shape, seed: UInt64(shape.reduce(3, *))), c = shape[1], positions = x.count / (shape[0] * c)
        let scale = random([c], seed: 11).data, shift = random([c], seed: 12).data
        for relu in [false, true] {
            // The row-major definition, element by element.
            let expected = Tensor(shape: shape, data: x.data.indices.map { i in
                let channel = (i / positions) % c, v = x.data[i] * scale[channel] + shift[channel]
                return relu ? max(v, 0) : v
            })
            for width in [1, 16, 8] {
                let y = try #require(try ChannelWise.affine(try stored(x, width), scale: scale, shift: shift, relu: relu))
                #expect(try isStored(y, width), "the result keeps the input's layout")
                #expect(bits(y.plain()) == bits(expected), "width \(width), relu \(relu)")
            }
        }
    }

    @Test(arguments: shapes) func affineGradientScalesAndMasksWhereTheOutputIsNotPositive(_ shape: [Int]) throws {
        let dy = random(shape, seed: 21), y = random(shape, seed: 22), c = shape[1], positions = dy.count / (shape[0] * c)
        let scale = random([c], seed: 23).data
        let y0 = Tensor(shape: shape, data: y.data.enumerated().map { $0.offset % 5 == 0 ? 0 : $0.element })   // zeros are not positive
        let scaled = dy.data.indices.map { dy.data[$0] * scale[($0 / positions) % c] }
        for width in [1, 16, 8] {
            let plainGradient = try #require(try ChannelWise.affineGradient(try stored(dy, width), scale: scale, output: nil))
            #expect(bits(plainGradient.plain()) == bits(Tensor(shape: shape, data: scaled)))
            let masked = try #require(try ChannelWise.affineGradient(try stored(dy, width), scale: scale, output: try stored(y0, width)))
            #expect(masked.plain().data == scaled.indices.map { y0.data[$0] > 0 ? scaled[$0] : 0 }, "width \(width)")
        }
        // An output in another layout than the gradient's is not read.
        #expect(try ChannelWise.affineGradient(try stored(dy, 8), scale: scale, output: try stored(y0, 1)) == nil)
        #expect(throws: KernelError.self) { try ChannelWise.affine(try stored(dy, 1), scale: [1], shift: [0], relu: false) }
    }

    @Test func concatenationJoinsChannelsAndSplitCutsThemBack() throws {
        for (n, positions) in [(1, [3, 5]), (3, [4, 4]), (2, [40, 40])] {
            let channels = [16, 32, 48]
            let parts = channels.enumerated().map { random([n, $0.element] + positions, seed: UInt64(30 + $0.offset)) }
            // The row-major join: each sample's channels of the first part, then the second's, then the third's.
            let per = positions.reduce(1, *)
            var joined: [Float] = []
            for s in 0..<n { for p in parts { joined += p.data[(s * p.shape[1] * per)..<((s + 1) * p.shape[1] * per)] } }
            for width in [1, 16, 8] {
                let y = try #require(try ChannelWise.concatenated(try parts.map { try stored($0, width) }))
                #expect(y.shape == [n, 96] + positions)
                #expect(try isStored(y, width))
                #expect(bits(y.plain()) == joined.map(\.bitPattern), "n \(n), width \(width)")
                let back = try #require(try ChannelWise.split(y, channels: channels))
                for (b, p) in zip(back, parts) {
                    #expect(try isStored(b, width))
                    #expect(bits(b.plain()) == bits(p))
                }
            }
        }
    }

    @Test func partsInDifferentLayoutsOrPartialBlocksAreLeftToTheRowMajorPath() throws {
        let a = random([2, 16, 3, 3], seed: 40), b = random([2, 16, 3, 3], seed: 41)
        #expect(try ChannelWise.concatenated([try stored(a, 16), try stored(b, 8)]) == nil)
        #expect(try ChannelWise.concatenated([try stored(a, 1), try stored(b, 8)]) == nil)
        #expect(try ChannelWise.concatenated([try stored(a, 8), try stored(random([2, 16, 3, 4], seed: 42), 8)]) == nil)
        // 8 channels do not fill a block of 16.
        #expect(try ChannelWise.split(try stored(random([2, 32, 3, 3], seed: 43), 16), channels: [8, 24]) == nil)
        #expect(try ChannelWise.split(try stored(a, 16), channels: [8, 4]) == nil)
    }
}
