import Foundation
import Imaging

/// The kernelspec logo, drawn rather than shipped: a sun over a shimmering horizon (a mirage),
/// anti-aliased by 4×4 supersampling.
enum Logo {
    static func png(size: Int) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: size * size * 4)
        let samples = 4
        for y in 0..<size {
            for x in 0..<size {
                var rgba = (r: 0.0, g: 0.0, b: 0.0, a: 0.0)
                for sy in 0..<samples {
                    for sx in 0..<samples {
                        let u = (Double(x) + (Double(sx) + 0.5) / Double(samples)) / Double(size)
                        let v = (Double(y) + (Double(sy) + 0.5) / Double(samples)) / Double(size)
                        let c = colour(u, v)
                        rgba.r += c.0 * c.3; rgba.g += c.1 * c.3; rgba.b += c.2 * c.3; rgba.a += c.3
                    }
                }
                let n = Double(samples * samples)
                let alpha = rgba.a / n
                let i = (y * size + x) * 4
                if alpha > 0 {
                    pixels[i] = UInt8(min(255, rgba.r / rgba.a * 255))
                    pixels[i + 1] = UInt8(min(255, rgba.g / rgba.a * 255))
                    pixels[i + 2] = UInt8(min(255, rgba.b / rgba.a * 255))
                }
                pixels[i + 3] = UInt8(min(255, alpha * 255))
            }
        }
        return (try? PNG.encode(pixels: pixels, width: size, height: size, channels: 4)) ?? []
    }

    /// Colour and coverage at (u, v) in the unit square.
    private static func colour(_ u: Double, _ v: Double) -> (Double, Double, Double, Double) {
        let dx = u - 0.5, dy = v - 0.5
        guard dx * dx + dy * dy <= 0.25 else { return (0, 0, 0, 0) }        // round badge
        if v > 0.58 {
            // The shimmering band below the horizon: waves of the sun's colour on deep blue.
            let wave = sin(u * 18 + v * 40) * 0.5 + 0.5
            return wave > 0.55 ? (0.98, 0.62, 0.18, 1) : (0.10, 0.20, 0.45, 1)
        }
        let sx = u - 0.5, sy = v - 0.50
        if sx * sx + sy * sy < 0.045 { return (0.98, 0.62, 0.18, 1) }        // the sun
        return (0.10, 0.20, 0.45, 1)                                            // sky
    }
}
