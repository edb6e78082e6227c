import Testing
@testable import Tensor

/// Naive references: direct loops, slow and obviously right.
enum Reference {
    static func conv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, groups: Int, stride: [Int], dilation: [Int], pads: [Int]) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + pads[0] + pads[2] - (kh - 1) * dilation[0] - 1) / stride[0] + 1
        let ow = (wd + pads[1] + pads[3] - (kw - 1) * dilation[1] - 1) / stride[1] + 1
        var y = Tensor.zeros([n, o, oh, ow])
        let og = o / groups
        for b_ in 0..<n { for oc in 0..<o { for i in 0..<oh { for j in 0..<ow {
            var sum = b?.data[oc] ?? 0
            let g = oc / og
            for ic in 0..<cg { for p in 0..<kh { for q in 0..<kw {
                let yi = i * stride[0] - pads[0] + p * dilation[0]
                let xj = j * stride[1] - pads[1] + q * dilation[1]
                guard yi >= 0, yi < h, xj >= 0, xj < wd else { continue }
                sum += x.data[((b_ * c + g * cg + ic) * h + yi) * wd + xj] * w.data[((oc * cg + ic) * kh + p) * kw + q]
            } } }
            y.data[((b_ * o + oc) * oh + i) * ow + j] = sum
        } } } }
        _ = c
        return y
    }
}

func random(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &g) })
}

