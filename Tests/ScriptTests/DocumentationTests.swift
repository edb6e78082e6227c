import Foundation
import Testing
@testable import Script

@Suite struct DocumentationTests {
    static let docsURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/language.md")

    /// Regenerate with: MIRAGE_UPDATE_DOCS=1 swift test --filter docsAreUpToDate
    @Test func docsAreUpToDate() throws {
        let expected = LanguageReference.markdown()
        if ProcessInfo.processInfo.environment["MIRAGE_UPDATE_DOCS"] == "1" {
            try expected.write(to: DocumentationTests.docsURL, atomically: true, encoding: .utf8)
        }
        let actual = try String(contentsOf: DocumentationTests.docsURL, encoding: .utf8)
        #expect(actual == expected, "docs/language.md is out of date: run MIRAGE_UPDATE_DOCS=1 swift test --filter docsAreUpToDate")
    }

    @Test func everyBuiltinHasSignatureDescriptionAndExample() throws {
        let docs = Session.documentation()
        #expect(docs.map(\.name) == Session.builtinNames)
        #expect(Set(docs.map(\.name)).count == docs.count)
        for (name, doc) in docs {
            let parts = doc.components(separatedBy: "\n\n")
            #expect(parts.count >= 3, "\(name): \(doc)")
            #expect(parts[0].hasPrefix(name + "(") && parts[0].hasSuffix(")"))
            #expect(parts[1].count > 20, "\(name) needs a description")
            #expect(parts.last!.hasPrefix("Example:\n    "))
        }
    }

    @Test func examplesInTheDocsParse() throws {
        for builtin in Builtins.all {
            #expect(throws: Never.self, "example of \(builtin.name)") { _ = try Parser.parse(builtin.example) }
        }
        // The overview's code blocks parse too.
        let blocks = LanguageReference.overview.components(separatedBy: "```\n").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        for block in blocks where !block.hasPrefix("NameError") {
            #expect(throws: Never.self, "overview block:\n\(block)") { _ = try Parser.parse(block) }
        }
    }
}
