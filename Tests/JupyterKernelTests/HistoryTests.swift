import Testing
@testable import JupyterKernel

@Suite struct HistoryTests {
    var history: History {
        var h = History()
        for (line, input) in ["x = 1", "1 + 2", "print(x)", "1 + 2", "y = [1]"].enumerated() {
            h.record(line: line + 1, input: input, output: input == "1 + 2" ? "3" : nil)
        }
        return h
    }

    @Test func tailReturnsTheLastCellsInOrder() {
        #expect(history.tail(2).map(\.input) == ["1 + 2", "y = [1]"])
        #expect(history.tail(0).isEmpty)
    }

    @Test func rangeIsHalfOpenAndKnowsItsSession() {
        #expect(history.range(session: 1, start: 2, stop: 4).map(\.line) == [2, 3])
        #expect(history.range(session: 0, start: 4, stop: nil).map(\.line) == [4, 5])
        #expect(history.range(session: 7, start: 1, stop: nil).isEmpty)
    }

    @Test func searchGlobsWholeInputsWithUniqueAndN() {
        #expect(history.search(pattern: "1 + ?", n: nil, unique: false).map(\.line) == [2, 4])
        #expect(history.search(pattern: "1 + ?", n: nil, unique: true).map(\.line) == [4])
        #expect(history.search(pattern: "*", n: 2, unique: false).map(\.line) == [4, 5])
        #expect(history.search(pattern: "print", n: nil, unique: false).isEmpty)
    }

    @Test(arguments: [
        ("a*c", "abbbc", true), ("a*c", "abbb", false), ("?b", "ab", true), ("[a-c]x", "bx", true),
        ("[!a-c]x", "bx", false), ("*", "", true), ("a**b", "ab", true), ("*a*b*", "xxaxxbxx", true),
    ])
    func globMatches(pattern: String, text: String, expected: Bool) {
        #expect(Glob(pattern).matches(text) == expected)
    }
}
