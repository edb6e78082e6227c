// Winograd's F(2×2, 3×3): a 3×3 convolution as 16 matrix products over 2×2 output tiles, for CPUs where oneDNN has no Winograd kernel.
import CDNNL

/// A 3×3 convolution with stride 1, dilation 1, padding 1 and one group, on activations in 8-channel blocks
/// (nChw8c, what oneDNN's convolutions read and write on AVX2), by Winograd's F(2×2, 3×3). Each 4×4 input
/// patch is transformed (Bᵀ·d·B), the 16 transformed positions are 16 matrix products with the transformed
/// weights (G·g·Gᵀ, made once) through one batched oneDNN matmul, and each product's 4×4 result goes back
/// to a 2×2 output tile (Aᵀ·m·A), with the bias and a fused ReLU. That is 16 multiplications per 4 outputs
/// where the direct convolution does 36. The transforms' coefficients are 0, ±1 and ±½, exact in binary, so
/// the results differ from the direct convolution's by rounding only (a few 1e-7 relative; tests check).
/// The input gradient is the same computation with the output gradient as input and the weights turned
/// 180° and transposed, which F(2×2, 3×3) gets from the same transformed weights: position (i, j) of the
/// turned weights is position (p(i), p(j)) of the others, p swapping 0 and 3, read transposed through strides.
/// The transforms are vectorised over the 8 channels of a block and split over two threads, each element's
/// arithmetic fixed, so results are the same bits on every run and thread count.
final class WinogradConvolution {
    /// Whether this kernel takes `geometry` and pays on this machine: what `takes` accepts, on 8-channel blocks
    /// (oneDNN's on AVX2; on AVX-512 oneDNN has its own Winograd for the input gradient), with at least 64
    /// channels in and out (DenseNet's 32 outputs per layer ran no faster), maps of at most 28×28 (64 channels
    /// on 56×56 ran no faster than oneDNN's direct kernel: `mirage bench conv`) and at least 40 tiles over the
    /// batch (smaller products run below the matmul's rate: at batch 1, 256 channels on 14×14, 49 tiles, ran in 0.5
    /// (forward) and 0.9 (input gradient) of the direct kernel's time, 512 channels on 7×7, 16 tiles, in 1.1 and 1.4).
    static func suits(_ geometry: ConvolutionGeometry) -> Bool {
        let g = geometry
        guard DNNLLayout.channelBlock == 8, takes(g) else { return false }
        let (c, o, h, w) = (g.input[1], g.weight[0], g.input[2], g.input[3])
        let tiles = g.input[0] * ((h + 1) / 2) * ((w + 1) / 2)
        return c >= 64 && o >= 64 && h * w <= 28 * 28 && tiles >= 40
    }

    /// Whether the arithmetic takes `geometry` at all (on any machine): a 3×3 kernel, stride, dilation and padding 1,
    /// one group, two spatial axes, channels in whole blocks of 8, no empty axis.
    static func takes(_ g: ConvolutionGeometry) -> Bool {
        g.input.count == 4 && g.weight.count == 4 && g.weight[2] == 3 && g.weight[3] == 3 && g.groups == 1 && g.input[1] == g.weight[1]
            && g.strides == [1, 1] && g.dilations == [1, 1] && g.padsBegin == [1, 1] && g.padsEnd == [1, 1]
            && g.input[1] % 8 == 0 && g.weight[0] % 8 == 0 && !g.input.contains(0) && g.weight[0] > 0
    }

