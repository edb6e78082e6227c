// Tests of the phase-split input gradient of strided convolutions on images against a double-precision reference.
import Testing
@testable import Tensor

@Suite struct PhaseGradientTests {
    /// dx[n, c, y, x] = Σ w[o, c, i, j]·dy[n, o, r, s] over the (r, s, i, j) with stride·(r, s) + (i, j) − padsBegin = (y, x), in double precision.
    private func referenceGradient(_ dy: Tensor, _ w: Tensor, _ g: ConvolutionGeometry) -> [Double] {
        let (n, c, h, wd) = (g.input[0], g.input[1], g.input[2], g.input[3])
        let (o, kh, kw, oh, ow) = (g.weight[0], g.weight[2], g.weight[3], g.output[2], g.output[3])
        var dx = [Double](repeating: 0, count: n * c * h * wd)
        for b in 0..<n { for ch in 0..<c { for r in 0..<oh { for s in 0..<ow { for k in 0..<o {
            let d = Double(dy.data[((b * o + k) * oh + r) * ow + s])
            for i in 0..<kh { for j in 0..<kw {
                let (y, x) = (g.strides[0] * r + i - g.padsBegin[0], g.strides[1] * s + j - g.padsBegin[1])
                guard y >= 0, y < h, x >= 0, x < wd else { continue }
                dx[((b * c + ch) * h + y) * wd + x] += Double(w.data[((k * c + ch) * kh + i) * kw + j]) * d
            } }
        } } } } }
        return dx
    }

    private func relativeError(_ t: Tensor, _ reference: [Double]) -> Double {
        let scale = reference.map(abs).max() ?? 1
        return zip(t.data, reference).map { abs(Double($0) - $1) }.max()! / scale
    }

    private static func geometry(_ input: [Int], _ weight: [Int], strides: [Int], padsBegin: [Int], padsEnd: [Int]) -> ConvolutionGeometry {
        ConvolutionGeometry(input: input, weight: weight, groups: 1, strides: strides, dilations: [1, 1], padsBegin: padsBegin, padsEnd: padsEnd)
    }

    /// ResNet's stem on maps of even and odd sizes; stride 3 on one channel with padding after that differs from before;
    /// strides and kernels that differ between rows and columns; no padding (the union pads most before it).
    static let taken: [ConvolutionGeometry] = [
        geometry([2, 3, 20, 23], [16, 3, 7, 7], strides: [2, 2], padsBegin: [3, 3], padsEnd: [3, 3]),
        geometry([1, 1, 17, 19], [16, 1, 7, 7], strides: [3, 3], padsBegin: [2, 2], padsEnd: [1, 0]),
        geometry([1, 2, 15, 16], [24, 2, 5, 7], strides: [2, 3], padsBegin: [2, 3], padsEnd: [2, 3]),
        geometry([1, 3, 21, 21], [16, 3, 7, 7], strides: [2, 2], padsBegin: [0, 0], padsEnd: [0, 0]),
    ]

    @Test(arguments: taken) func inputGradientMatchesTheReference(_ g: ConvolutionGeometry) throws {
        #expect(PhaseGradient.suits(g))
        let w = random(g.weight, seed: 7), bias = random([g.weight[0]], seed: 8), dy = random(g.output, seed: UInt64(g.input.reduce(1, *)))
        let kernel = try ConvolutionKernel(g, weight: w, bias: bias, winogradBackwardData: true)
        #expect(kernel.runsPhaseGradient)
        let expected = referenceGradient(dy, w, g)
        let dx = try kernel.backwardData(.plain(dy))
        #expect(dx.isPlain)
        #expect(relativeError(dx.plain(), expected) < 1e-6)
        // oneDNN's own kernel, which `ownKernels: false` keeps, agrees to rounding.
        let direct = try ConvolutionKernel(g, weight: w, bias: bias, winogradBackwardData: true, ownKernels: false)
        #expect(!direct.runsPhaseGradient)
        #expect(relativeError(try direct.backwardData(.plain(dy)).plain(), expected) < 1e-6)
        // The same bits on every call (the union convolution's buffers are reused).
        #expect(try kernel.backwardData(.plain(dy)).plain().data == dx.plain().data)
    }

    @Test func takesOnlyItsShapes() throws {
        let stem = Self.taken[0]
        var g = stem
        g.weight = [16, 3, 3, 3]                     // 3×3 with stride 2: ran slower than oneDNN
        #expect(!PhaseGradient.suits(g))
        g = stem; g.weight = [8, 3, 7, 7]            // fewer than 16 outputs
        #expect(!PhaseGradient.suits(g))
        g = stem; g.input[1] = 6; g.weight[1] = 6    // 24 phases
        #expect(!PhaseGradient.suits(g))
        g = stem; g.strides = [1, 1]
        #expect(!PhaseGradient.suits(g))
        g = stem; g.dilations = [2, 2]
        #expect(!PhaseGradient.suits(g))
        g = stem; g.padsBegin = [8, 8]               // the union would need negative padding before
        #expect(!PhaseGradient.suits(g))
        g = stem; g.input = [2, 3, 20]; g.weight = [16, 3, 7]; g.strides = [2]; g.dilations = [1]; g.padsBegin = [3]; g.padsEnd = [3]
        #expect(!PhaseGradient.suits(g))
        // A transposed convolution's forward (`winogradBackwardData: false`) keeps oneDNN's kernel.
        let w = random(stem.weight, seed: 9)
        #expect(!(try ConvolutionKernel(stem, weight: w, bias: nil, winogradBackwardData: false)).runsPhaseGradient)
        #expect(try ConvolutionKernel(stem, weight: w, bias: nil, winogradBackwardData: true).runsPhaseGradient)
    }
}
