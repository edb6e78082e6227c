import Foundation
import Tensor

/// Resize (opset 10–19 semantics, as onnx.reference computes it): nearest, linear and cubic, every
/// coordinate_transformation_mode, antialias, exclude_outside, axes and keep_aspect_ratio_policy.
/// The interpolation is separable: one sparse linear map per resized axis, so backward applies the
/// transposed maps in reverse order. Resize-10 (inputs X, scales) and Upsample (opset 7–9, scales
/// as attribute or input) map output to input coordinates asymmetrically (x/scale) with floor for
/// nearest, as those versions define it (np.repeat for integer scales).
final class Resize: Operator {
    let node: Node
    let mode, transform, nearestMode, keepAspect: String
    let cubicA, extrapolation: Double
    let excludeOutside, antialias: Bool
    let axesAttribute: [Int]?
    let legacy: Bool
    let legacyScales: [Double]?

    init(node: Node) throws {
        self.node = node
        let a = NodeAttributes(node: node)
        mode = try a.string("mode", default: "nearest")
        legacy = node.opType == "Upsample" || node.inputs.count == 2
        if case .floats(let v)? = node.attributes["scales"] { legacyScales = v.map(Double.init) } else { legacyScales = nil }
        transform = legacy ? "asymmetric" : try a.string("coordinate_transformation_mode", default: "half_pixel")
        nearestMode = legacy ? "floor" : try a.string("nearest_mode", default: "round_prefer_floor")
        keepAspect = try a.string("keep_aspect_ratio_policy", default: "stretch")
        cubicA = Double(try a.float("cubic_coeff_a", default: -0.75))
        extrapolation = Double(try a.float("extrapolation_value", default: 0))
        excludeOutside = try a.int("exclude_outside", default: 0) != 0
        antialias = try a.int("antialias", default: 0) != 0
        axesAttribute = node.attributes["axes"] == nil ? nil : try a.ints("axes")
        guard ["nearest", "linear", "cubic"].contains(mode) else { throw EngineError("node '\(node.name)' (Resize): mode '\(mode)' is not supported") }
        guard ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize"].contains(transform) else {
            throw EngineError("node '\(node.name)' (Resize): coordinate_transformation_mode '\(transform)' is not supported")
        }
        guard ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"].contains(nearestMode) else {
            throw EngineError("node '\(node.name)' (Resize): nearest_mode '\(nearestMode)' is not supported")
        }
        guard ["stretch", "not_larger", "not_smaller"].contains(keepAspect) else {
            throw EngineError("node '\(node.name)' (Resize): keep_aspect_ratio_policy '\(keepAspect)' is not supported")
        }
        if antialias && mode == "nearest" { throw EngineError("node '\(node.name)' (Resize): antialias with mode nearest is not supported (ONNX leaves it undefined)") }
    }

    /// One axis's map: for each output position, (source index, weight) taps, or the extrapolation value.
    struct AxisMap {
        var axis: Int
        var taps: [[(Int, Float)]]
        var extrapolated: [Bool]
    }

    func coefficients(_ ratio: Double, _ scale: Double) -> [Double] {
        switch mode {
        case "nearest":
            if ratio == 1 { return [0, 1] }
            switch nearestMode {
            case "round_prefer_ceil": return ratio < 0.5 ? [1, 0] : [0, 1]
            case "floor": return [1, 0]
            case "ceil": return [0, 1]
            default: return ratio <= 0.5 ? [1, 0] : [0, 1]
            }
        case "linear":
            if !antialias { return [1 - ratio, ratio] }
            let s = min(scale, 1)
            let start = Int((-1 / s).rounded(.down) + 1), footprint = 2 - 2 * start
            let c = (start..<(start + footprint)).map { max(0, min(1, 1 - abs((Double($0) - ratio) * s))) }
            let total = c.reduce(0, +)
            return c.map { $0 / total }
        default:
            let A = cubicA
            if !antialias {
                return [((A * (ratio + 1) - 5 * A) * (ratio + 1) + 8 * A) * (ratio + 1) - 4 * A,
                        ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1,
                        ((A + 2) * (1 - ratio) - (A + 3)) * (1 - ratio) * (1 - ratio) + 1,
                        ((A * ((1 - ratio) + 1) - 5 * A) * ((1 - ratio) + 1) + 8 * A) * ((1 - ratio) + 1) - 4 * A]
            }
            let s = min(scale, 1)
            func k(_ v: Double) -> Double {
                let x = abs(v), x2 = x * x, x3 = x2 * x
                if x <= 1 { return (A + 2) * x3 - (A + 3) * x2 + 1 }
                if x < 2 { return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A }
                return 0
            }
            let start = Int((-2 / s).rounded(.down) + 1), end = 2 - start
            let c = (start..<end).map { k(s * (Double($0) - ratio)) }
            let total = c.reduce(0, +)
            return c.map { $0 / total }
        }
    }

    func plan(_ shape: [Int], _ inputs: [RuntimeValue?]) throws -> (output: [Int], maps: [AxisMap]) {
        let r = shape.count
        let axes = try (axesAttribute ?? Array(0..<r)).map { try normalizeAxis($0, rank: r, node) }
        let (output, scales, roi) = try target(shape, inputs, axes: axes)
        var maps: [AxisMap] = []
        for axis in axes {
            let scale = scales[axis], outInt = output[axis], inW = shape[axis]
            let axisRoi = roi.map { [$0[axis], $0[axis + r]] }
            if abs(scale - 1) <= 1e-9 && outInt == inW && (axisRoi == nil || (abs(axisRoi![0]) <= 1e-9 && abs(axisRoi![1] - 1) <= 1e-9)) { continue }
            maps.append(try axisMap(axis, scale: scale, output: outInt, input: inW, roi: axisRoi))
        }
        return (output, maps)
    }

    /// The output shape, the scale per axis and the region of interest (begin values, then end values, over all
    /// axes), from the sizes or scales input (or, before opset 10, the attribute) and `keep_aspect_ratio_policy`.
    func target(_ shape: [Int], _ inputs: [RuntimeValue?], axes: [Int]) throws -> (output: [Int], scales: [Double], roi: [Double]?) {
        let r = shape.count
        func present(_ i: Int) -> RuntimeValue? {
            guard i < inputs.count, let v = inputs[i], v.shape.reduce(1, *) > 0 else { return nil }
            return v
        }
        let scalesValue = legacyScales.map { RuntimeValue.float(Tensor(shape: [$0.count], data: $0.map { Float($0) })) }
            ?? (legacy ? present(1) : present(2))
        let sizesValue = legacy ? nil : present(3)
        var roi: [Double]? = legacy ? nil : present(1)?.floats.data.map(Double.init)
        if let given = roi, axesAttribute != nil {
            var full = [Double](repeating: 0, count: r) + [Double](repeating: 1, count: r)
            for (i, d) in axes.enumerated() { full[d] = given[i]; full[r + d] = given[axes.count + i] }
            roi = full
        }
        if let given = roi, given.count != 2 * r { throw EngineError("node '\(node.name)' (Resize): roi has \(given.count) values for rank \(r)") }
        var scales = [Double](repeating: 1, count: r)
        var output = shape
        if let sizesValue {
            let sizes = sizesValue.integers.data.map { Int($0) }
            guard sizes.count == axes.count else { throw EngineError("node '\(node.name)' (Resize): \(sizes.count) sizes for \(axes.count) axes") }
            for (i, d) in axes.enumerated() { output[d] = sizes[i] }
            scales = (0..<r).map { shape[$0] == 0 ? 1 : Double(output[$0]) / Double(shape[$0]) }
            if keepAspect != "stretch" {
                let chosen = axes.map { scales[$0] }
                let s = keepAspect == "not_larger" ? chosen.min()! : chosen.max()!
                scales = (0..<r).map { axes.contains($0) ? s : 1 }
                output = (0..<r).map { axes.contains($0) ? Int(s * Double(shape[$0]) + 0.5) : shape[$0] }
            }
        } else if let scalesValue {
            let given = scalesValue.floats.data.map(Double.init)
            guard given.count == axes.count else { throw EngineError("node '\(node.name)' (Resize): \(given.count) scales for \(axes.count) axes") }
            for (i, d) in axes.enumerated() { scales[d] = given[i] }
            output = (0..<r).map { Int(scales[$0] * Double(shape[$0])) }
        } else {
            throw EngineError("node '\(node.name)' (Resize) needs scales or sizes")
        }
        return (output, scales, roi)
    }

    /// The input coordinate output position `y` reads under `coordinate_transformation_mode`, and whether it
    /// lies outside the input (tf_crop_and_resize extrapolates there).
    func sourceCoordinate(_ y: Double, scale: Double, output outInt: Int, input inW: Int, roi: [Double]?) throws -> (x: Double, outside: Bool) {
        let outW = scale * Double(inW)
        switch transform {
        case "align_corners": return (outW == 1 ? 0 : y * Double(inW - 1) / (outW - 1), false)
        case "asymmetric": return (y / scale, false)
        case "tf_crop_and_resize":
            guard let rr = roi else { throw EngineError("node '\(node.name)' (Resize): tf_crop_and_resize needs roi") }
            var x = outW == 1 ? (rr[1] - rr[0]) * Double(inW - 1) / 2 : y * (rr[1] - rr[0]) * Double(inW - 1) / (outW - 1)
            x += rr[0] * Double(inW - 1)
            return (x, x < 0 || x > Double(inW - 1))
        case "pytorch_half_pixel": return (outW == 1 ? -0.5 : (y + 0.5) / scale - 0.5, false)
        case "half_pixel_symmetric":
            let adjustment = Double(outInt) / outW, center = Double(inW) / 2
            return (center * (1 - adjustment) + (y + 0.5) / scale - 0.5, false)
        default: return ((y + 0.5) / scale - 0.5, false)
        }
    }

    /// For one resized axis: each output position's input taps (index, weight) under the interpolation mode.
    func axisMap(_ axis: Int, scale: Double, output outInt: Int, input inW: Int, roi: [Double]?) throws -> AxisMap {
        var taps: [[(Int, Float)]] = [], extrapolated: [Bool] = []
        for yi in 0..<outInt {
            let (x, outside) = try sourceCoordinate(Double(yi), scale: scale, output: outInt, input: inW, roi: roi)
            let floorX = x.rounded(.down)
            let ratio = x == floorX ? 1 : x - floorX
            var c = coefficients(ratio, scale)
            let n = c.count, pad = (n + 1) / 2
            let xp = x + Double(pad), pp = Int(xp.rounded(.down)), frac = xp - xp.rounded(.down)
            let offset = n % 2 == 0 ? (frac == 0 ? -(n / 2) : -(n / 2) + 1) : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1)
            let indices = (0..<n).map { pp + offset + $0 - pad }
            if excludeOutside {
                for (j, i) in indices.enumerated() where i < 0 || i >= inW { c[j] = 0 }
                let total = c.reduce(0, +)
                c = c.map { $0 / (total == 0 ? 1 : total) }
            }
            taps.append(zip(indices, c).compactMap { i, w in w == 0 ? nil : (min(max(i, 0), inW - 1), Float(w)) })
            extrapolated.append(outside)
        }
        return AxisMap(axis: axis, taps: taps, extrapolated: extrapolated)
    }

    func apply(_ x: Tensor, _ map: AxisMap) -> Tensor {
        let outer = x.shape[..<map.axis].reduce(1, *), inner = x.shape[(map.axis + 1)...].reduce(1, *), n = x.shape[map.axis]
        var shape = x.shape
        shape[map.axis] = map.taps.count
        var y = Tensor.zeros(shape)
        let fill = Float(extrapolation)
        for o in 0..<outer {
            for (j, taps) in map.taps.enumerated() {
                let target = (o * map.taps.count + j) * inner
                if map.extrapolated[j] { for i in 0..<inner { y.data[target + i] = fill }; continue }
                for (source, w) in taps {
                    let base = (o * n + source) * inner
                    for i in 0..<inner { y.data[target + i] += w * x.data[base + i] }
                }
            }
        }
        return y
    }

    func applyTransposed(_ dy: Tensor, _ map: AxisMap, inputLength n: Int) -> Tensor {
        let outer = dy.shape[..<map.axis].reduce(1, *), inner = dy.shape[(map.axis + 1)...].reduce(1, *)
        var shape = dy.shape
        shape[map.axis] = n
        var dx = Tensor.zeros(shape)
        for o in 0..<outer {
            for (j, taps) in map.taps.enumerated() where !map.extrapolated[j] {
                let source = (o * map.taps.count + j) * inner
                for (target, w) in taps {
                    let base = (o * n + target) * inner
                    for i in 0..<inner { dx.data[base + i] += w * dy.data[source + i] }
                }
            }
        }
        return dx
    }

    func forward(_ inputs: [RuntimeValue?]) throws -> [RuntimeValue] {
        var x = try floatInput(inputs, 0, node)
        let (_, maps) = try plan(x.shape, inputs)
        for map in maps { x = apply(x, map) }
        return [.float(x)]
    }

    func backward(_ g: [Tensor?], inputs: [RuntimeValue?], outputs: [RuntimeValue], wanted: Set<Int>) throws -> [Int: Tensor] {
        guard var d = g[0] else { return [:] }
        let x = try floatInput(inputs, 0, node)
        let (_, maps) = try plan(x.shape, inputs)
        // Shapes before each map, to undo them in reverse.
        var lengths: [Int] = []
        var shape = x.shape
        for map in maps { lengths.append(shape[map.axis]); shape[map.axis] = map.taps.count }
        for (map, n) in zip(maps, lengths).reversed() { d = applyTransposed(d, map, inputLength: n) }
        return [0: d]
    }
}