    private let batch, inChannels, outChannels, height, width, tileRows, tileColumns: Int
    /// Rows of tiles (over the whole batch, image after image) per round of transforms and products: enough for
    /// 128 tiles (the matmul's rows), and for fewer channels enough that a round's transformed input is
    /// about 2 MB (16 × tiles × channels floats), so it stays in cache between the transform and the product
    /// (at batch 8 and 28×28 maps, all at once would make 12.8 MB per side and run no faster than the direct
    /// convolution). Against session 13's rounds of whole images for 64 tiles, `mirage bench conv` at batch 8 gave
    /// 256 channels on 14×14 a forward of 0.51–0.56 of oneDNN's direct time against 0.57–0.64, and 128 channels
    /// on 28×28 0.64–0.65 against 0.70–0.71.
    private let rowsPerRound: Int
    /// The transformed weights, [16, C, O]: position ξ = 4i + j of G·w[o, c]·Gᵀ at [ξ, c, o], rows `weightRow` apart.
    private let transformed: DNNLMemory
    /// Floats from one row of `transformed` to the next: O, plus 16 when O is a multiple of 128. oneDNN's matmul
    /// read rows 2 KiB apart (512 channels) slowly: 512 channels on 7×7 at batch 8 ran their forward products
    /// in ~11 ms, the input gradient's (the same weights read transposed) in ~8; padded, the forward took 0.50–0.53
    /// of the direct kernel's time against 0.66–0.70.
    private let weightRow: Int
    private let bias: [Float]?
    private let relu: Bool
    /// Per [rows of tiles in a round, 0 or 1 for the input gradient], the 16 products as one batched matmul:
    /// [16, tiles, C] × [16, C, O] forward, [16, tiles, O] × [16, C, O]ᵀ (the transformed weights read
    /// through swapped strides) for the input gradient; each made on first use.
    private var products: [[Int]: MatMulKernel] = [:]

    /// The weight transform for `geometry` (which `takes` must accept), weight [O, C, 3, 3], optional
    /// bias [O]; `relu` applies max(0, ·) to the output. `roundTiles` overrides the tiles a round takes (tests
    /// use it to split images between rounds).
    init(_ geometry: ConvolutionGeometry, weight: Tensor, bias: Tensor?, relu: Bool, roundTiles: Int? = nil) throws {
        guard Self.takes(geometry), weight.shape == geometry.weight else {
            throw KernelError("Winograd F(2×2, 3×3) does not take a convolution \(geometry.input) * \(geometry.weight)")
        }
        (batch, inChannels, height, width) = (geometry.input[0], geometry.input[1], geometry.input[2], geometry.input[3])
        outChannels = geometry.weight[0]
        (tileRows, tileColumns) = ((height + 1) / 2, (width + 1) / 2)
        let tiles = roundTiles ?? max(128, 32768 / min(inChannels, outChannels))
        rowsPerRound = min(batch * tileRows, (tiles + tileColumns - 1) / tileColumns)
        self.bias = bias?.data
        self.relu = relu
        weightRow = outChannels % 128 == 0 ? outChannels + 16 : outChannels
        transformed = try DNNLMemory(DNNLLayout.plain([16, inChannels, weightRow]), owning: true)
        Self.transformWeights(weight.data, outChannels: outChannels, inChannels: inChannels, row: weightRow,
                              into: transformed.pointer!.assumingMemoryBound(to: Float.self))
    }

