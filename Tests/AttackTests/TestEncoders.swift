import Foundation
import Tensor
@testable import Attack

/// Random matrix rows × cols with entries N(0, std²).
func randomMatrix(_ rows: Int, _ cols: Int, std: Float = 1, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return Tensor.normal([rows, cols], std: std, using: &g).data
}

func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, using: &g)
}

/// z = W·x + b per sample (x flattened), output "features" [B, m].
final class LinearEncoder: DifferentiableEncoder {
    let w: [Float], b: [Float], m: Int, n: Int
    var forwardCount = 0, pullbackCount = 0
    var lastBatch = 0
    let outputNames = ["features"]
    init(w: [Float], m: Int, n: Int, b: [Float]? = nil) {
        self.w = w; self.m = m; self.n = n; self.b = b ?? [Float](repeating: 0, count: m)
    }
    func forward(_ x: Tensor) throws -> [Tensor] {
        forwardCount += 1
        let bs = x.shape[0]
        lastBatch = bs
        var out = [Float](repeating: 0, count: bs * m)
        for s in 0..<bs { for i in 0..<m {
            var acc: Float = b[i]
            for j in 0..<n { acc += w[i * n + j] * x.data[s * n + j] }
            out[s * m + i] = acc
        } }
        return [Tensor(shape: [bs, m], data: out)]
    }
    func pullback(_ seeds: [Tensor]) throws -> Tensor {
        pullbackCount += 1
        let bs = lastBatch
        var g = [Float](repeating: 0, count: bs * n)
        for s in 0..<bs { for i in 0..<m {
            let c = seeds[0].data[s * m + i]
            if c == 0 { continue }
            for j in 0..<n { g[s * n + j] += c * w[i * n + j] }
        } }
        return Tensor(shape: [bs, n], data: g)
    }
}

/// z = tanh(W·x) per sample; input shape [B, 2, n/2] to exercise non-flat inputs.
final class TanhEncoder: DifferentiableEncoder {
    let w: [Float], m: Int, n: Int
    var lastX: Tensor?, lastZ: Tensor?
    let outputNames = ["h"]
    init(w: [Float], m: Int, n: Int) { self.w = w; self.m = m; self.n = n }
    func forward(_ x: Tensor) throws -> [Tensor] {
        let bs = x.shape[0]
        var out = [Float](repeating: 0, count: bs * m)
        for s in 0..<bs { for i in 0..<m {
            var acc: Float = 0
            for j in 0..<n { acc += w[i * n + j] * x.data[s * n + j] }
            out[s * m + i] = tanh(acc)
        } }
        lastX = x
        lastZ = Tensor(shape: [bs, m], data: out)
        return [lastZ!]
    }
    func pullback(_ seeds: [Tensor]) throws -> Tensor {
        let x = lastX!, z = lastZ!
        let bs = x.shape[0]
        var g = [Float](repeating: 0, count: bs * n)
        for s in 0..<bs { for i in 0..<m {
            let c = seeds[0].data[s * m + i] * (1 - z.data[s * m + i] * z.data[s * m + i])
            for j in 0..<n { g[s * n + j] += c * w[i * n + j] }
        } }
        return Tensor(shape: x.shape, data: g)
    }
}

/// Several outputs: "features" = W1·x [B, 6], "logits" = W2·features [B, 3], "constant" [B, 2] (independent of x),
/// "energy" = Σ x² per sample [B] (a scalar output).
final class MultiEncoder: DifferentiableEncoder {
    let w1: [Float], w2: [Float]
    let n: Int
    var lastX: Tensor?
    let outputNames = ["features", "logits", "constant", "energy"]
    init(n: Int, seed: UInt64) {
        self.n = n
        w1 = randomMatrix(6, n, std: 0.5, seed: seed)
        w2 = randomMatrix(3, 6, seed: seed + 1)
    }
    func forward(_ x: Tensor) throws -> [Tensor] {
        lastX = x
        let bs = x.shape[0]
        var f = [Float](repeating: 0, count: bs * 6), l = [Float](repeating: 0, count: bs * 3), e = [Float](repeating: 0, count: bs)
        for s in 0..<bs {
            for i in 0..<6 { for j in 0..<n { f[s * 6 + i] += w1[i * n + j] * x.data[s * n + j] } }
            for i in 0..<3 { for j in 0..<6 { l[s * 3 + i] += w2[i * 6 + j] * f[s * 6 + j] } }
            for j in 0..<n { e[s] += x.data[s * n + j] * x.data[s * n + j] }
        }
        return [Tensor(shape: [bs, 6], data: f), Tensor(shape: [bs, 3], data: l),
                Tensor(shape: [bs, 2], data: [Float](repeating: 0.5, count: bs * 2)), Tensor(shape: [bs], data: e)]
    }
    func pullback(_ seeds: [Tensor]) throws -> Tensor {
        let x = lastX!
        let bs = x.shape[0]
        var g = [Float](repeating: 0, count: bs * n)
        for s in 0..<bs {
            var sf = Array(seeds[0].data[(s * 6)..<((s + 1) * 6)])
            for i in 0..<3 { for j in 0..<6 { sf[j] += seeds[1].data[s * 3 + i] * w2[i * 6 + j] } }
            for i in 0..<6 { for j in 0..<n { g[s * n + j] += sf[i] * w1[i * n + j] } }
            for j in 0..<n { g[s * n + j] += 2 * seeds[3].data[s] * x.data[s * n + j] }
        }
        return Tensor(shape: x.shape, data: g)
    }
}
