// The input gradient of a strided convolution on an image (few channels) as one stride-1 convolution whose output channels are the stride's phases.
import CDNNL

/// ∂L/∂x of a convolution with stride s > 1 and few input channels C (an image stem: ResNet's 7×7 with
/// stride 2 on 3 channels), computed as one stride-1 forward convolution of ∂L/∂y. Input pixel s·i + r
/// (per axis) only meets the kernel taps k ≡ r + pad (mod s), and reads ∂L/∂y at i + c − t for the t-th of them:
/// each phase r is a stride-1 correlation of ∂L/∂y with a sub-kernel of ⌈k/s⌉ taps. The s² phases of each
/// channel become the C·s² output channels of one convolution (O input channels, a kernel of the phases' union),
/// and its output is interleaved back into ∂L/∂x. oneDNN's backward-data kernel for 3 input channels scatters
/// through its GEMM (`x64:gemm:jit`); this one is its vectorised forward convolution over O channels:
/// `mirage bench conv` at batch 8 on ResNet's stem gives ~0.6 of the time. The same products summed in another
/// order: results differ from oneDNN's by rounding, and are the same bits on every run and thread count (oneDNN's
/// forward convolution splits no sum between threads).
final class PhaseGradient {
    /// Whether this kernel takes `geometry` and pays: two spatial axes, one group, no dilation, a stride above 1 on
    /// both axes and a kernel more than twice the stride (3×3 with stride 2, MobileNet's and EfficientNet's stems, ran its
    /// input gradient in 1.13–1.28 of oneDNN's time at batch 8), at most 16 phases over all input channels (two blocks
    /// of 8 output channels) and at least 16 output channels, so the union convolution reads more channels than it writes.
    static func suits(_ g: ConvolutionGeometry) -> Bool {
        guard g.input.count == 4, g.groups == 1, g.dilations == [1, 1], !g.input.contains(0), g.weight[0] >= 16 else { return false }
        let (sh, sw) = (g.strides[0], g.strides[1])
        guard sh > 1, sw > 1, g.weight[2] > 2 * sh, g.weight[3] > 2 * sw, g.input[1] * sh * sw <= 16 else { return false }
        return (0..<2).allSatisfy { Axis(kernel: g.weight[2 + $0], stride: g.strides[$0], pad: g.padsBegin[$0], input: g.input[2 + $0], output: g.output[2 + $0]) != nil }
    }

    /// One spatial axis of the phase split.
    struct Axis {
        let kernel, stride, pad: Int
        /// The union convolution's taps, its padding before and after, and the output extent each phase needs (⌈input / stride⌉).
        let taps, padBefore, padAfter, phaseExtent: Int

        /// Nil when the union needs negative padding before (a padding beyond the kernel), which this kernel leaves to oneDNN.
        init?(kernel: Int, stride: Int, pad: Int, input: Int, output: Int) {
            (self.kernel, self.stride, self.pad) = (kernel, stride, pad)
            var before = Int.min, last = 0
            for r in 0..<stride {
                let (q, c) = ((r + pad) % stride, (r + pad) / stride)
                before = max(before, Self.tapCount(kernel, stride, q) - 1 - c)
                last = max(last, c)
            }
            guard before >= 0 else { return nil }
            padBefore = before
            taps = last + before + 1
            phaseExtent = (input + stride - 1) / stride
            padAfter = max(0, phaseExtent - output - before + taps - 1)
        }

        /// Kernel taps ≡ q (mod stride).
        static func tapCount(_ kernel: Int, _ stride: Int, _ q: Int) -> Int { q < kernel ? (kernel - q + stride - 1) / stride : 0 }

        /// The original kernel's tap that union tap `u` of phase `r` stands for, or nil where the phase has none.
        func tap(phase r: Int, union u: Int) -> Int? {
            let (q, c) = ((r + pad) % stride, (r + pad) / stride)
            let t = c + padBefore - u
            guard t >= 0, t < Self.tapCount(kernel, stride, q) else { return nil }
            return stride * t + q
        }
    }

    private let geometry: ConvolutionGeometry
    private let rows, columns: Axis
    /// The stride-1 convolution of ∂L/∂y: O channels in, C·sh·sw out, channel (c·sh + rh)·sw + rw being phase (rh, rw) of channel c.
    private let union: ConvolutionKernel

