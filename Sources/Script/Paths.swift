// Where the built-ins that read files look for them, the error when a file is not there, and file digests.
import Crypto
import Foundation

/// Input files (`load`, `image`, `images`, `npy`, `load_attack`). A relative path is looked up in the working
/// directory, then in the directories above it, nearest first, up to `parentLevels` of them: a notebook in
/// `Notebooks/` (JupyterLab starts its kernel in the notebook's folder) finds `Examples/models/mnist_cnn.onnx`
/// in the repository root, and the same notebook run from the root finds it directly. Files are written
/// (`save`) relative to the working directory only.
enum InputFiles {
    static let parentLevels = 3

    /// The path to open: `path` itself when it exists as given, else the first directory above that has it.
    static func resolve(_ path: String, for function: String, directory: Bool = false) throws -> String {
        let candidates = places(for: path)
        for (i, candidate) in candidates.enumerated() where exists(candidate, directory: directory) {
            return i == 0 ? path : candidate
        }
        let cwd = FileManager.default.currentDirectoryPath
        let what = directory ? "folder" : "file"
        if candidates.count == 1 {
            throw ScriptError.io("\(function): \(what) \(quote(path)) not found",
                                 hint: "the working directory is \(cwd)")
        }
        throw ScriptError.io("\(function): \(what) \(quote(path)) not found",
                             hint: "the working directory is \(cwd); looked for " + candidates.map(absolute).joined(separator: ", ")
                                 + " (relative paths are looked up in the working directory, then up to \(parentLevels) folders above it)")
    }

    /// Where a path is looked for, in order: as given, then under each directory above the working directory.
    static func places(for path: String) -> [String] {
        let expanded = (path as NSString).expandingTildeInPath
        guard !expanded.hasPrefix("/"), !path.isEmpty else { return [expanded] }
        var places = [path]
        var directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        for _ in 0..<parentLevels {
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
            places.append(directory.appendingPathComponent(path).path)
        }
        return places
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }

    private static func exists(_ path: String, directory: Bool) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue == directory
    }

    private static let digests = DigestCache()

    /// The file's SHA-256 in hex, computed once per path, size and modification time; nil if it cannot be read.
    static func sha256(of path: String) -> String? {
        digests.digest(of: (try? resolve(path, for: "sha256")) ?? path)
    }
}

private final class DigestCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cache: [String: (key: String, digest: String)] = [:]

    func digest(of path: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let key = "\(attributes[.size] ?? 0) \(attributes[.modificationDate] ?? 0)"
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[path], hit.key == key { return hit.digest }
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        } catch {
            return nil
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        cache[path] = (key, digest)
        return digest
    }
}
