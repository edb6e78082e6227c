import Foundation
import Imaging
import Tensor

extension Builtins {
    static let pictures: [Builtin] = [
        Builtin("show", .pictures, [.variadic("values")],
                description: "Displays values in the cell's output. Tensors appear as pictures: [H, W] is gray, [C, H, W] is gray (C = 1) or colour (C = 3), and [N, C, H, W] is a grid of N pictures; several tensors in a row appear side by side in one picture. Values are clamped to [0, 1], and small pictures are magnified with nearest-neighbour sampling so their shorter side is at least 128 px. Other values are shown as text.",
                example: "show(x_in, x_out)") { args, interpreter in
            try show(args.rest, on: interpreter.host)
            return .none
        },
        Builtin("save", .pictures, [.required("value"), .required("path")],
                description: "Saves a tensor, a plot or an attack to a file; the extension picks the format. A plot writes its PNG; an attack writes its whole state to a `.attack` file that `load_attack` reads back. `.png` writes a picture at its own size ([H, W] or [C, H, W] with C from 1 to 4, values clamped to [0, 1], 8 bits). `.npy` writes NumPy float32 data of any shape.",
                example: "save(x_out, \"spiral.png\")\nsave(x_out, \"spiral.npy\")\nsave(atk, \"spiral.attack\")") { args, _ in
            let path = try args.string("path")
            if case .object(let object) = args["value"], let plot = object as? PlotObject {
                guard (path as NSString).pathExtension.lowercased() == "png" else {
                    throw ScriptError.io("cannot save a plot to \(quote(path))", hint: "plots save as .png")
                }
                do { try Data(plot.rendered.png).write(to: URL(fileURLWithPath: path)) } catch {
                    throw ScriptError.io("cannot write \(quote(path)): \(error.localizedDescription)")
                }
                return .none
            }
            if case .object(let object) = args["value"], let attack = object as? AttackObject {
                guard (path as NSString).pathExtension.lowercased() == "attack" else {
                    throw ScriptError.io("cannot save an attack to \(quote(path))", hint: "attacks save in their own format, to a path ending in .attack")
                }
                try attack.save(to: path)
                return .none
            }
            guard case .tensor(var tensor) = args["value"] else {
                throw args.error("can only save tensors, plots and attacks, got \(args["value"].typeName)")
            }
            let bytes: [UInt8]
            switch (path as NSString).pathExtension.lowercased() {
            case "png":
                if tensor.rank == 4 && tensor.shape[0] == 1 { tensor = tensor.slice(0) }
                do { bytes = try PNG.encode(tensor) } catch let error as ImagingError { throw ScriptError.shape("save(): \(error.message)") }
            case "npy":
                bytes = NPY.encode(tensor)
            case let ext:
                throw ScriptError.io("cannot save \(quote(path)): unknown format \(ext.isEmpty ? "(no extension)" : "`.\(ext)`")",
                                     hint: "use a path ending in .png or .npy")
            }
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            } catch {
                throw ScriptError.io("cannot write \(quote(path)): \(error.localizedDescription)")
            }
            return .none
        },
        Builtin("images", .pictures, [.required("folder"), .optional("gray", .bool(false)), .optional("size", .none)],
                description: "Reads every .png and .jpg picture of a folder, sorted by name, as one [N, C, H, W] batch in [0, 1]. Pictures of different sizes need `size=[h, w]`; mixed gray and colour files need `gray=true` or are made RGB.",
                example: "batch = images(\"Examples/data/ood\", size=[28, 28], gray=true)") { args, _ in
            let folder = try args.string("folder")
            let size = try pictureSize(args)
            do {
                return .tensor(try ImageFile.loadFolder(folder, size: size, channels: try args.bool("gray") ? .gray : .rgb))
            } catch let error as ImagingError {
                throw ScriptError.io("cannot read the folder \(quote(folder)): \(error.message)")
            }
        },
        Builtin("npy", .pictures, [.required("path")],
                description: "Reads a NumPy .npy file as a tensor of its own shape. Float, integer and bool data become float32: class labels, feature batches, image batches.",
                example: "y_test = npy(\"Examples/data/mnist/test_labels.npy\")") { args, _ in
            let path = try args.string("path")
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ScriptError.io("cannot read \(quote(path)): no such file",
                                     hint: "relative paths start in the kernel's working directory: \(FileManager.default.currentDirectoryPath)")
            }
            do { return .tensor(try NPY.decode([UInt8](data))) } catch let error as ImagingError {
                throw ScriptError.io("cannot read \(quote(path)): \(error.message)")
            }
        },
        Builtin("image", .pictures, [.required("path"), .optional("gray", .bool(false)), .optional("size", .none)],
                description: "Reads a picture from a .png, .jpg or .npy file as a [C, H, W] tensor with values in [0, 1]. PNG and JPEG files give 3 colour channels, or 1 with `gray=true` (alpha is dropped; JPEG EXIF orientation is applied); .npy files are read as stored ([H, W] becomes [1, H, W]). With `size=[h, w]` the picture is resized (area averaging when shrinking, bilinear when enlarging).",
                example: "x_in = image(\"Examples/data/mnist/7.png\", gray=true, size=[28, 28])") { args, _ in
            let path = try args.string("path")
            let gray = try args.bool("gray")
            let size = try pictureSize(args)
            let ext = (path as NSString).pathExtension.lowercased()
            guard ImageFile.supportedExtensions.contains(ext) || ext == "npy" else {
                throw ScriptError.io("cannot read \(quote(path)): unknown format \(ext.isEmpty ? "(no extension)" : "`.\(ext)`")", hint: "image() reads .png, .jpg and .npy files")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw ScriptError.io("cannot read \(quote(path)): no such file",
                                     hint: "relative paths start in the kernel's working directory: \(FileManager.default.currentDirectoryPath)")
            }
            guard let data = FileManager.default.contents(atPath: path) else { throw ScriptError.io("cannot read \(quote(path))") }
            var picture: Tensor
            do {
                if ext != "npy" {
                    picture = colourChannels(try ImageFile.decode([UInt8](data)), gray: gray)
                } else {
                    picture = try NPY.decode([UInt8](data))
                    if picture.rank == 2 { picture = Tensor(shape: [1] + picture.shape, data: picture.data) }
                    if gray && picture.rank == 3 && picture.shape[0] >= 3 { picture = colourChannels(picture, gray: true) }
                }
                if let (h, w) = size {
                    guard picture.rank == 3 else { throw ImagingError("size= needs a [C, H, W] picture, got shape \(picture.shape)") }
                    picture = try Transforms.resize(picture, height: h, width: w)
                }
            } catch let error as ImagingError {
                throw ScriptError.io("cannot read \(quote(path)): \(error.message)")
            }
            return .tensor(picture)
        },
        Builtin("spiral", .pictures, [.required("h"), .required("w"), .optional("channels", .number(1)), .optional("seed", .none)],
                description: "Returns a [channels, h, w] picture of a bright spiral on black. The spiral is Archimedean, drawn with a smooth anti-aliased stroke: the kind of out-of-distribution image the attacks start from. The number of turns, phase, direction and (for 3 channels) colour are random, taken from `seed=` or the session's generator.",
                example: "x_out = spiral(28, 28, channels=1, seed=1)") { args, interpreter in
            let (h, w, channels) = try patternSize(args)
            return .tensor(try withGenerator(args, interpreter) {
                try Generators.spiral(channels: channels, height: h, width: w, using: &$0, checkInterrupt: interpreter.checkInterrupt)
            })
        },
    ]
}

