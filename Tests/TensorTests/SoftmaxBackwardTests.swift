// Tests of the softmax's backward pass, oneDNN's or (where oneDNN has only reference loops) the engine's own.
import Testing
@testable import Tensor

@Suite struct SoftmaxBackwardTests {
    /// y·(dy − Σ dy·y) per row, in Double.
    private func reference(_ dy: Tensor, _ y: Tensor, rows: Int, length: Int) -> [Double] {
        (0..<rows).flatMap { r -> [Double] in
            let range = r * length ..< (r + 1) * length
            let s = range.reduce(0.0) { $0 + Double(dy.data[$1]) * Double(y.data[$1]) }
            return range.map { Double(y.data[$0]) * (Double(dy.data[$0]) - s) }
        }
    }

    /// An attention-sized softmax (rows of 197, not a multiple of 8): the gradient within float rounding of
    /// the formula, whichever loop runs. oneDNN 2.6's softmax backward is JIT-compiled for AVX-512 only; on
    /// an AVX2 machine the engine's loop replaces its reference one.
    @Test func backwardIsTheFormulasToFloatRounding() throws {
        let dims = [40, 197, 1]
        let kernel = try SoftmaxKernel(dims: dims, log: false)
        let y = try kernel.forward(random(dims, seed: 5))
        let dy = random(dims, seed: 6)
        let dx = try kernel.backward(dy, output: y)
        #expect(kernel.backwardIsOwn == (DNNLLayout.channelBlock == 8))
        let expected = reference(dy, y, rows: 40, length: 197)
        let scale = expected.map(abs).max()!
        #expect(zip(dx.data, expected).allSatisfy { abs(Double($0) - $1) <= 1e-6 * scale })
    }

    /// The engine's loop: each row's bits are those of the row computed alone (so neither the split
    /// between threads nor the rows around it matter), and of its lane-by-lane order written out here.
    @Test func ownLoopGivesEachRowTheSameBitsWhateverTheSplit() throws {
        let (rows, length) = (700, 197)   // 137,900 elements: two threads
        let y = random([rows, length], seed: 7), dy = random([rows, length], seed: 8)
        var together = [Float](repeating: .nan, count: rows * length)
        dy.data.withUnsafeBufferPointer { g in y.data.withUnsafeBufferPointer { s in together.withUnsafeMutableBufferPointer { d in
            SoftmaxKernel.backwardRows(g.baseAddress!, s.baseAddress!, d.baseAddress!, rows: rows, length: length)
        } } }
        for r in [0, 1, 349, 350, 699] {
            let range = r * length ..< (r + 1) * length
            var alone = [Float](repeating: .nan, count: length)
            Array(dy.data[range]).withUnsafeBufferPointer { g in Array(y.data[range]).withUnsafeBufferPointer { s in alone.withUnsafeMutableBufferPointer { d in
                SoftmaxKernel.backwardRows(g.baseAddress!, s.baseAddress!, d.baseAddress!, rows: 1, length: length)
            } } }
            #expect(alone.map(\.bitPattern) == together[range].map(\.bitPattern))
            // Lane k adds positions k, k + 8, … (the first 192); then the lanes in order, then the last 5.
            var lanes = [Float](repeating: 0, count: 8)
            for i in 0..<192 { let product = dy.data[range.lowerBound + i] * y.data[range.lowerBound + i]; lanes[i % 8] += product }
            var total: Float = 0
            for k in 0..<8 { total += lanes[k] }
            for i in 192..<197 { let product = dy.data[range.lowerBound + i] * y.data[range.lowerBound + i]; total += product }
            let written = range.map { y.data[$0] * (dy.data[$0] - total) }
            #expect(written.map(\.bitPattern) == alone.map(\.bitPattern))
        }
    }
}
