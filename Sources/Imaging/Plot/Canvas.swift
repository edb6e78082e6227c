import CCairo
import Foundation

/// A thin wrapper over a Cairo image surface, in logical units (the surface is `scale` times larger).
/// Cairo: anti-aliased vector rendering with FreeType/fontconfig text. Only used inside one render call.
final class Canvas {
    let surface: OpaquePointer
    let cr: OpaquePointer
    let width: Double, height: Double, scale: Double
    let pixelWidth: Int, pixelHeight: Int
    static let fontFamily = "DejaVu Sans"

    init(width: Double, height: Double, scale: Double) throws {
        guard width >= 16, height >= 16, width <= 8192, height <= 8192, scale > 0, scale <= 8 else {
            throw ImagingError("cannot render a plot of \(width)x\(height) at scale \(scale)")
        }
        self.width = width; self.height = height; self.scale = scale
        pixelWidth = Int((width * scale).rounded()); pixelHeight = Int((height * scale).rounded())
        guard pixelWidth * pixelHeight <= 1 << 26 else { throw ImagingError("plot of \(pixelWidth)x\(pixelHeight) pixels is too large") }
        surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(pixelWidth), Int32(pixelHeight))
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            cairo_surface_destroy(surface)
            throw ImagingError("Cairo could not create a \(pixelWidth)x\(pixelHeight) surface")
        }
        cr = cairo_create(surface)
        cairo_scale(cr, scale, scale)
        let options = cairo_font_options_create()
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT)
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_set_font_options(cr, options)
        cairo_font_options_destroy(options)
        cairo_select_font_face(cr, Canvas.fontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT)
        setColor(.white)
        cairo_paint(cr)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    // MARK: State

    func setColor(_ c: PlotColor, alpha: Double = 1) { cairo_set_source_rgba(cr, c.red, c.green, c.blue, c.alpha * alpha) }
    func lineWidth(_ w: Double) { cairo_set_line_width(cr, w) }
    func dash(_ pattern: [Double]) {
        pattern.withUnsafeBufferPointer { cairo_set_dash(cr, $0.baseAddress, Int32(pattern.count), 0) }
    }
    func save() { cairo_save(cr) }
    func restore() { cairo_restore(cr) }
    func clip(_ r: Rect) { cairo_rectangle(cr, r.x, r.y, r.width, r.height); cairo_clip(cr) }

    // MARK: Paths

    func moveTo(_ x: Double, _ y: Double) { cairo_move_to(cr, x, y) }
    func lineTo(_ x: Double, _ y: Double) { cairo_line_to(cr, x, y) }
    func rect(_ r: Rect) { cairo_rectangle(cr, r.x, r.y, r.width, r.height) }
    func stroke() { cairo_stroke(cr) }
    func fill() { cairo_fill(cr) }
    func fillPreserve() { cairo_fill_preserve(cr) }
    func newPath() { cairo_new_path(cr) }

    func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) { moveTo(x0, y0); lineTo(x1, y1); stroke() }

    /// A crisp 1-device-pixel-aligned coordinate for thin horizontal/vertical lines.
    func snap(_ v: Double, width: Double) -> Double {
        let device = width * scale
        let odd = Int(device.rounded()) % 2 == 1
        return ((v * scale).rounded(.down) + (odd ? 0.5 : 0)) / scale
    }

    func roundedRect(_ r: Rect, radius: Double) {
        let (x, y, w, h) = (r.x, r.y, r.width, r.height)
        cairo_new_sub_path(cr)
        cairo_arc(cr, x + w - radius, y + radius, radius, -Double.pi / 2, 0)
        cairo_arc(cr, x + w - radius, y + h - radius, radius, 0, Double.pi / 2)
        cairo_arc(cr, x + radius, y + h - radius, radius, Double.pi / 2, Double.pi)
        cairo_arc(cr, x + radius, y + radius, radius, Double.pi, 3 * Double.pi / 2)
        cairo_close_path(cr)
    }

    func marker(_ m: Marker, at x: Double, _ y: Double, size s: Double) {
        let r = s / 2
        switch m {
        case .circle: cairo_new_sub_path(cr); cairo_arc(cr, x, y, r, 0, 2 * Double.pi)
        case .square: cairo_rectangle(cr, x - r * 0.886, y - r * 0.886, r * 1.772, r * 1.772)
        case .diamond: moveTo(x, y - r * 1.2); lineTo(x + r, y); lineTo(x, y + r * 1.2); lineTo(x - r, y); cairo_close_path(cr)
        case .triangle:
            moveTo(x, y - r * 1.15); lineTo(x + r * 1.05, y + r * 0.7); lineTo(x - r * 1.05, y + r * 0.7); cairo_close_path(cr)
        case .plus: moveTo(x - r, y); lineTo(x + r, y); moveTo(x, y - r); lineTo(x, y + r)
        case .cross: moveTo(x - r * 0.8, y - r * 0.8); lineTo(x + r * 0.8, y + r * 0.8); moveTo(x - r * 0.8, y + r * 0.8); lineTo(x + r * 0.8, y - r * 0.8)
        }
    }

    // MARK: Text

    func font(size: Double, bold: Bool = false) {
        cairo_select_font_face(cr, Canvas.fontFamily, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    func textWidth(_ s: String) -> Double {
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, s, &e)
        return e.x_advance
    }

    /// Ascent and descent of the current font.
    func fontMetrics() -> (ascent: Double, descent: Double) {
        var e = cairo_font_extents_t()
        cairo_font_extents(cr, &e)
        return (e.ascent, e.descent)
    }

    enum HAlign { case left, center, right }
    enum VAlign { case top, middle, baseline, bottom }

    /// Draws text anchored at (x, y). `middle` centres on the height of digits/capitals.
    func text(_ s: String, _ x: Double, _ y: Double, h: HAlign = .left, v: VAlign = .baseline, rotated: Bool = false) {
        let w = textWidth(s)
        let size = currentFontSize()
        let dx: Double = h == .left ? 0 : h == .center ? -w / 2 : -w
        let capital = size * 0.729  // DejaVu Sans cap height
        let dy: Double
        switch v {
        case .baseline: dy = 0
        case .middle: dy = capital / 2
        case .top: dy = capital
        case .bottom: dy = -size * 0.236
        }
        save()
        cairo_translate(cr, x, y)
        if rotated { cairo_rotate(cr, -Double.pi / 2) }
        moveTo(dx, dy)
        cairo_show_text(cr, s)
        newPath()
        restore()
    }

    private func currentFontSize() -> Double {
        var m = cairo_matrix_t()
        cairo_get_font_matrix(cr, &m)
        return m.yy
    }

    // MARK: Images

    /// Paints RGB bytes (w×h, interleaved) into `r`, nearest-neighbour when magnified `crisp`ly.
    func image(rgb: [UInt8], width w: Int, height h: Int, in r: Rect, crisp: Bool) {
        let stride = Int(cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, Int32(w)))
        let image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(w), Int32(h))
        defer { cairo_surface_destroy(image) }
        guard cairo_surface_status(image) == CAIRO_STATUS_SUCCESS, let data = cairo_image_surface_get_data(image) else { return }
        cairo_surface_flush(image)
        let words = UnsafeMutableRawPointer(data)
        for y in 0..<h {
            let row = (words + y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<w {
                let i = (y * w + x) * 3
                row[x] = 0xFF00_0000 | UInt32(rgb[i]) << 16 | UInt32(rgb[i + 1]) << 8 | UInt32(rgb[i + 2])
            }
        }
        cairo_surface_mark_dirty(image)
        save()
        cairo_translate(cr, r.x, r.y)
        cairo_scale(cr, r.width / Double(w), r.height / Double(h))
        cairo_set_source_surface(cr, image, 0, 0)
        let pattern = cairo_get_source(cr)
        cairo_pattern_set_filter(pattern, crisp ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD)
        cairo_pattern_set_extend(pattern, CAIRO_EXTEND_PAD)
        cairo_rectangle(cr, 0, 0, Double(w), Double(h))
        cairo_fill(cr)
        restore()
    }

    // MARK: Output

    /// The surface as a PNG (RGB, 8-bit) with a pHYs chunk of 72 dpi × scale.
    func png() throws -> [UInt8] {
        cairo_surface_flush(surface)
        guard let data = cairo_image_surface_get_data(surface) else { throw ImagingError("Cairo surface has no data") }
        let stride = Int(cairo_image_surface_get_stride(surface))
        let raw = UnsafeMutableRawPointer(data)
        let ppm = Int((72 * scale / 0.0254).rounded())
        do {
            // Up-filtered scanlines straight from Cairo's xRGB words (the row above is 0 for the first row).
            let rowBytes = 1 + pixelWidth * 3
            var filtered = [UInt8](repeating: 0, count: rowBytes * pixelHeight)
            filtered.withUnsafeMutableBufferPointer { out in
                for y in 0..<pixelHeight {
                    let row = (raw + y * stride).assumingMemoryBound(to: UInt32.self)
                    let above = y > 0 ? (raw + (y - 1) * stride).assumingMemoryBound(to: UInt32.self) : nil
                    var o = y * rowBytes
                    out[o] = 2  // Up
                    o += 1
                    for x in 0..<pixelWidth {
                        let p = row[x], q = above?[x] ?? 0
                        out[o] = UInt8(truncatingIfNeeded: (p >> 16) &- (q >> 16))
                        out[o + 1] = UInt8(truncatingIfNeeded: (p >> 8) &- (q >> 8))
                        out[o + 2] = UInt8(truncatingIfNeeded: p &- q)
                        o += 3
                    }
                }
            }
            if let png = FastPNG.png(filteredScanlines: filtered, width: pixelWidth, height: pixelHeight, pixelsPerMeter: ppm) {
                return png
            }
        }
        var rgb = [UInt8](repeating: 0, count: pixelWidth * pixelHeight * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            for y in 0..<pixelHeight {
                let row = (raw + y * stride).assumingMemoryBound(to: UInt32.self)
                var o = y * pixelWidth * 3
                for x in 0..<pixelWidth {
                    let p = row[x]
                    out[o] = UInt8(truncatingIfNeeded: p >> 16)
                    out[o + 1] = UInt8(truncatingIfNeeded: p >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: p)
                    o += 3
                }
            }
        }
        let png = try PNG.encode(pixels: rgb, width: pixelWidth, height: pixelHeight, channels: 3, fast: true)
        return try PNG.settingPhysicalDensity(png, pixelsPerMeter: ppm)
    }
}

struct Rect: Sendable, Equatable {
    var x, y, width, height: Double
    var maxX: Double { x + width }
    var maxY: Double { y + height }
    func inset(_ d: Double) -> Rect { Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }
    func contains(_ px: Double, _ py: Double) -> Bool { px >= x && px <= maxX && py >= y && py <= maxY }
}
