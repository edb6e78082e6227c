// `mirage merge DIR`: checks a sharded dataset audit is complete, merges its shards and prints the metrics table.
import ArgumentParser
import Attack
import Audit
import Foundation

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the shards of a dataset audit's results store and print its metrics table.",
        discussion: "Reads every shard-I-of-N.sqlite in DIR, reports how far each shard got, checks that every chunk is present (listing the missing ones), then writes DIR/merged.sqlite, DIR/metrics.csv and DIR/report.md. Exits 1 if chunks are missing or the shards come from different scripts or settings.")

    @Argument(help: "The store folder (the audit's out=).") var dir: String
    @Option(name: .long, help: "FPR95 convention: in (classic) or ood (OpenOOD).") var fpr: String = "in"

    func run() throws {
        let convention: FPRConvention
        switch fpr.lowercased() {
        case "in", "id": convention = .inDistributionPositive
        case "ood", "out", "openood": convention = .oodPositive
        default: throw ValidationError("unknown --fpr \(fpr); use in or ood")
        }
        let stderr = FileHandle.standardError
        do {
            let results = try AuditResults.load(dir)
            for line in results.progressLines { stderr.write(Data((line + "\n").utf8)) }
            guard results.complete else {
                let counts = Set(results.shards.compactMap { $0.shard?.count })
                stderr.write(Data(("error: " + results.missingDescription(shardCount: counts.count == 1 ? counts.first : nil) + "\n").utf8))
                throw ExitCode(1)
            }
            let merged = try results.writeMerged(convention: convention)
            print(try results.metricsTable(convention: convention))
            print("\(results.info.inCount) in-distribution, \(results.info.oodCount) OOD samples; \(convention.label)"
                  + (results.skipped.isEmpty ? "" : "; \(results.skipped.count) unreadable images skipped (listed in report.md)"))
            stderr.write(Data("wrote \(merged), \(dir)/metrics.csv and \(dir)/report.md\n".utf8))
        } catch let error as AuditError {
            stderr.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
