/// The fuzz targets' registry: one entry per parser that reads untrusted bytes.
import Foundation

/// One parser under fuzzing: `run` feeds it one input. Errors the parser throws are the expected outcome
/// for bad input; a trap, a sanitizer report, a hang or an allocation past the limit is a finding.
public struct FuzzTarget: Sendable {
    /// The name `scripts/fuzz.sh` and `mirage-fuzz` take (also the corpus folder under Tests/Fuzz/corpus).
    public let name: String
    /// What the target feeds its input to.
    public let summary: String
    /// Runs one input.
    public let run: @Sendable ([UInt8]) -> Void
    /// Seed inputs made by code (for formats with no committed fixture), written by `mirage-fuzz seed`.
    public let generatedSeeds: @Sendable () throws -> [[UInt8]]

    /// A target named `name` running `run`, with optional generated seeds.
    public init(_ name: String, _ summary: String, seeds: @escaping @Sendable () throws -> [[UInt8]] = { [] },
                run: @escaping @Sendable ([UInt8]) -> Void) {
        self.name = name
        self.summary = summary
        self.run = run
        generatedSeeds = seeds
    }
}

/// Every fuzz target, by name.
public enum FuzzTargets {
    /// All targets, in the order CI runs them.
    public static let all: [FuzzTarget] = [
        LanguageFuzz.target, ONNXFuzz.target, ImageFuzz.png, ImageFuzz.jpeg, ImageFuzz.npy, AttackFileFuzz.target, WireFuzz.target,
    ]

    /// The target called `name`, if there is one.
    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    /// A violated property of a parser (not a thrown error): stops the run so the fuzzer keeps the input.
    static func violated(_ target: String, _ what: String) -> Never {
        fatalError("[\(target)] \(what)")
    }
}