    /// The union convolution for `geometry` (which `suits` must accept) and its weight [O, C, kh, kw].
    init(_ geometry: ConvolutionGeometry, weight: Tensor) throws {
        let g = geometry
        guard Self.suits(g), weight.shape == g.weight,
              let rows = Axis(kernel: g.weight[2], stride: g.strides[0], pad: g.padsBegin[0], input: g.input[2], output: g.output[2]),
              let columns = Axis(kernel: g.weight[3], stride: g.strides[1], pad: g.padsBegin[1], input: g.input[3], output: g.output[3]) else {
            throw KernelError("the phase-split input gradient does not take a convolution \(g.input) * \(g.weight)")
        }
        (self.geometry, self.rows, self.columns) = (g, rows, columns)
        let (o, c, kh, kw) = (g.weight[0], g.weight[1], g.weight[2], g.weight[3])
        let phases = c * rows.stride * columns.stride
        var w = [Float](repeating: 0, count: phases * o * rows.taps * columns.taps)
        for ci in 0..<c {
            for rh in 0..<rows.stride {
                for rw in 0..<columns.stride {
                    let phase = (ci * rows.stride + rh) * columns.stride + rw
                    for uh in 0..<rows.taps {
                        guard let th = rows.tap(phase: rh, union: uh) else { continue }
                        for uw in 0..<columns.taps {
                            guard let tw = columns.tap(phase: rw, union: uw) else { continue }
                            for oi in 0..<o {
                                w[((phase * o + oi) * rows.taps + uh) * columns.taps + uw] = weight.data[((oi * c + ci) * kh + th) * kw + tw]
                            }
                        }
                    }
                }
            }
        }
        let unionGeometry = ConvolutionGeometry(input: g.output, weight: [phases, o, rows.taps, columns.taps], groups: 1, strides: [1, 1],
                                                dilations: [1, 1], padsBegin: [rows.padBefore, columns.padBefore],
                                                padsEnd: [rows.padAfter, columns.padAfter])
        union = try ConvolutionKernel(unionGeometry, weight: Tensor(shape: unionGeometry.weight, data: w), bias: nil, ownKernels: false)
    }

    /// ∂L/∂x, row-major [N, C, H, W], from ∂L/∂y (the gradient before any fused ReLU) in any layout.
    func backwardData(_ dy: KernelInput) throws -> DNNLTensor {
        let phased = try union.forward(dy)
        let dx = try DNNLTensor(shape: geometry.input, layout: DNNLLayout.plain(geometry.input))
        let target = dx.memory.pointer!.assumingMemoryBound(to: Float.self)
        // The union's output in channel blocks (what oneDNN's forward writes, the phases padded to whole blocks) is read
        // where it lies; another layout is reordered to row-major first, read as blocks of 1.
        if let block = try Self.channelBlock(of: phased) {
            interleave(phased.memory.pointer!.assumingMemoryBound(to: Float.self), block: block, into: target)
        } else {
            phased.plain().data.withUnsafeBufferPointer { interleave($0.baseAddress!, block: 1, into: target) }
        }
        return dx
    }

    /// 8 or 16 when `t` [N, C, H, W] is stored with its channels in blocks of that many (the last one padded), else nil.
    private static func channelBlock(of t: DNNLTensor) throws -> Int? {
        for (block, tag) in [(8, dnnl_aBcd8b), (16, dnnl_aBcd16b)] {
            var md = dnnl_memory_desc_t()
            var dims = t.shape.map { dnnl_dim_t($0) }
            try check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), &dims, dnnl_f32, tag), "describing \(t.shape) in channel blocks")
            if DNNLLayout.equal(md, t.layout) { return block }
        }
        return nil
    }

    /// Writes each phase's output to its pixels of ∂L/∂x: pixel (sh·i + rh, sw·j + rw) of channel c is phase
    /// (c·sh + rh)·sw + rw at (i, j). `source` holds the phases [N, C·sh·sw, ph, pw] with channels in blocks of `block`.
    private func interleave(_ source: UnsafePointer<Float>, block: Int, into target: UnsafeMutablePointer<Float>) {
        let (n, c, h, w) = (geometry.input[0], geometry.input[1], geometry.input[2], geometry.input[3])
        let (sh, sw) = (rows.stride, columns.stride)
        let outputShape = union.geometry.output
        let (phases, ph, pw) = (outputShape[1], outputShape[2], outputShape[3])
        let blocks = (phases + block - 1) / block
        Parallel.rows(n * ph, size: pw * phases) { range in
            for row in range {
                let (image, i) = (row / ph, row % ph)
                for p in 0..<phases {
                    let (ci, rh, rw) = (p / (sh * sw), p / sw % sh, p % sw)
                    let y = sh * i + rh
                    guard y < h else { continue }
                    let from = source + ((image * blocks + p / block) * ph + i) * pw * block + p % block
                    let to = target + ((image * c + ci) * h + y) * w + rw
                    for j in 0..<min(pw, (w - rw + sw - 1) / sw) { to[j * sw] = from[j * block] }
                }
            }
        }
    }
}
