import Tensor

/// Turns tensors into PNG pictures for a notebook.
///
/// Accepted tensors: HxW (gray), CxHxW with C = 1 (gray) or 3 (RGB), and NxCxHxW (a grid of N pictures).
/// Values are clamped to [0, 1]. Small pictures are magnified by an integer factor with nearest-neighbour
/// sampling so that the shorter side of each picture is at least 128 px (without letting the whole grid grow
/// past 1024 px), which keeps MNIST-sized inputs visible and their pixels crisp.
public enum PictureDisplay {
    /// Small pictures are magnified until each one's shorter side is at least this many pixels.
    public static let minimumShortSide = 128
    /// Magnification stops before the whole grid's longer side passes this many pixels.
    public static let maximumSide = 1024
    static let gap = 2

    /// A picture (or grid of pictures) ready for a notebook: PNG bytes and the size in pixels.
    public struct Rendered: Sendable, Equatable {
        /// The PNG file's bytes.
        public var png: [UInt8]
        /// Width of the PNG in pixels.
        public var width: Int
        /// Height of the PNG in pixels.
        public var height: Int
    }

    /// Whether `tensor` has a shape `render` accepts.
    public static func isDisplayable(_ tensor: Tensor) -> Bool {
        (try? pictures(in: tensor)) != nil
    }

    /// The pictures (each CxHxW with C = 1 or 3) that a tensor shows as.
    public static func pictures(in tensor: Tensor) throws -> [Tensor] {
        let s = tensor.shape
        guard tensor.count > 0 else { throw ImagingError("cannot show an empty tensor of shape \(s)") }
        switch s.count {
        case 2: return [Tensor(shape: [1] + s, data: tensor.data)]
        case 3 where s[0] == 1 || s[0] == 3: return [tensor]
        case 4 where s[1] == 1 || s[1] == 3: return (0..<s[0]).map { tensor.slice($0) }
        default:
            throw ImagingError("cannot show a tensor of shape \(s) as a picture: expected [H, W], [C, H, W] or [N, C, H, W] with C = 1 or 3")
        }
    }

    /// Renders one tensor (a picture or a batch of them).
    public static func render(_ tensor: Tensor) throws -> Rendered {
        try render(pictures: pictures(in: tensor))
    }

    /// Renders pictures side by side in a grid (`columns` wide, or about square with one row for up to 8), padding
    /// smaller pictures, and turning gray pictures to RGB when any picture has colour.
    public static func render(pictures: [Tensor], columns: Int? = nil) throws -> Rendered {
        guard !pictures.isEmpty else { throw ImagingError("nothing to show") }
        for p in pictures where !(p.rank == 3 && (p.shape[0] == 1 || p.shape[0] == 3) && p.count > 0) {
            throw ImagingError("cannot show a tensor of shape \(p.shape) as a picture")
        }
        let channels = pictures.contains { $0.shape[0] == 3 } ? 3 : 1
        let cellH = pictures.reduce(0) { max($0, $1.shape[1]) }
        let cellW = pictures.reduce(0) { max($0, $1.shape[2]) }
        let n = pictures.count
        let columns = max(1, min(n, columns ?? (n <= 8 ? n : Int(Double(n).squareRoot().rounded(.up)))))
        let rows = (n + columns - 1) / columns
        let gridW = columns * cellW + (columns - 1) * gap
        let gridH = rows * cellH + (rows - 1) * gap
        guard gridW <= 16384, gridH <= 16384 else { throw ImagingError("picture grid \(gridW)x\(gridH) is too large to show") }

        var factor = Swift.max(1, (minimumShortSide + Swift.min(cellH, cellW) - 1) / Swift.min(cellH, cellW))
        while factor > 1 && factor * Swift.max(gridW, gridH) > maximumSide { factor -= 1 }
        let outW = gridW * factor, outH = gridH * factor
        // Gaps and padding are mid-gray so pictures stay distinguishable on both black and white backgrounds.
        var pixels = [UInt8](repeating: 128, count: outW * outH * channels)
        for (index, picture) in pictures.enumerated() {
            let originX = (index % columns) * (cellW + gap) * factor
            let originY = (index / columns) * (cellH + gap) * factor
            let (c, h, w) = (picture.shape[0], picture.shape[1], picture.shape[2])
            picture.data.withUnsafeBufferPointer { data in
                for y in 0..<(h * factor) {
                    let row = ((originY + y) * outW + originX) * channels
                    for x in 0..<(w * factor) {
                        let source = (y / factor) * w + x / factor
                        for k in 0..<channels {
                            pixels[row + x * channels + k] = quantize(data[(c == 1 ? 0 : k) * h * w + source])
                        }
                    }
                }
            }
        }
        return Rendered(png: try PNG.encode(pixels: pixels, width: outW, height: outH, channels: channels),
                        width: outW, height: outH)
    }
}
