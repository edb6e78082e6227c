import Foundation

/// xoshiro256** seeded through SplitMix64: fast, small, and identical on every platform and run,
/// so a notebook re-run from the top reproduces its random numbers bit for bit.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s0, s1, s2, s3: UInt64

    /// A generator whose stream depends only on `seed`.
    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A pair of independent standard normal samples (Box–Muller).
    public mutating func nextNormalPair() -> (Double, Double) {
        let u1 = 1 - nextUniform()  // in (0, 1], so the logarithm is finite
        let u2 = nextUniform()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        return (r * Foundation.cos(2 * Double.pi * u2), r * Foundation.sin(2 * Double.pi * u2))
    }
}

private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
}

extension Tensor {
    /// Uniform samples in [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, using generator: inout SeededGenerator) -> Tensor {
        let n = elementCount(shape)
        var data = [Float](repeating: 0, count: n)
        for i in 0..<n { data[i] = low + (high - low) * Float(generator.nextUniform()) }
        return Tensor(shape: shape, data: data)
    }

    /// Normal samples with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, using generator: inout SeededGenerator) -> Tensor {
        let n = elementCount(shape)
        var data = [Float](repeating: 0, count: n)
        var i = 0
        while i < n {
            let (z0, z1) = generator.nextNormalPair()
            data[i] = mean + std * Float(z0)
            if i + 1 < n { data[i + 1] = mean + std * Float(z1) }
            i += 2
        }
        return Tensor(shape: shape, data: data)
    }
}
