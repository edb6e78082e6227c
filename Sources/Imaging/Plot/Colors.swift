import Foundation

/// An sRGB colour with components in [0, 1].
public struct PlotColor: Sendable, Equatable, Hashable {
    /// Red, green, blue and opacity, each in [0, 1].
    public var red, green, blue, alpha: Double

    /// A colour from its components (opaque unless `alpha` is given).
    public init(red: Double, green: Double, blue: Double, alpha: Double = 1) {
        self.red = red; self.green = green; self.blue = blue; self.alpha = alpha
    }

    /// From "#RRGGBB" (or "RRGGBB").
    public init(hex: String) {
        let digits = hex.hasPrefix("#") ? String(hex.dropFirst()) : hex
        let v = UInt32(digits, radix: 16) ?? 0
        self.init(red: Double(v >> 16 & 0xFF) / 255, green: Double(v >> 8 & 0xFF) / 255, blue: Double(v & 0xFF) / 255)
    }

    /// "#RRGGBB" (alpha is left out).
    public var hex: String {
        func b(_ v: Double) -> String {
            let s = String(Int((Swift.max(0, Swift.min(1, v)) * 255).rounded()), radix: 16, uppercase: true)
            return s.count == 1 ? "0" + s : s
        }
        return "#" + b(red) + b(green) + b(blue)
    }

    var bytes: (UInt8, UInt8, UInt8) {
        func b(_ v: Double) -> UInt8 { UInt8((Swift.max(0, Swift.min(1, v)) * 255).rounded()) }
        return (b(red), b(green), b(blue))
    }

    func mixed(with other: PlotColor, _ t: Double) -> PlotColor {
        PlotColor(red: red + (other.red - red) * t, green: green + (other.green - green) * t,
                  blue: blue + (other.blue - blue) * t, alpha: alpha + (other.alpha - alpha) * t)
    }

    /// Opaque white.
    public static let white = PlotColor(red: 1, green: 1, blue: 1)
    /// Opaque black.
    public static let black = PlotColor(red: 0, green: 0, blue: 0)
    static let ink = PlotColor(hex: "#262626")        // text
    static let spine = PlotColor(hex: "#4D4D4D")
    static let gridLine = PlotColor(hex: "#E8E8E8")
    static let muted = PlotColor(hex: "#8C8C8C")

    /// Okabe & Ito's colour-blind-safe palette (2008), reordered so the first colours contrast most on white;
    /// the pale yellow comes last.
    public static let palette: [PlotColor] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
        .map { PlotColor(hex: $0) }
}

/// A colour map from [0, 1] to colours, by linear interpolation between evenly spaced anchors.
public struct ColorMap: Sendable, Equatable {
    /// The map's name, as plot summaries mention it.
    public var name: String
    var anchors: [PlotColor]

    /// The colour at `t` in [0, 1] (clamped; NaN gives the colour at 0).
    public func color(at t: Double) -> PlotColor {
        let u = t.isNaN ? 0 : Swift.max(0, Swift.min(1, t)) * Double(anchors.count - 1)
        let i = Swift.min(Int(u), anchors.count - 2)
        return anchors[i].mixed(with: anchors[i + 1], u - Double(i))
    }

    /// 256-entry lookup table of RGB bytes.
    func table() -> [(UInt8, UInt8, UInt8)] { (0..<256).map { color(at: Double($0) / 255).bytes } }

    /// matplotlib's viridis (perceptually uniform, colour-blind friendly), sampled at 17 points.
    public static let viridis = ColorMap(name: "viridis", anchors: [
        "#440154", "#48186A", "#472D7B", "#424086", "#3B528B", "#33638D", "#2C728E", "#26828E", "#21918C",
        "#1FA088", "#28AE80", "#3FBC73", "#5EC962", "#84D44B", "#ADDC30", "#D8E219", "#FDE725",
    ].map { PlotColor(hex: $0) })

    /// A diverging map for signed values (perturbations): blue below zero, white at zero, red above
    /// (ColorBrewer RdBu reversed, 11 classes).
    public static let diverging = ColorMap(name: "diverging (RdBu)", anchors: [
        "#053061", "#2166AC", "#4393C3", "#92C5DE", "#D1E5F0", "#F7F7F7", "#FDDBC7", "#F4A582", "#D6604D", "#B2182B", "#67001F",
    ].map { PlotColor(hex: $0) })

    /// Grey ramp from black to white.
    public static let gray = ColorMap(name: "gray", anchors: [.black, .white])
}
