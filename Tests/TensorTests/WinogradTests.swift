// Tests of our Winograd F(2×2, 3×3) convolution against a direct convolution in double precision, forward and input gradient.
import CDNNL
import Testing
@testable import Tensor

@Suite struct WinogradTests {
    /// Direct 3×3 convolution, stride 1, padding 1, in double precision: y[n, o, r, s] = b[o] + Σ w[o, c, i, j]·x[n, c, r + i − 1, s + j − 1].
    private func reference(_ x: Tensor, _ w: Tensor, _ bias: Tensor?) -> [Double] {
        let (n, c, h, wd, o) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0])
        var y = [Double](repeating: 0, count: n * o * h * wd)
        for b in 0..<n { for k in 0..<o { for r in 0..<h { for s in 0..<wd {
            var sum = Double(bias?.data[k] ?? 0)
            for ch in 0..<c { for i in 0..<3 { for j in 0..<3 {
                let (yy, xx) = (r + i - 1, s + j - 1)
                guard yy >= 0, yy < h, xx >= 0, xx < wd else { continue }
                sum += Double(w.data[((k * c + ch) * 3 + i) * 3 + j]) * Double(x.data[((b * c + ch) * h + yy) * wd + xx])
            } } }
            y[((b * o + k) * h + r) * wd + s] = sum
        } } } }
        return y
    }

    /// Its input gradient: dx[n, c, r, s] = Σ w[o, c, i, j]·dy[n, o, r − i + 1, s − j + 1].
    private func referenceGradient(_ dy: Tensor, _ w: Tensor) -> [Double] {
        let (n, o, h, wd, c) = (dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3], w.shape[1])
        var dx = [Double](repeating: 0, count: n * c * h * wd)
        for b in 0..<n { for ch in 0..<c { for r in 0..<h { for s in 0..<wd {
            var sum = 0.0
            for k in 0..<o { for i in 0..<3 { for j in 0..<3 {
                let (yy, xx) = (r - i + 1, s - j + 1)
                guard yy >= 0, yy < h, xx >= 0, xx < wd else { continue }
                sum += Double(w.data[((k * c + ch) * 3 + i) * 3 + j]) * Double(dy.data[((b * o + k) * h + yy) * wd + xx])
            } } }
            dx[((b * c + ch) * h + r) * wd + s] = sum
        } } } }
        return dx
    }

    /// The largest difference from the reference, as a fraction of the reference's largest magnitude.
    private func relativeError(_ t: Tensor, _ reference: [Double]) -> Double {
        let scale = reference.map(abs).max() ?? 1
        return zip(t.data, reference).map { abs(Double($0) - $1) }.max()! / scale
    }

    private func blocked(_ t: Tensor) throws -> DNNLTensor { try laidOut(t, try #require(try DNNLLayout.channelBlocked(t.shape, block: 8))) }
    private func blockedOutput(_ shape: [Int]) throws -> DNNLTensor { try DNNLTensor(shape: shape, layout: try #require(try DNNLLayout.channelBlocked(shape, block: 8))) }
    private func pointer(_ t: DNNLTensor) -> UnsafeMutablePointer<Float> { t.memory.pointer!.assumingMemoryBound(to: Float.self) }

    /// [N, C, H, W, O] and optionally the tiles per round: an odd map (the last tiles half outside it), a map that is not
    /// square, more output than input channels, and rounds of 3 rows of tiles that split images (5 rows each) between
    /// them, with 128 outputs (the transformed weights' rows padded).
    static let shapes: [[Int]] = [[2, 64, 7, 7, 64], [1, 16, 8, 10, 24], [3, 8, 5, 6, 16], [3, 8, 9, 7, 128, 10]]

    @Test(arguments: shapes) func forwardAndInputGradientMatchTheDirectConvolution(_ s: [Int]) throws {
        let geometry = ConvolutionGeometry(input: Array(s[0..<4]), weight: [s[4], s[1], 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                           padsBegin: [1, 1], padsEnd: [1, 1])
        let x = random(geometry.input, seed: UInt64(s.reduce(1, *))), w = random(geometry.weight, seed: 5), bias = random([s[4]], seed: 6)
        let expected = reference(x, w, bias)
        var outputs: [Tensor] = []
        for relu in [false, true] {
            let kernel = try WinogradConvolution(geometry, weight: w, bias: bias, relu: relu, roundTiles: s.count > 5 ? s[5] : nil)
            let input = try blocked(x), y = try blockedOutput(geometry.output)
            try kernel.forward(UnsafePointer(pointer(input)), into: pointer(y))
            outputs.append(y.plain())
            // Run again: the same bits.
            let again = try blockedOutput(geometry.output)
            try kernel.forward(UnsafePointer(pointer(input)), into: pointer(again))
            #expect(again.plain().data.map(\.bitPattern) == y.plain().data.map(\.bitPattern))
        }
        let error = relativeError(outputs[0], expected)
        #expect(error < 1e-6, "forward error \(error)")
        // The fused ReLU is max(0, ·) of the same values.
        #expect(outputs[1].data.map(\.bitPattern) == outputs[0].data.map { max($0, 0).bitPattern })

        let dy = random(geometry.output, seed: 7)
        let kernel = try WinogradConvolution(geometry, weight: w, bias: bias, relu: false, roundTiles: s.count > 5 ? s[5] : nil)
        let gradient = try blocked(dy), dx = try blockedOutput(geometry.input)
        try kernel.backwardData(UnsafePointer(pointer(gradient)), into: pointer(dx))
        let gradientError = relativeError(dx.plain(), referenceGradient(dy, w))
        #expect(gradientError < 1e-6, "input gradient error \(gradientError)")
    }

    /// What the direct convolution, in float, gets wrong against the same reference: Winograd's error is of its order.
    @Test func errorIsOfTheDirectConvolutionsOrder() throws {
        let geometry = ConvolutionGeometry(input: [2, 64, 14, 14], weight: [64, 64, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                           padsBegin: [1, 1], padsEnd: [1, 1])
        let x = random(geometry.input, seed: 21), w = random(geometry.weight, seed: 22)
        let expected = reference(x, w, nil)
        let input = try blocked(x), y = try blockedOutput(geometry.output)
        try WinogradConvolution(geometry, weight: w, bias: nil, relu: false).forward(UnsafePointer(pointer(input)), into: pointer(y))
        var direct = [Float](repeating: 0, count: expected.count)
        for i in direct.indices {   // float sums in the reference's order
            let (b, k, r, s) = (i / (64 * 196), (i / 196) % 64, (i / 14) % 14, i % 14)
            var sum: Float = 0
            for ch in 0..<64 { for a in 0..<3 { for c in 0..<3 where (0..<14).contains(r + a - 1) && (0..<14).contains(s + c - 1) {
                sum += w.data[((k * 64 + ch) * 3 + a) * 3 + c] * x.data[((b * 64 + ch) * 14 + r + a - 1) * 14 + s + c - 1]
            } } }
            direct[i] = sum
        }
        let (winogradError, directError) = (relativeError(y.plain(), expected), relativeError(Tensor(shape: geometry.output, data: direct), expected))
        #expect(winogradError < 4 * directError, "Winograd \(winogradError), direct \(directError)")
    }

    /// Through `ConvolutionKernel`, as the Conv operator uses it: a fused ReLU, plain input, laid-out
    /// gradient; on AVX2 machines the kernel runs our Winograd both ways, elsewhere the direct forward and
    /// oneDNN's Winograd input gradient, and each must give the double-precision results to its rounding.
    @Test func convolutionKernelRunsItWhereItSuits() throws {
        let geometry = ConvolutionGeometry(input: [2, 64, 16, 16], weight: [64, 64, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                           padsBegin: [1, 1], padsEnd: [1, 1])
        let x = random(geometry.input, seed: 31), w = random(geometry.weight, seed: 32), bias = random([64], seed: 33)
        let kernel = try ConvolutionKernel(geometry, weight: w, bias: bias, fusedReLU: true, winogradBackwardData: true)
        #expect(kernel.runsWinograd == (DNNLLayout.channelBlock == 8))
        let y = try kernel.forward(.plain(x))
        let expected = reference(x, w, bias)
        #expect(relativeError(y.plain(), expected.map { max($0, 0) }) < 1e-6)
        let dy = random(geometry.output, seed: 34)
        let masked = Tensor(shape: dy.shape, data: zip(dy.data, y.plain().data).map { $1 > 0 ? $0 : 0 })   // the ReLU's own mask
        let dx = try kernel.backwardData(kernel.preActivationGradient(.plain(dy), output: .laidOut(y))).plain()
        // Our F(2×2, 3×3) multiplies by 0, ±1 and ±½ only; where it does not run (AVX-512), the input gradient is
        // oneDNN's Winograd F(4×4, 3×3), whose transforms round: a few 1e-6 (2.0e-6 here on an AVX-512 machine).
        #expect(kernel.runsWinograd || geometry.suitsWinograd)
        #expect(relativeError(dx, referenceGradient(masked, w)) < (kernel.runsWinograd ? 1e-6 : 1e-5))
        // `ownKernels: false` and no Winograd input gradient keep oneDNN's direct kernels (the peer `mirage bench
        // conv` times), on inputs laid out as the kernel reads them.
        let direct = try ConvolutionKernel(geometry, weight: w, bias: bias, fusedReLU: true, winogradBackwardData: false, ownKernels: false)
        #expect(!direct.runsWinograd)
        let laidOutInput = try direct.laidOut(.plain(x), gradient: false)
        #expect(laidOutInput.plain().data == x.data)
        #expect(relativeError(try direct.forward(.laidOut(laidOutInput)).plain(), expected.map { max($0, 0) }) < 1e-6)
        let laidOutGradient = try direct.laidOut(.plain(masked), gradient: true)
        #expect(relativeError(try direct.backwardData(.laidOut(laidOutGradient)).plain(), referenceGradient(masked, w)) < 1e-6)
    }

    @Test func takesOnlyItsShapes() {
        func geometry(_ input: [Int], _ weight: [Int], groups: Int = 1, stride: Int = 1, pad: Int = 1) -> ConvolutionGeometry {
            ConvolutionGeometry(input: input, weight: weight, groups: groups, strides: [stride, stride], dilations: [1, 1], padsBegin: [pad, pad], padsEnd: [pad, pad])
        }
        #expect(WinogradConvolution.takes(geometry([1, 64, 7, 7], [64, 64, 3, 3])))
        #expect(!WinogradConvolution.takes(geometry([1, 64, 14, 14], [64, 64, 3, 3], stride: 2)))
        #expect(!WinogradConvolution.takes(geometry([1, 64, 7, 7], [64, 64, 3, 3], pad: 0)))
        #expect(!WinogradConvolution.takes(geometry([1, 64, 7, 7], [64, 32, 3, 3], groups: 2)))
        #expect(!WinogradConvolution.takes(geometry([1, 60, 7, 7], [64, 60, 3, 3])))
        #expect(!WinogradConvolution.takes(geometry([1, 64, 7, 7], [64, 64, 5, 5], pad: 2)))
        #expect(!WinogradConvolution.takes(geometry([0, 64, 7, 7], [64, 64, 3, 3])))
        #expect(!WinogradConvolution.takes(geometry([1, 0, 7, 7], [64, 0, 3, 3])))
        // On AVX2 machines ResNet's 3×3 layers from 28×28 down are taken, at batch 1 where a map gives 40 tiles; not
        // DenseNet's 32 outputs, maps larger than 28×28 (ResNet's 64 channels on 56×56 ran no faster) or too few tiles.
        let avx2 = DNNLLayout.channelBlock == 8
        #expect(WinogradConvolution.suits(geometry([8, 64, 28, 28], [64, 64, 3, 3])) == avx2)
        #expect(!WinogradConvolution.suits(geometry([8, 64, 56, 56], [64, 64, 3, 3])))
        #expect(WinogradConvolution.suits(geometry([1, 128, 28, 28], [128, 128, 3, 3])) == avx2)
        #expect(WinogradConvolution.suits(geometry([8, 512, 7, 7], [512, 512, 3, 3])) == avx2)
        #expect(WinogradConvolution.suits(geometry([1, 256, 14, 14], [256, 256, 3, 3])) == avx2)
        #expect(!WinogradConvolution.suits(geometry([1, 512, 7, 7], [512, 512, 3, 3])))
        #expect(!WinogradConvolution.suits(geometry([8, 128, 28, 28], [32, 128, 3, 3])))
        #expect(!WinogradConvolution.suits(geometry([1, 64, 112, 112], [64, 64, 3, 3])))
        #expect(throws: KernelError.self) { try WinogradConvolution(geometry([1, 64, 7, 7], [64, 64, 3, 3], stride: 2), weight: Tensor.zeros([64, 64, 3, 3]), bias: nil, relu: false) }
    }
}
