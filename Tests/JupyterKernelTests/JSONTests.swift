import Testing
@testable import JupyterKernel

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSON.parse(#" {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d"}} "#)
        #expect(value == ["a": [1, -2.5, 300.0, true, false, nil], "b": ["c": "d"]])
    }

    @Test func decodesEscapesIncludingSurrogatePairs() throws {
        let value = try JSON.parse(#""tab\t nl\n quote\" slash\/ \u00e9 \ud83d\ude00""#)
        #expect(value == .string("tab\t nl\n quote\" slash/ é 😀"))
    }

    @Test func printsCompactSortedAndEscaped() {
        let value: JSON = ["z": 1, "a": ["x\n\"y\"", .double(0.5), nil], "m": [:]]
        #expect(value.text == #"{"a":["x\n\"y\"",0.5,null],"m":{},"z":1}"#)
    }

    @Test func roundTripsUnicodeAndControlCharacters() throws {
        let original: JSON = ["text": .string("naïve ☃ \u{01} \u{1F600}")]
        #expect(try JSON.parse(original.bytes) == original)
    }

    @Test(arguments: [
        ("{", "unterminated"), ("[1,]", "unexpected character"), (#"{"a" 1}"#, "expected ':'"),
        (#""abc"#, "unterminated string"), ("tru", "expected true"), ("1 2", "trailing"),
        (#""\x""#, "bad escape"), ("{'a': 1}", "expected a string key"),
    ])
    func reportsWhereAndWhyInputIsInvalid(input: String, reason: String) {
        #expect {
            try JSON.parse(input)
        } throws: { error in
            String(describing: error).contains(reason)
        }
    }

    @Test func refusesHostileNestingWithoutOverflowingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect((try? JSON.parse(fine)) != nil)
    }

    @Test func readsIntegralDoublesAsIntegers() throws {
        #expect(try JSON.parse("12.0").intValue == 12)
        #expect(try JSON.parse("12.5").intValue == nil)
    }
}
