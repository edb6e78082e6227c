/// mirage-fuzz: runs one fuzz target under libFuzzer (when built with -DFUZZING -sanitize=fuzzer), else replays inputs.
///
///     mirage-fuzz list                          the targets
///     mirage-fuzz TARGET [libFuzzer options] [CORPUS…]   fuzz (fuzzing build; see scripts/fuzz.sh)
///     mirage-fuzz TARGET FILE_OR_DIR…           replay saved inputs through the target (any build)
///     mirage-fuzz seed TARGET DIR               write the target's generated seeds into DIR
import CFuzzer
import Foundation
import FuzzTargets

/// The target the C callback runs (a C function pointer cannot capture it).
enum Selected {
    nonisolated(unsafe) static var target: FuzzTarget?
}

func usage() -> Never {
    let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("usage: mirage-fuzz TARGET [libFuzzer options | files…] | list | seed TARGET DIR\ntargets: \(names)\n".utf8))
    exit(2)
}

func target(_ name: String) -> FuzzTarget {
    guard let target = FuzzTargets.named(name) else {
        FileHandle.standardError.write(Data("mirage-fuzz: no target '\(name)'\n".utf8))
        usage()
    }
    return target
}

/// Files under each path (a directory's files sorted by name), for replaying.
func inputFiles(_ paths: [String]) -> [String] {
    paths.flatMap { path -> [String] in
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(path)/\($0)" }
    }
}

var arguments = CommandLine.arguments
guard arguments.count >= 2 else { usage() }
switch arguments[1] {
case "list":
    for target in FuzzTargets.all { print("\(target.name)\t\(target.summary)") }
case "seed":
    guard arguments.count == 4 else { usage() }
    let chosen = target(arguments[2])
    try FileManager.default.createDirectory(atPath: arguments[3], withIntermediateDirectories: true)
    for (i, seed) in try chosen.generatedSeeds().enumerated() {
        try Data(seed).write(to: URL(fileURLWithPath: "\(arguments[3])/generated-\(i)"))
    }
default:
    Selected.target = target(arguments[1])
    #if FUZZING
    // libFuzzer sees the program name and its own options; the target's name is ours.
    arguments.remove(at: 1)
    var argc = Int32(arguments.count)
    var cStrings: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    let status = cStrings.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            Selected.target!.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
            return 0
        }
    }
    exit(status)
    #else
    let files = inputFiles(Array(arguments.dropFirst(2)))
    for file in files {
        guard let bytes = FileManager.default.contents(atPath: file) else { continue }
        Selected.target!.run([UInt8](bytes))
    }
    print("mirage-fuzz \(arguments[1]): replayed \(files.count) input\(files.count == 1 ? "" : "s") without a crash")
    #endif
}
