// Streamed datasets: folders of PNG/JPEG and memory-mapped .npy files, read in fixed-size chunks.
import Foundation
import Imaging
import Tensor

/// An error about a dataset or a results store, naming the file, folder or chunk it is about.
public struct AuditError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, naming the file, folder or chunk.
    public var message: String
    /// An error with its message.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// A .npy file mapped into memory: rows are decoded on demand, so only the rows asked for take memory.
final class MappedNPY: @unchecked Sendable {
    let path: String
    let header: NPY.Header
    private let base: UnsafeRawPointer
    private let length: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw AuditError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw AuditError("cannot stat \(path)") }
        length = Int(info.st_size)
        guard length > 0, let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw AuditError(length == 0 ? "\(path) is empty" : "cannot map \(path) into memory: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        do {
            header = try NPY.header(Array(UnsafeRawBufferPointer(start: base, count: min(length, 1 << 16))))
        } catch let error as ImagingError {
            munmap(UnsafeMutableRawPointer(mutating: base), length)
            throw AuditError("\(path): \(error.message)")
        }
        let needed = header.dataOffset + header.shape.reduce(1, *) * header.elementSize
        guard needed <= length else {
            munmap(UnsafeMutableRawPointer(mutating: base), length)
            throw AuditError("\(path): truncated .npy data (\(length) bytes, the header needs \(needed))")
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    var rows: Int { header.shape.first ?? 0 }
    var rowShape: [Int] { Array(header.shape.dropFirst()) }

    /// Rows `range` as a [n, …] Float tensor.
    func rows(_ range: Range<Int>) throws -> Tensor {
        let rowBytes = rowShape.reduce(1, *) * header.elementSize
        let start = base + header.dataOffset + range.lowerBound * rowBytes
        // Pages read through the mapping count as resident until dropped: drop the chunk's pages once decoded,
        // so resident memory stays bounded by the chunk, not by how much of the file was read.
        defer {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let first = (start - base) / page * page, end = start - base + range.count * rowBytes
            madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, Int32(MADV_DONTNEED))
        }
        do {
            return try NPY.elements(UnsafeRawBufferPointer(start: start, count: range.count * rowBytes), descr: header.descr,
                                    shape: [range.count] + rowShape)
        } catch let error as ImagingError {
            throw AuditError("\(path): \(error.message)")
        }
    }
}

/// One chunk of a dataset: the images that could be read, with their global indices, and those that could not.
public struct DatasetChunk: Sendable {
    /// Global indices of the rows of `images`.
    public var indices: [Int]
    /// Where each image came from: a file path, or `file.npy[row]`.
    public var sources: [String]
    /// [n, C, H, W] in [0, 1] for the readable images (n may be 0).
    public var images: Tensor
    /// Images that could not be read: index, source and why. They are recorded, never dropped silently.
    public var failures: [(index: Int, source: String, message: String)]
}

/// A dataset streamed in chunks: memory stays bounded by the chunk size, whatever the number of images.
/// Built from folders of PNG/JPEG (recursively, in sorted path order), .npy files ([N, C, H, W], [N, H, W] or
/// [N, H·W·C] reshaped with `size`; uint8 data is divided by 255), or a list of them, concatenated in order.
public final class Dataset: @unchecked Sendable {
    enum Part {
        case npy(MappedNPY, scale: Float)
        case images([String])
        case memory(Tensor, name: String)
    }

    /// The paths it was made from, as given.
    public let paths: [String]
    /// Images per chunk.
    public let chunkSize: Int
    /// [C, H, W] of every image.
    public let sampleShape: [Int]
    /// The number of images, including unreadable ones (which keep their index).
    public let count: Int
    /// Settings that change the pixels: resize target and channel conversion.
    public let size: (height: Int, width: Int)?
    /// true: converted to gray; false: to RGB; nil: as stored.
    public let gray: Bool?
    private let parts: [(start: Int, part: Part)]