func dot(_ a: Tensor, _ b: Tensor) -> Double { zip(a.data, b.data).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

func maxDifference(_ a: Tensor, _ b: Tensor) -> Float { zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0 }

@Suite struct ConvolutionKernelTests {
    static let cases: [(input: [Int], weight: [Int], groups: Int, stride: [Int], dilation: [Int], pads: [Int])] = [
        ([2, 3, 9, 9], [4, 3, 3, 3], 1, [1, 1], [1, 1], [1, 1, 1, 1]),
        ([1, 4, 10, 8], [6, 2, 3, 3], 2, [2, 2], [1, 1], [0, 1, 1, 0]),        // groups, strides, asymmetric pads
        ([1, 8, 7, 7], [8, 1, 3, 3], 8, [1, 1], [2, 2], [2, 2, 2, 2]),         // depthwise, dilated
        ([3, 16, 6, 6], [32, 16, 1, 1], 1, [1, 1], [1, 1], [0, 0, 0, 0]),      // 1×1, blocked layouts likely
    ]

    func kernel(_ i: Int, bias: Bool) throws -> (ConvolutionKernel, Tensor, Tensor?) {
        let c = Self.cases[i]
        let g = ConvolutionGeometry(input: c.input, weight: c.weight, groups: c.groups, strides: c.stride, dilations: c.dilation,
                                    padsBegin: [c.pads[0], c.pads[1]], padsEnd: [c.pads[2], c.pads[3]])
        let w = random(c.weight, seed: 1)
        let b = bias ? random([c.weight[0]], seed: 2) : nil
        return (try ConvolutionKernel(g, weight: w, bias: b), w, b)
    }

    @Test(arguments: 0..<4)
    func forwardMatchesDirectLoops(i: Int) throws {
        let (k, w, b) = try kernel(i, bias: true)
        let c = Self.cases[i]
        let x = random(c.input, seed: 3)
        let expected = Reference.conv2d(x, w, b, groups: c.groups, stride: c.stride, dilation: c.dilation, pads: c.pads)
        let y = try k.forward(x)
        #expect(y.shape == expected.shape)
        #expect(maxDifference(y, expected) < 1e-4)
    }

    /// The backward-data pass is the adjoint of the forward one: ⟨conv(x), dy⟩ = ⟨x, convᵀ(dy)⟩.
    @Test(arguments: 0..<4)
    func backwardDataIsTheAdjoint(i: Int) throws {
        let (k, _, _) = try kernel(i, bias: false)
        let x = random(Self.cases[i].input, seed: 4)
        let dy = random(k.geometry.output, seed: 5)
        let lhs = dot(try k.forward(x), dy)
        let rhs = dot(x, try k.backwardData(dy))
        #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)))
    }

    @Test(arguments: 0..<4)
    func weightGradientMatchesFiniteDifferences(i: Int) throws {
        let c = Self.cases[i]
        let (k, w, b) = try kernel(i, bias: true)
        let x = random(c.input, seed: 6)
        let dy = random(k.geometry.output, seed: 7)
        _ = try k.forward(x)
        let (dw, db) = try k.backwardWeights(input: x, gradient: dy)
        // Directional derivative of ⟨conv(x; w), dy⟩ along a random direction v: equals ⟨dw, v⟩ exactly (it is linear in w).
        let v = random(c.weight, seed: 8)
        let shifted = Tensor(shape: w.shape, data: zip(w.data, v.data).map { $0 + $1 })
        let geometry = k.geometry
        let k2 = try ConvolutionKernel(geometry, weight: shifted, bias: b)
        let directional = dot(try k2.forward(x), dy) - dot(try k.forward(x), dy)
        #expect(abs(directional - dot(dw, v)) <= 1e-3 * max(1, abs(directional)))
        let biasSum = (0..<geometry.output[1]).map { oc in
            (0..<geometry.output[0]).reduce(Float(0)) { acc, n in
                let plane = geometry.output[2] * geometry.output[3]
                let start = (n * geometry.output[1] + oc) * plane
                return acc + dy.data[start..<(start + plane)].reduce(0, +)
            }
        }
        #expect(maxDifference(try #require(db), Tensor(shape: [geometry.output[1]], data: biasSum)) < 1e-3)
    }

    /// A 3×3 stride-1 convolution over 32 channels (enough work for two threads) takes Winograd's backward data when asked (on AVX-512 machines; AVX2 ones keep the direct one): the adjoint of the
    /// (direct) forward to float32 rounding, within 1e-5 of the direct backward, and the same bits on 1 and 2 threads.
    /// A strided one, one not asked, or one with few pixels per channel keeps the direct algorithm.
    @Test func winogradBackwardDataMatchesTheDirectOne() throws {
        let g = ConvolutionGeometry(input: [4, 32, 24, 24], weight: [32, 32, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                    padsBegin: [1, 1], padsEnd: [1, 1])
        #expect(g.suitsWinograd)
        let w = random(g.weight, seed: 11)
        let x = random(g.input, seed: 12)
        let dy = random(g.output, seed: 13)
        let winograd = try ConvolutionKernel(g, weight: w, bias: nil, winogradBackwardData: true)
        let direct = try ConvolutionKernel(g, weight: w, bias: nil)
        let fast = try winograd.backwardData(dy)
        let exact = try direct.backwardData(dy)
        #expect(direct.backwardDataImplementation?.contains("wino") == false)
        if DNNLLayout.channelBlock == 16 {
            #expect(winograd.backwardDataImplementation?.contains("wino") == true)
            let scale = exact.data.map(abs).max()!
            #expect(maxDifference(fast, exact) <= 1e-5 * scale)
            #expect(maxDifference(fast, exact) > 0)   // it is another algorithm, not the direct one under another name
            let lhs = dot(try winograd.forward(x), dy)
            #expect(abs(lhs - dot(x, fast)) <= 1e-4 * max(1, abs(lhs)))
            let oneThread = try DNNLWork.run(on: 1) { try ConvolutionKernel(g, weight: w, bias: nil, winogradBackwardData: true).backwardData(dy) }
            #expect(oneThread.data == fast.data)
        } else {
            // oneDNN 2.6's Winograd kernels are AVX-512 ones: on an AVX2 machine the direct algorithm serves, bit for bit.
            #expect(winograd.backwardDataImplementation?.contains("wino") == false)
            #expect(fast.data == exact.data)
        }

        let strided = ConvolutionGeometry(input: [2, 32, 12, 12], weight: [32, 32, 3, 3], groups: 1, strides: [2, 2], dilations: [1, 1],
                                          padsBegin: [1, 1], padsEnd: [1, 1])
        #expect(!strided.suitsWinograd)
        let k = try ConvolutionKernel(strided, weight: w, bias: nil, winogradBackwardData: true)
        _ = try k.backwardData(random(strided.output, seed: 14))
        #expect(k.backwardDataImplementation?.contains("wino") == false)
        // 512 channels on one 7×7 map: too few pixels for the weights' transform to pay.
        let small = ConvolutionGeometry(input: [1, 512, 7, 7], weight: [512, 512, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1],
                                        padsBegin: [1, 1], padsEnd: [1, 1])
        #expect(!small.suitsWinograd)
    }

    @Test func rejectsMismatchedChannels() {
        let g = ConvolutionGeometry(input: [1, 3, 8, 8], weight: [4, 2, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0], padsEnd: [0, 0])
        #expect { try ConvolutionKernel(g, weight: .zeros([4, 2, 3, 3]), bias: nil) } throws: { "\($0)".contains("channels") }
    }
}

@Suite struct MatMulKernelTests {
    func naive(_ a: Tensor, _ b: Tensor) -> Tensor {   // [M, K] × [K, N]
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        var c = Tensor.zeros([m, n])
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c.data[i * n + j] += a.data[i * k + p] * b.data[p * n + j] } } }
        return c
    }

    func transpose(_ a: Tensor) -> Tensor {
        let (r, c) = (a.shape[0], a.shape[1])
        return Tensor(shape: [c, r], data: (0..<(r * c)).map { a.data[($0 % r) * c + $0 / r] })
    }

    @Test func plainAndTransposedProductsAgree() throws {
        let a = random([5, 7], seed: 1), b = random([7, 3], seed: 2)
        let expected = naive(a, b)
        #expect(maxDifference(try MatMulKernel(a: [5, 7], b: [7, 3]).run(a, b), expected) < 1e-5)
        #expect(maxDifference(try MatMulKernel(a: [7, 5], b: [7, 3], transposeA: true).run(transpose(a), b), expected) < 1e-5)
        #expect(maxDifference(try MatMulKernel(a: [5, 7], b: [3, 7], transposeB: true).run(a, transpose(b)), expected) < 1e-5)
    }

    @Test func broadcastsBatchDimensions() throws {
        let a = random([2, 1, 4, 3], seed: 3), b = random([3, 3, 5], seed: 4)
        let kernel = try MatMulKernel(a: a.shape, b: b.shape)
        #expect(kernel.output == [2, 3, 4, 5])
        let c = try kernel.run(a, b)
        for i in 0..<2 { for j in 0..<3 {
            let ai = Tensor(shape: [4, 3], data: Array(a.data[(i * 12)..<(i * 12 + 12)]))
            let bj = Tensor(shape: [3, 5], data: Array(b.data[(j * 15)..<(j * 15 + 15)]))
            let start = (i * 3 + j) * 20
            #expect(maxDifference(Tensor(shape: [4, 5], data: Array(c.data[start..<(start + 20)])), naive(ai, bj)) < 1e-5)
        } }
    }

    /// oneDNN divides by every dimension (a fuzzed model crashed it with 0 rows): empty products are computed here.
    @Test func emptyDimensionsGiveEmptyOrZeroProducts() throws {
        let noRows = try MatMulKernel(a: [0, 4], b: [4, 2])
        #expect(noRows.output == [0, 2])
        #expect(try noRows.run(Tensor(shape: [0, 4], data: []), random([4, 2], seed: 5)).shape == [0, 2])
        // An inner dimension of 0: sums over nothing, so zeros, plus the bias when there is one.
        let noInner = try MatMulKernel(a: [2, 0], b: [0, 3], bias: true)
        let bias = Tensor(shape: [3], data: [1, 2, 3])
        let c = try noInner.run(Tensor(shape: [2, 0], data: []), Tensor(shape: [0, 3], data: []), bias: bias)
        #expect(c.shape == [2, 3])
        #expect(c.data == [1, 2, 3, 1, 2, 3])
        #expect(try MatMulKernel(a: [1, 0, 2, 5], b: [5, 3]).output == [1, 0, 2, 3])
    }

    @Test func namesMismatchedInnerDimensions() {
        #expect { try MatMulKernel(a: [2, 3], b: [4, 5]) } throws: { "\($0)".contains("inner dimensions") }
    }
}

