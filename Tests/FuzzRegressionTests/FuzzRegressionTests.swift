// Replays the committed fuzz corpus and every input the fuzzers once crashed on through the same targets.
import Foundation
import FuzzTargets
import Testing

@Suite struct FuzzRegressionTests {
    /// Tests/Fuzz, from this file's place in the checkout.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    static func files(_ folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted().map { "\(folder)/\($0)" }
    }

    /// scripts/fuzz.sh runs `all` from its own list of names (the fuzzing build cannot list them); it must be the registry's.
    @Test func fuzzScriptRunsEveryTarget() throws {
        let script = try String(contentsOfFile: "\(Self.root)/../../scripts/fuzz.sh", encoding: .utf8)
        let line = try #require(script.split(separator: "\n").first { $0.hasPrefix("TARGETS=") })
        #expect(line == "TARGETS=\"\(FuzzTargets.all.map(\.name).joined(separator: " "))\"")
    }

    /// Every target has seeds to start from; a target nobody seeds would fuzz from nothing.
    @Test(arguments: FuzzTargets.all.map(\.name))
    func everyTargetHasACommittedCorpus(_ name: String) {
        #expect(!Self.files("\(Self.root)/corpus/\(name)").isEmpty, "Tests/Fuzz/corpus/\(name) is empty")
    }

    /// A crash here is a regression of a fixed finding (regressions/) or a seed that broke (corpus/).
    @Test(arguments: FuzzTargets.all.map(\.name))
    func replaysCorpusAndRegressions(_ name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        for file in Self.files("\(Self.root)/corpus/\(name)") + Self.files("\(Self.root)/regressions/\(name)") {
            let bytes = try #require(FileManager.default.contents(atPath: file), "cannot read \(file)")
            target.run([UInt8](bytes))
        }
    }
}