    /// Opens `paths` (files or folders). `limit` keeps the first images only; `size` resizes images (and gives
    /// flat .npy rows their shape); `gray` true converts to one channel, false to RGB, nil keeps the first image's.
    public init(paths: [String], chunkSize: Int = 256, size: (height: Int, width: Int)? = nil, gray: Bool? = nil,
                limit: Int? = nil) throws {
        guard !paths.isEmpty else { throw AuditError("dataset(): no paths given") }
        guard chunkSize >= 1 else { throw AuditError("dataset(): the chunk size must be at least 1, got \(chunkSize)") }
        self.paths = paths
        self.chunkSize = chunkSize
        self.size = size
        self.gray = gray
        var parts: [(Int, Part)] = []
        var total = 0
        var shape: [Int]?
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw AuditError("dataset(): no file or folder \(path)")
            }
            let part: Part
            let n: Int
            let partShape: [Int]
            if isFolder.boolValue {
                let files = try Self.imageFiles(in: path)
                guard !files.isEmpty else { throw AuditError("dataset(): no .png, .jpg or .jpeg files in \(path) (searched recursively)") }
                part = .images(files)
                n = files.count
                partShape = try shape ?? Self.firstShape(files, size: size, gray: gray)
            } else if path.lowercased().hasSuffix(".npy") {
                let file = try MappedNPY(path: path)
                var rowShape = file.rowShape
                if rowShape.count == 2 { rowShape = [1] + rowShape }
                if rowShape.count == 1, let size {
                    let channels = rowShape[0] / max(1, size.height * size.width)
                    guard channels * size.height * size.width == rowShape[0] else {
                        throw AuditError("dataset(): rows of \(path) have \(rowShape[0]) values, not a multiple of \(size.height)×\(size.width)")
                    }
                    rowShape = [channels, size.height, size.width]
                }
                guard rowShape.count == 3 else {
                    throw AuditError("dataset(): \(path) has shape \(file.header.shape); expected [N, C, H, W] or [N, H, W] (or [N, H·W] with size=)")
                }
                part = .npy(file, scale: file.header.descr.hasSuffix("u1") ? 1 / 255 : 1)
                n = file.rows
                partShape = rowShape
                guard n > 0 else { throw AuditError("dataset(): \(path) holds no images (shape \(file.header.shape))") }
            } else {
                throw AuditError("dataset(): \(path) is neither a folder nor a .npy file")
            }
            if let shape, shape != partShape {
                throw AuditError("dataset(): images of \(path) have shape \(partShape) but earlier ones \(shape); pass size= and gray= to convert them all")
            }
            shape = partShape
            parts.append((total, part))
            total += n
        }
        self.parts = parts
        self.sampleShape = shape!
        self.count = limit.map { min($0, total) } ?? total
        guard count > 0 else { throw AuditError("dataset(): limit=\(limit ?? 0) leaves no images") }
    }

    /// The number of chunks.
    public var chunkCount: Int { (count + chunkSize - 1) / chunkSize }

    /// Global indices of chunk `c`.
    public func range(ofChunk c: Int) -> Range<Int> { (c * chunkSize)..<min(count, (c + 1) * chunkSize) }

    /// Reads images `range` (any range within the dataset; chunks are one use).
    public func load(_ range: Range<Int>) throws -> DatasetChunk {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw AuditError("dataset(): images \(range.lowerBound)..<\(range.upperBound) are outside its \(count) images")
        }
        var indices: [Int] = [], sources: [String] = [], failures: [(Int, String, String)] = []
        var pieces: [Tensor] = []
        for (k, (start, part)) in parts.enumerated() {
            let end = k + 1 < parts.count ? parts[k + 1].start : Int.max
            let lo = max(range.lowerBound, start), hi = min(range.upperBound, end)
            guard lo < hi else { continue }
            switch part {
            case .npy(let file, let scale):
                var rows = try file.rows((lo - start)..<(hi - start))
                rows = Tensor(shape: [hi - lo] + sampleShape, data: scale == 1 ? rows.data : rows.data.map { $0 * scale })
                pieces.append(rows)
                for i in lo..<hi {
                    indices.append(i)
                    sources.append("\(file.path)[\(i - start)]")
                }
            case .memory(let tensor, let name):
                pieces.append(try Transforms.slice(tensor, (lo - start)..<(hi - start)))
                for i in lo..<hi {
                    indices.append(i)
                    sources.append("\(name)[\(i - start)]")
                }
            case .images(let files):
                for i in lo..<hi {
                    let path = files[i - start]
                    do {
                        let picture = try Self.read(path, size: size, gray: gray)
                        guard picture.shape == sampleShape else {
                            throw AuditError("has shape \(picture.shape), the dataset's images \(sampleShape); pass size= (and gray=) to convert them")
                        }
                        pieces.append(Tensor(shape: [1] + sampleShape, data: picture.data))
                        indices.append(i)
                        sources.append(path)
                    } catch {
                        failures.append((i, path, "\(error)"))
                    }
                }
            }
        }
        let per = sampleShape.reduce(1, *)
        var data: [Float] = []
        data.reserveCapacity(indices.count * per)
        for p in pieces { data += p.data }
        return DatasetChunk(indices: indices, sources: sources, images: Tensor(shape: [indices.count] + sampleShape, data: data),
                            failures: failures)
    }

    /// A dataset over images already in memory ([N, C, H, W]), e.g. generated ones; `name` labels their sources.
    public init(tensor: Tensor, name: String, chunkSize: Int = 256) throws {
        guard tensor.rank == 4, tensor.shape[0] > 0 else {
            throw AuditError("dataset(): in-memory images must be a non-empty batch [N, C, H, W], got shape \(tensor.shape)")
        }
        guard chunkSize >= 1 else { throw AuditError("dataset(): the chunk size must be at least 1, got \(chunkSize)") }
        // The pixels identify in-memory data: a digest of them goes into the fingerprint.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for v in tensor.data { hash = (hash ^ UInt64(v.bitPattern)) &* 0x100_0000_01B3 }
        paths = ["\(name)#\(String(hash, radix: 16))"]
        self.chunkSize = chunkSize
        size = nil
        gray = nil
        sampleShape = Array(tensor.shape.dropFirst())
        count = tensor.shape[0]
        parts = [(0, .memory(tensor, name: name))]
    }

    /// What identifies the data for a run's fingerprint: paths, count, shape and conversions (not the pixels).
    public var identity: String {
        "paths=\(paths) count=\(count) shape=\(sampleShape) size=\(size.map { "\($0.height)x\($0.width)" } ?? "-") gray=\(gray.map(String.init) ?? "-")"
    }

    /// A one-line description.
    public var summary: String {
        "Dataset(\(count) images \(sampleShape) from \(paths.joined(separator: ", ")), \(chunkCount) chunks of \(chunkSize))"
    }

    static func imageFiles(in folder: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { throw AuditError("dataset(): cannot list the folder \(folder)") }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            guard !name.hasPrefix("."), ImageFile.supportedExtensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
            files.append((folder as NSString).appendingPathComponent(relative))
        }
        return files.sorted()
    }

    static func read(_ path: String, size: (height: Int, width: Int)?, gray: Bool?) throws -> Tensor {
        var picture = Transforms.droppingAlpha(try ImageFile.read(path))
        if gray == true { picture = try Transforms.toGray(picture) }
        if gray == false { picture = try Transforms.toRGB(picture) }
        if let size { picture = try Transforms.resize(picture, height: size.height, width: size.width) }
        return picture
    }

    /// The shape images take: from the first readable file.
    static func firstShape(_ files: [String], size: (height: Int, width: Int)?, gray: Bool?) throws -> [Int] {
        var firstFailure = ""
        for path in files {
            do { return try read(path, size: size, gray: gray).shape } catch {
                if firstFailure.isEmpty { firstFailure = "\((path as NSString).lastPathComponent): \(error)" }
            }
        }
        throw AuditError("dataset(): none of the \(files.count) images under \((files[0] as NSString).deletingLastPathComponent) can be read (the first: \(firstFailure))")
    }
}