/// Shows values: runs of pictures as one grid image, anything else as text.
private func show(_ values: [Value], on host: ScriptHost) throws {
    var pending: [Tensor] = []
    func flush() throws {
        guard !pending.isEmpty else { return }
        let rendered: PictureDisplay.Rendered
        do {
            rendered = try PictureDisplay.render(pictures: pending)
        } catch {
            throw ScriptError.value("show(): \((error as? ImagingError)?.message ?? "\(error)")")
        }
        let plain = pending.count == 1 ? tensorSummary(pending[0]) : "\(pending.count) pictures"
        host.display(RichOutput(plain: plain, png: rendered.png, pngWidth: rendered.width, pngHeight: rendered.height),
                     displayID: nil, update: false)
        pending = []
    }
    for value in values {
        if case .tensor(let t) = value, let pictures = try? PictureDisplay.pictures(in: t) {
            pending += pictures
        } else if case .list(let items) = value, !items.isEmpty,
                  let pictures = try? items.flatMap({ item -> [Tensor] in
                      guard case .tensor(let t) = item else { throw ImagingError("not a tensor") }
                      return try PictureDisplay.pictures(in: t)
                  }) {
            pending += pictures
        } else {
            try flush()
            host.display(richOutput(for: value), displayID: nil, update: false)
        }
    }
    try flush()
}

/// The optional `size=[h, w]` of `image` and `images`.
private func pictureSize(_ args: CallArguments) throws -> (height: Int, width: Int)? {
    if args.isNone("size") { return nil }
    guard case .list(let items) = args["size"], items.count == 2 else { throw args.error("expects `size` as a list [height, width]") }
    return (try integerValue(items[0], what: "the height in `size`", range: 1...16384, function: args.builtin),
            try integerValue(items[1], what: "the width in `size`", range: 1...16384, function: args.builtin))
}

/// Drops alpha; gray=true gives one luma channel (ITU-R BT.601 weights), otherwise three colour channels.
private func colourChannels(_ picture: Tensor, gray: Bool) -> Tensor {
    let c = picture.shape[0], plane = picture.shape[1] * picture.shape[2]
    let hw = Array(picture.shape.dropFirst())
    let colour = c >= 3
    if gray {
        guard colour else { return Tensor(shape: [1] + hw, data: Array(picture.data[0..<plane])) }
        var luma = [Float](repeating: 0, count: plane)
        for p in 0..<plane {
            luma[p] = 0.299 * picture.data[p] + 0.587 * picture.data[plane + p] + 0.114 * picture.data[2 * plane + p]
        }
        return Tensor(shape: [1] + hw, data: luma)
    }
    if colour { return Tensor(shape: [3] + hw, data: Array(picture.data[0..<(3 * plane)])) }
    let grayPlane = picture.data[0..<plane]
    return Tensor(shape: [3] + hw, data: Array(grayPlane) + Array(grayPlane) + Array(grayPlane))
}

