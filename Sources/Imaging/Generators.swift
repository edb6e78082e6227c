import Foundation
import Tensor

/// Seeded out-of-distribution source pictures ([C, H, W] tensors in [0, 1]): the Script built-ins `spiral`,
/// `checkerboard` and `gradient`. Every generator draws all its randomness from the `SeededGenerator` it is
/// given, so a seed reproduces a picture bit for bit.
public enum Generators {
    static func check(_ channels: Int, _ height: Int, _ width: Int) throws {
        guard channels >= 1, channels <= 4, height > 0, width > 0, height * width <= ImageLimits.maximumPixels else {
            throw ImagingError("cannot make a \(channels)x\(height)x\(width) picture (1 to 4 channels, positive size)")
        }
    }

    /// A bright Archimedean spiral r = b·θ on black, drawn as an anti-aliased stroke whose intensity falls off
    /// linearly over one pixel at its edge. Turns (2 to 4.5), phase, direction, a small offset of the centre
    /// and (for several channels) the colour come from the generator. Same draws and pixels as the Script
    /// built-in `spiral`, which can call this.
    public static func spiral(channels: Int, height h: Int, width w: Int, using generator: inout SeededGenerator,
                              checkInterrupt: () throws -> Void = {}) throws -> Tensor {
        try check(channels, h, w)
        let turns = 2 + 2.5 * generator.nextUniform()
        let phase = 2 * Double.pi * generator.nextUniform()
        let direction: Double = generator.nextUniform() < 0.5 ? 1 : -1
        let short = Double(Swift.min(h, w))
        let cx = Double(w - 1) / 2 + (generator.nextUniform() - 0.5) * 0.1 * Double(w)
        let cy = Double(h - 1) / 2 + (generator.nextUniform() - 0.5) * 0.1 * Double(h)
        let outer = 0.45 * short
        let thetaMax = turns * 2 * Double.pi
        let thetaMin = 0.25 * 2 * Double.pi
        let b = outer / thetaMax
        // About 2 px wide at 28 px, scaling with the picture, but thinner than the gap between arms.
        let halfWidth = Swift.min(Swift.max(0.6, short / 28), 0.3 * 2 * Double.pi * b)
        var tint = (0..<channels).map { _ in 0.4 + 0.6 * generator.nextUniform() }
        if channels == 1 { tint = [1] } else { let m = tint.reduce(0, Swift.max); tint = tint.map { $0 / m } }

        func point(_ theta: Double) -> (Double, Double) {
            let angle = direction * theta + phase
            return (cx + b * theta * cos(angle), cy + b * theta * sin(angle))
        }
        let ends = [point(thetaMin), point(thetaMax)]
        var plane = [Float](repeating: 0, count: h * w)
        for y in 0..<h {
            if y % 64 == 0 { try checkInterrupt() }
            for x in 0..<w {
                let dx = Double(x) - cx, dy = Double(y) - cy
                let r = (dx * dx + dy * dy).squareRoot()
                // The arm passes this pixel's angle at θ ≡ direction·(angle − phase) (mod 2π).
                var base = (direction * (atan2(dy, dx) - phase)).truncatingRemainder(dividingBy: 2 * Double.pi)
                if base < 0 { base += 2 * Double.pi }
                var distance = Double.infinity
                var k = 0.0
                while base + 2 * Double.pi * k <= thetaMax {
                    let theta = base + 2 * Double.pi * k
                    if theta >= thetaMin {
                        // Radial distance, corrected for the angle at which the arm crosses the radius.
                        distance = Swift.min(distance, abs(r - b * theta) * r / (r * r + b * b).squareRoot())
                    }
                    k += 1
                }
                for (ex, ey) in ends {
                    distance = Swift.min(distance, ((Double(x) - ex) * (Double(x) - ex) + (Double(y) - ey) * (Double(y) - ey)).squareRoot())
                }
                plane[y * w + x] = Float(Swift.min(1, Swift.max(0, halfWidth + 0.5 - distance)))
            }
        }
        var data: [Float] = []
        data.reserveCapacity(channels * h * w)
        for c in 0..<channels { data += plane.map { $0 * Float(tint[c]) } }
        return Tensor(shape: [channels, h, w], data: data)
    }

