/// mirage-fuzz: runs one fuzz target under libFuzzer (when built with -DFUZZING -sanitize=fuzzer), else replays inputs.
///
///     MIRAGE_FUZZ_TARGET=TARGET mirage-fuzz [libFuzzer options] [CORPUS…]   fuzz (fuzzing build; scripts/fuzz.sh)
///     mirage-fuzz list                          the targets (replaying build)
///     mirage-fuzz TARGET FILE_OR_DIR…           replay saved inputs through the target (replaying build)
///     mirage-fuzz seed TARGET DIR               write the target's generated seeds into DIR (replaying build)
///
/// In the fuzzing build the target comes from the environment, because whichever `main` the linker keeps
/// (this file's, through LLVMFuzzerRunDriver, or libFuzzer's own) hands every argument to libFuzzer.
import CFuzzer
import Foundation
import FuzzTargets

/// The target the C callback runs (a C function pointer cannot capture it).
enum Selected {
    nonisolated(unsafe) static var target: FuzzTarget?

    /// MIRAGE_FUZZ_TARGET's target; stops with the list of names if it names none.
    static let fromEnvironment: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["MIRAGE_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTargets.named(name) else {
            FileHandle.standardError.write(Data("mirage-fuzz: set MIRAGE_FUZZ_TARGET to one of \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        return target
    }()
}

#if FUZZING
/// libFuzzer's entry: one input through the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    Selected.fromEnvironment.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

_ = Selected.fromEnvironment
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
#else

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
    let files = inputFiles(Array(arguments.dropFirst(2)))
    for file in files {
        guard let bytes = FileManager.default.contents(atPath: file) else { continue }
        Selected.target!.run([UInt8](bytes))
    }
    print("mirage-fuzz \(arguments[1]): replayed \(files.count) input\(files.count == 1 ? "" : "s") without a crash")
}
#endif