    /// y = conv(x) (+ bias, then the ReLU), x [N, C, H, W] and y [N, O, H, W] in 8-channel blocks.
    func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) throws {
        try rounds(x, into: y, inputGradient: false)
    }

    /// dx from dy (the gradient before any fused ReLU), dy [N, O, H, W] and dx [N, C, H, W] in 8-channel blocks.
    func backwardData(_ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) throws {
        try rounds(dy, into: dx, inputGradient: true)
    }

    /// Transforms, products and inverse transforms, `rowsPerRound` rows of tiles at a time, from `source` to `target`:
    /// the forward (C channels to O, with the bias and the ReLU), or the input gradient (O to C, turned weights).
    private func rounds(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, inputGradient: Bool) throws {
        let (k, k2) = inputGradient ? (outChannels, inChannels) : (inChannels, outChannels)
        let slots = inputGradient ? Self.turned : Self.identity
        /// The products for a round of `rows` rows of tiles.
        func product(_ rows: Int) throws -> MatMulKernel {
            if let made = products[[rows, inputGradient ? 1 : 0]] { return made }
            let made = try MatMulKernel(a: [16, rows * tileColumns, k], b: [16, inChannels, outChannels], transposeB: inputGradient, bRowStride: weightRow)
            products[[rows, inputGradient ? 1 : 0]] = made
            return made
        }
        let rows = rowsPerRound * tileColumns
        let v = try DNNLTensor(shape: [16, rows, k], layout: DNNLLayout.plain([16, rows, k]))
        let m = try DNNLTensor(shape: [16, rows, k2], layout: DNNLLayout.plain([16, rows, k2]))
        let (vp, mp) = (v.memory.pointer!.assumingMemoryBound(to: Float.self), m.memory.pointer!.assumingMemoryBound(to: Float.self))
        for first in stride(from: 0, to: batch * tileRows, by: rowsPerRound) {
            let round = first..<min(first + rowsPerRound, batch * tileRows)
            transformInput(source, rows: round, channels: k, into: vp, slots: slots)
            try product(round.count).run(UnsafeMutableRawPointer(vp), transformed.pointer!, into: UnsafeMutableRawPointer(mp))
            transformOutput(UnsafePointer(mp), rows: round, channels: k2, slots: slots, into: target,
                            bias: inputGradient ? nil : bias, relu: relu && !inputGradient)
        }
    }

    /// Where position ξ = 4i + j goes among the 16 products: itself, or (for the turned weights of the input
    /// gradient) 4·p(i) + p(j) with p swapping 0 and 3.
    private static let identity = Array(0..<16)
    private static let turned = (0..<16).map { xi -> Int in
        let p = [3, 1, 2, 0]
        return 4 * p[xi / 4] + p[xi % 4]
    }

    /// U[ξ, c, o] = (G·w[o, c]·Gᵀ)[ξ] with G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]], in double precision,
    /// U's rows `rowLength` floats apart.
    private static func transformWeights(_ w: [Float], outChannels: Int, inChannels: Int, row rowLength: Int, into u: UnsafeMutablePointer<Float>) {
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let g = (0..<9).map { Double(w[(o * inChannels + c) * 9 + $0]) }
                var gg = [Double](repeating: 0, count: 12)   // G·g, 4 × 3
                for j in 0..<3 {
                    gg[j] = g[j]
                    gg[3 + j] = 0.5 * (g[j] + g[3 + j] + g[6 + j])
                    gg[6 + j] = 0.5 * (g[j] - g[3 + j] + g[6 + j])
                    gg[9 + j] = g[6 + j]
                }
                for i in 0..<4 {
                    let (a, b, d) = (gg[3 * i], gg[3 * i + 1], gg[3 * i + 2])
                    let row = [a, 0.5 * (a + b + d), 0.5 * (a - b + d), d]
                    for j in 0..<4 { u[((4 * i + j) * inChannels + c) * rowLength + o] = Float(row[j]) }
                }
            }
        }
    }

    /// V[slots[ξ], tile, c] = (Bᵀ·d·B)[ξ] for each tile's 4×4 patch d (rows 2ty − 1 …, zeros outside the map), with
    /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]; `source` (the whole batch) has `channels` channels
    /// in blocks of 8. `rows` are rows of tiles over the batch (image n's row ty is n·tileRows + ty), the round's tiles
    /// numbered from its first row.
    /// Tile by tile, all channel blocks of a tile in turn, so each position's row of V is written whole.
    private func transformInput(_ source: UnsafePointer<Float>, rows: Range<Int>, channels: Int, into v: UnsafeMutablePointer<Float>, slots: [Int]) {
        let (h, w, tr, tc) = (height, width, tileRows, tileColumns)
        let tiles = rows.count * tc, blocks = channels / 8, plane = h * w * 8
        slots.withUnsafeBufferPointer { slot in
            Parallel.rows(rows.count, size: tc * 16 * channels) { range in
                withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 16) { d in
                    for row in range {
                        let (n, ty) = (rows.lowerBound + row).quotientAndRemainder(dividingBy: tr)
                        let image = UnsafeRawPointer(source + n * blocks * plane)
                        for tx in 0..<tc {
                            let tile = row * tc + tx
                            let (y0, x0) = (2 * ty - 1, 2 * tx - 1)
                            let interior = y0 >= 0 && y0 + 3 < h && x0 >= 0 && x0 + 3 < w
                            for block in 0..<blocks {
                                let patch = image + block * plane * 4
                                if interior {
                                    for i in 0..<4 {
                                        let rowStart = ((y0 + i) * w + x0) * 32
                                        for j in 0..<4 { d[4 * i + j] = patch.loadUnaligned(fromByteOffset: rowStart + j * 32, as: SIMD8<Float>.self) }
                                    }
                                } else {
                                    for i in 0..<4 {
                                        let y = y0 + i
                                        for j in 0..<4 {
                                            let x = x0 + j
                                            d[4 * i + j] = y >= 0 && y < h && x >= 0 && x < w
                                                ? patch.loadUnaligned(fromByteOffset: (y * w + x) * 32, as: SIMD8<Float>.self) : SIMD8(repeating: 0)
                                        }
                                    }
                                }
                                for j in 0..<4 {   // columns of Bᵀ·d
                                    let (d0, d1, d2, d3) = (d[j], d[4 + j], d[8 + j], d[12 + j])
                                    d[j] = d0 - d2
                                    d[4 + j] = d1 + d2
                                    d[8 + j] = d2 - d1
                                    d[12 + j] = d1 - d3
                                }
                                let column = tile * channels + block * 8
                                func store(_ xi: Int, _ value: SIMD8<Float>) {
                                    UnsafeMutableRawPointer(v + slot[xi] * tiles * channels + column).storeBytes(of: value, as: SIMD8<Float>.self)
                                }
                                for i in 0..<4 {   // rows of (Bᵀ·d)·B
                                    let (t0, t1, t2, t3) = (d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3])
                                    store(4 * i, t0 - t2)
                                    store(4 * i + 1, t1 + t2)
                                    store(4 * i + 2, t2 - t1)
                                    store(4 * i + 3, t1 - t3)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// y[2ty + r, 2tx + s] = (Aᵀ·m·A)[r, s] (+ bias, ReLU) for each tile, m[ξ] = M[slots[ξ], tile, ·], with
    /// Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]; outputs past the map's edge are dropped. `target` (the whole batch) has
    /// `channels` channels in blocks of 8; `rows` as in `transformInput`. Tile by tile, all channel blocks of a tile in turn, so each row of M is read whole.
    private func transformOutput(_ m: UnsafePointer<Float>, rows: Range<Int>, channels: Int, slots: [Int], into target: UnsafeMutablePointer<Float>,
                                 bias: [Float]?, relu: Bool) {
        let (h, w, tr, tc) = (height, width, tileRows, tileColumns)
        let tiles = rows.count * tc, blocks = channels / 8, plane = h * w * 8
        slots.withUnsafeBufferPointer { slot in
            (bias ?? []).withUnsafeBufferPointer { shift in
                Parallel.rows(rows.count, size: tc * 16 * channels) { range in
                    for row in range {
                        let (n, ty) = (rows.lowerBound + row).quotientAndRemainder(dividingBy: tr)
                        let image = UnsafeMutableRawPointer(target + n * blocks * plane)
                        for tx in 0..<tc {
                            let tile = row * tc + tx
                            for block in 0..<blocks {
                                let column = tile * channels + block * 8
                                func at(_ xi: Int) -> SIMD8<Float> {
                                    UnsafeRawPointer(m + slot[xi] * tiles * channels + column).loadUnaligned(as: SIMD8<Float>.self)
                                }
                                let s0 = (at(0) + at(4) + at(8), at(1) + at(5) + at(9), at(2) + at(6) + at(10), at(3) + at(7) + at(11))
                                let s1 = (at(4) - at(8) - at(12), at(5) - at(9) - at(13), at(6) - at(10) - at(14), at(7) - at(11) - at(15))
                                let b = bias == nil ? SIMD8<Float>() : UnsafeRawPointer(shift.baseAddress! + block * 8).loadUnaligned(as: SIMD8<Float>.self)
                                let output = image + block * plane * 4
                                func store(_ y: Int, _ x: Int, _ sum: SIMD8<Float>) {
                                    guard y < h, x < w else { return }
                                    var value = sum + b
                                    if relu { value = value.replacing(with: 0, where: value .< 0) }
                                    output.storeBytes(of: value, toByteOffset: (y * w + x) * 32, as: SIMD8<Float>.self)
                                }
                                store(2 * ty, 2 * tx, s0.0 + s0.1 + s0.2)
                                store(2 * ty, 2 * tx + 1, s0.1 - s0.2 - s0.3)
                                store(2 * ty + 1, 2 * tx, s1.0 + s1.1 + s1.2)
                                store(2 * ty + 1, 2 * tx + 1, s1.1 - s1.2 - s1.3)
                            }
                        }
                    }
                }
            }
        }
    }
}