@Suite struct PoolingKernelTests {
    @Test func maxPoolingForwardAndBackwardRouteThroughTheMaximum() throws {
        let x = Tensor(shape: [1, 1, 4, 4], data: (0..<16).map { Float(($0 * 7) % 16) })
        let k = try PoolingKernel(input: x.shape, kind: .max, kernel: [2, 2], strides: [2, 2], dilations: [1, 1], padsBegin: [0, 0], padsEnd: [0, 0])
        let y = try k.forward(x)
        #expect(y.shape == [1, 1, 2, 2])
        for i in 0..<2 { for j in 0..<2 {
            let window = [x.data[(2 * i) * 4 + 2 * j], x.data[(2 * i) * 4 + 2 * j + 1], x.data[(2 * i + 1) * 4 + 2 * j], x.data[(2 * i + 1) * 4 + 2 * j + 1]]
            #expect(y.data[i * 2 + j] == window.max())
        } }
        let dx = try k.backward(Tensor.ones([1, 1, 2, 2]))
        #expect(dx.data.reduce(0, +) == 4)
        for (i, g) in dx.data.enumerated() where g != 0 { #expect(y.data.contains(x.data[i])) }
    }

    @Test func averagePoolingIsTheAdjointOfItsBackward() throws {
        let x = random([2, 3, 7, 7], seed: 9)
        for kind in [PoolingKernel.Kind.averageIncludingPadding, .averageExcludingPadding] {
            let k = try PoolingKernel(input: x.shape, kind: kind, kernel: [3, 3], strides: [2, 2], dilations: [1, 1], padsBegin: [1, 1], padsEnd: [1, 1])
            let dy = random(k.output, seed: 10)
            let lhs = dot(try k.forward(x), dy), rhs = dot(x, try k.backward(dy))
            #expect(abs(lhs - rhs) < 1e-4 * max(1, abs(lhs)))
        }
    }

    @Test func ceilModeMatchesPyTorchSizes() throws {
        // PyTorch: MaxPool2d(3, stride=2, ceil_mode=True) on 8×8 gives 4×4 (floor would give 3×3).
        let k = try PoolingKernel(input: [1, 1, 8, 8], kind: .max, kernel: [3, 3], strides: [2, 2], dilations: [1, 1], padsBegin: [0, 0], padsEnd: [0, 0], ceilMode: true)
        #expect(k.output == [1, 1, 4, 4])
        let y = try k.forward(random([1, 1, 8, 8], seed: 11))
        #expect(y.data.allSatisfy { $0.isFinite })
    }
}

@Suite struct BroadcastingTests {
    /// a ∘ b by the definition: every output index read from both operands, broadcast axes at 0.
    func reference(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let shape = Tensor.broadcastShape(a.shape, b.shape)!
        func offset(_ index: [Int], _ s: [Int]) -> Int {
            var flat = 0
            for (k, n) in s.enumerated() { flat = flat * n + (n == 1 ? 0 : index[index.count - s.count + k]) }
            return flat
        }
        var out = Tensor.zeros(shape)
        var index = [Int](repeating: 0, count: shape.count)
        for i in 0..<out.count {
            var rest = i
            for axis in stride(from: shape.count - 1, through: 0, by: -1) { index[axis] = rest % shape[axis]; rest /= shape[axis] }
            out.data[i] = f(a.data[offset(index, a.shape)], b.data[offset(index, b.shape)])
        }
        return out
    }

    @Test(arguments: [([1, 4, 3, 5, 5], [1, 4, 1, 5, 5]), ([2, 3, 4], [3, 1]), ([2, 1, 4], [3, 1]), ([3, 1, 2, 1], [1, 5, 1, 6]),
                      ([2, 3, 4, 5], [2, 3, 4, 5]), ([6], [1]), ([2, 0, 3], [1, 3])])
    func mergedAxesGiveTheDefinitionsResult(a: [Int], b: [Int]) throws {
        var generator = SeededGenerator(seed: 7)
        let x = Tensor.normal(a, using: &generator), y = Tensor.normal(b, using: &generator)
        #expect(try x.applying(.subtract, y) == reference(x, y, -))
        #expect(try y.applying(.multiply, x) == reference(y, x, *))
    }

    @Test func swinsMaskAddIsNotLeftToOneDNNsReferenceLoops() throws {
        // oneDNN 2.x runs a middle-axis broadcast only in its reference implementation: `fast` declines it.
        #expect(try BinaryKernel.fast(.add, [1, 64, 3, 49, 49], [1, 64, 1, 49, 49]) == nil)
        #expect(try BinaryKernel.fast(.add, [4, 197, 768], [768]) != nil)
    }
}