    /// Two random colours (grey levels for one channel) that differ clearly.
    private static func colourPair(_ channels: Int, _ g: inout SeededGenerator) -> ([Float], [Float]) {
        while true {
            let a = (0..<channels).map { _ in Float(g.nextUniform()) }
            let b = (0..<channels).map { _ in Float(g.nextUniform()) }
            let distance = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / Float(channels).squareRoot()
            if distance > 0.35 { return (a, b) }
        }
    }

    /// A checkerboard of square cells (side 2 px to a quarter of the shorter side) at a random offset, in two
    /// random colours.
    public static func checkerboard(channels: Int, height: Int, width: Int, using g: inout SeededGenerator) throws -> Tensor {
        try check(channels, height, width)
        let largest = Swift.max(2, Swift.min(height, width) / 4)
        let cell = 2 + Int(g.nextUniform() * Double(largest - 1))
        let ox = Int(g.nextUniform() * Double(cell)), oy = Int(g.nextUniform() * Double(cell))
        let (a, b) = colourPair(channels, &g)
        var data = [Float](repeating: 0, count: channels * height * width)
        for y in 0..<height {
            for x in 0..<width {
                let odd = ((x + ox) / cell + (y + oy) / cell) % 2 == 1
                for c in 0..<channels { data[(c * height + y) * width + x] = odd ? b[c] : a[c] }
            }
        }
        return Tensor(shape: [channels, height, width], data: data)
    }

    /// A linear ramp between two random colours along a random direction, across the whole picture.
    public static func linearGradient(channels: Int, height: Int, width: Int, using g: inout SeededGenerator) throws -> Tensor {
        try check(channels, height, width)
        let angle = 2 * Double.pi * g.nextUniform()
        let (a, b) = colourPair(channels, &g)
        let (ux, uy) = (cos(angle), sin(angle))
        let cx = Double(width - 1) / 2, cy = Double(height - 1) / 2
        let extent = Swift.max(1e-9, abs(ux) * cx + abs(uy) * cy)  // projection of a corner
        return fill(channels, height, width, a, b) { x, y in (((Double(x) - cx) * ux + (Double(y) - cy) * uy) / extent + 1) / 2 }
    }

    /// A radial ramp from a random centre (inside the middle half of the picture) out to the farthest corner.
    public static func radialGradient(channels: Int, height: Int, width: Int, using g: inout SeededGenerator) throws -> Tensor {
        try check(channels, height, width)
        let cx = Double(width - 1) * (0.25 + 0.5 * g.nextUniform())
        let cy = Double(height - 1) * (0.25 + 0.5 * g.nextUniform())
        let (a, b) = colourPair(channels, &g)
        let corners = [(0.0, 0.0), (Double(width - 1), 0), (0, Double(height - 1)), (Double(width - 1), Double(height - 1))]
        let radius = corners.reduce(1e-9) { Swift.max($0, (($1.0 - cx) * ($1.0 - cx) + ($1.1 - cy) * ($1.1 - cy)).squareRoot()) }
        return fill(channels, height, width, a, b) { x, y in
            ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot() / radius
        }
    }

    private static func fill(_ channels: Int, _ height: Int, _ width: Int, _ a: [Float], _ b: [Float],
                             _ t: (Int, Int) -> Double) -> Tensor {
        var data = [Float](repeating: 0, count: channels * height * width)
        for y in 0..<height {
            for x in 0..<width {
                let s = Float(Swift.min(1, Swift.max(0, t(x, y))))
                for c in 0..<channels { data[(c * height + y) * width + x] = a[c] + (b[c] - a[c]) * s }
            }
        }
        return Tensor(shape: [channels, height, width], data: data)
    }
}
