import Testing
@testable import Script

@Suite struct CompletionTests {
    @Test func completesBuiltinsKeywordsAndVariables() throws {
        let session = Session()
        let c = session.complete("pri", cursor: 3)
        #expect(c.matches.contains("print"))
        #expect(c.start == 0 && c.end == 3)
        #expect(session.complete("x = wh", cursor: 6).matches == ["while"])
        try run("learning_rate = 0.1", in: session)
        let v = session.complete("y = 2 * lea", cursor: 11)
        #expect(v.matches == ["learning_rate"])
        #expect(v.start == 8 && v.end == 11)
    }

    @Test func completesAttributesAfterADot() throws {
        let session = Session()
        try run("t = zeros(2, 2)", in: session)
        let c = session.complete("t.sha", cursor: 5)
        #expect(c.matches == ["shape"])
        #expect(c.start == 2 && c.end == 5)
        #expect(session.complete("t.", cursor: 2).matches == ["rank", "shape", "size"])
        #expect(session.complete("missing.sh", cursor: 10).matches.isEmpty)
    }

    @Test func offsetsAreUnicodeScalars() throws {
        let session = Session()
        try run("größe = 3", in: session)
        let source = "é = grö"
        let c = session.complete(source, cursor: source.unicodeScalars.count)
        #expect(c.matches == ["größe"])
        #expect(c.start == 4 && c.end == 7)
    }

    @Test func completesParameterNamesInsideCalls() throws {
        let session = Session()
        #expect(session.complete("noise(3, ki", cursor: 11).matches == ["kind="])
        #expect(session.complete("x = image(\"a.png\", gra", cursor: 21).matches == ["gradient", "gray="])
        try run("def f(alpha, beta=1):\n    return alpha", in: session)
        #expect(session.complete("f(1, be", cursor: 7).matches == ["beta="])
    }

    @Test func noCompletionInsideStrings() {
        #expect(Session().complete("print(\"pri", cursor: 10).matches.isEmpty)
    }

    @Test func inspection() throws {
        let session = Session()
        let doc = try #require(session.inspect("print(1)", cursor: 2, detailLevel: 0))
        #expect(doc.plain.hasPrefix("print(*values, sep=\" \")"))
        #expect(session.inspect("print", cursor: 5, detailLevel: 0)?.plain == doc.plain)
        #expect(session.inspect("print(", cursor: 6, detailLevel: 0)?.plain == doc.plain)
        try run("x = zeros(2, 2)", in: session)
        #expect(session.inspect("y = x + 1", cursor: 5, detailLevel: 0)?.plain == "x = Tensor(shape=[2, 2], min=0, max=0, mean=0)")
        #expect(session.inspect("y = x + 1", cursor: 5, detailLevel: 0)?.png == nil)
        #expect(session.inspect("y = x + 1", cursor: 5, detailLevel: 1)?.png != nil)
        #expect(session.inspect("for", cursor: 1, detailLevel: 0)?.plain.hasPrefix("for name in values:") == true)
        #expect(session.inspect("nothing_here", cursor: 3, detailLevel: 0) == nil)
        #expect(session.inspect("", cursor: 0, detailLevel: 0) == nil)
    }

    @Test func completeness() {
        let session = Session()
        #expect(session.completeness("print(1)") == .complete)
        #expect(session.completeness("") == .complete)
        #expect(session.completeness("print(1") == .incomplete(indent: ""))
        #expect(session.completeness("x = [1,\n     2") == .incomplete(indent: "     "))
        #expect(session.completeness("s = \"\"\"abc") == .incomplete(indent: ""))
        #expect(session.completeness("for i in range(3):") == .incomplete(indent: "    "))
        #expect(session.completeness("if x:\n    if y:") == .incomplete(indent: "        "))
        #expect(session.completeness("for i in range(3):\n    print(i)") == .incomplete(indent: "    "))
        #expect(session.completeness("for i in range(3):\n    print(i)\n") == .incomplete(indent: "    "))
        #expect(session.completeness("for i in range(3):\n    print(i)\n\n") == .complete)
        #expect(session.completeness("print(1))") == .invalid)
        #expect(session.completeness("print(1)]") == .invalid)
        #expect(session.completeness("(]") == .invalid)
        #expect(session.completeness("def f(:") == .invalid)
        #expect(session.completeness("x = = 1") == .invalid)
        #expect(session.completeness("x = 1 # comment:") == .complete)
    }
}
