import Foundation
import Tensor

/// Reading pictures from files and folders, whatever their format (PNG or JPEG, recognised by content).
public enum ImageFile {
    /// File extensions (lower case) that `loadFolder` reads and `decode` understands.
    public static let supportedExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Decodes PNG or JPEG bytes into a CxHxW tensor in [0, 1].
    public static func decode(_ bytes: [UInt8], maximumPixels: Int = ImageLimits.maximumPixels) throws -> Tensor {
        if bytes.count >= 8 && bytes.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try PNG.decode(bytes, maximumPixels: maximumPixels)
        }
        if JPEG.isJPEG(bytes) { return try JPEG.decode(bytes, maximumPixels: maximumPixels) }
        throw ImagingError(bytes.isEmpty ? "the file is empty" : "not a PNG or JPEG file")
    }

    /// Reads one picture file.
    public static func read(_ path: String) throws -> Tensor {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImagingError("cannot read \(path)")
        }
        do { return try decode([UInt8](data)) } catch let error as ImagingError {
            throw ImagingError("\((path as NSString).lastPathComponent): \(error.message)")
        }
    }

    /// How pictures of a folder become one batch.
    public enum Channels: Sendable, Equatable {
        /// Keep each file's channels (after dropping alpha); all files must agree.
        case asStored
        case gray
        case rgb
    }

    /// Loads every PNG/JPEG picture of a folder (sorted by name, hidden files skipped) as a [N, C, H, W] batch.
    /// Alpha is dropped. Without `size` all pictures must have the same size, and the first one that differs is
    /// named in the error; with `size` (height, width) each picture is resized (area averaging when shrinking,
    /// bilinear when enlarging).
    public static func loadFolder(_ path: String, size: (height: Int, width: Int)? = nil,
                                  channels: Channels = .asStored) throws -> Tensor {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw ImagingError("cannot list the folder \(path)")
        }
        let files = names.filter { !$0.hasPrefix(".") && supportedExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted()
        guard !files.isEmpty else { throw ImagingError("no .png, .jpg or .jpeg files in \(path)") }
        var pictures: [Tensor] = []
        var first: (name: String, shape: [Int])? = nil
        for name in files {
            var picture = try read((path as NSString).appendingPathComponent(name))
            picture = Transforms.droppingAlpha(picture)
            switch channels {
            case .gray: picture = try Transforms.toGray(picture)
            case .rgb: picture = try Transforms.toRGB(picture)
            case .asStored: break
            }
            if let size { picture = try Transforms.resize(picture, height: size.height, width: size.width) }
            if let first, first.shape != picture.shape {
                throw ImagingError("\(name) has shape \(picture.shape) but \(first.name) has \(first.shape); "
                    + (size == nil ? "pass a size to resize them all" : "pass channels: .gray or .rgb to convert them all"))
            }
            if first == nil { first = (name, picture.shape) }
            pictures.append(picture)
        }
        return try Transforms.stack(pictures)
    }
}
