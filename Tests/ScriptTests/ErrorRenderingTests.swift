import Testing
@testable import Script

/// Golden tests: the exact text a notebook shows for common mistakes.
@Suite struct ErrorRenderingTests {
    @Test func nameErrorSuggestsCloseName() throws {
        let session = Session()
        try run("undefined_name = 1", in: session)
        let e = try #require(error(of: "y = 2\nz = undefinde_name + 1", in: session))
        #expect(e.rendered == """
        NameError: `undefinde_name` is not defined
        line 2, column 5:
            z = undefinde_name + 1
                ^
        hint: did you mean `undefined_name`?
        """)
        #expect(e.hint == "did you mean `undefined_name`?")
    }

    @Test func pythonSpellingsGetAHint() throws {
        #expect(error(of: "x = True")?.hint == "Mirage spells it `true`")
        #expect(error(of: "pirnt(1)")?.hint == "did you mean `print`?")
    }

    @Test func missingArgumentListsTheSignature() throws {
        let e = try #require(error(of: "clip(1, 2)"))
        #expect(e.rendered == """
        TypeError: clip() missing required argument `hi`
        line 1, column 1:
            clip(1, 2)
            ^
        hint: signature: clip(x, lo, hi)
        """)
    }

    @Test func unknownKeywordSuggestsParameter() throws {
        let e = try #require(error(of: "noise(3, kidn=\"normal\")"))
        #expect(e.message == "noise() got an unexpected keyword argument `kidn`")
        #expect(e.hint == "did you mean `kind`? signature: noise(*shape, kind=\"uniform\", seed=none)")
        let many = try #require(error(of: "len(1, 2)"))
        #expect(many.message == "len() takes 1 positional argument but 2 were given")
    }

    @Test func shapeMismatchGivesBothShapes() throws {
        let e = try #require(error(of: "a = zeros(2, 3)\nb = a * zeros(3, 2)"))
        #expect(e.rendered == """
        ShapeError: cannot broadcast shapes [2, 3] and [3, 2] for `*`
        line 2, column 7:
            b = a * zeros(3, 2)
                  ^
        hint: left operand has shape [2, 3], right operand has shape [3, 2]; compared from the right, each pair of dimensions must be equal or 1
        """)
    }

    @Test func syntaxErrorPointsAtTheToken() throws {
        let e = try #require(error(of: "x = [1, 2\ny = 3"))
        #expect(e.rendered == """
        SyntaxError: `[` was never closed
        line 1, column 5:
            x = [1, 2
                ^
        """)
        let pair = try #require(error(of: "f(1 2)"))
        #expect(pair.rendered == """
        SyntaxError: expected `)` to close the argument list, found number `2`
        line 1, column 5:
            f(1 2)
                ^
        """)
        let tab = try #require(error(of: "if 1:\n\tx = 1 +"))
        #expect(tab.rendered == "SyntaxError: expected an expression, found the end of the line\nline 2, column 9:\n    \tx = 1 +\n    \t       ^")
    }

    @Test func errorInsideAFunctionQuotesItsDefinition() throws {
        let session = Session()
        try run("def f(x):\n    return x + \"a\"", in: session)
        let e = try #require(error(of: "y = 1\nf(1)", in: session))
        #expect(e.rendered == """
        TypeError: unsupported operand types for `+`: number and string
        line 2, column 14:
                return x + "a"
                         ^
        in function `f`
        """)
    }

    @Test func publicInitializerRendersWithSource() {
        let e = ScriptError(kind: "ValueError", message: "bad value", line: 2, column: 3, hint: "try 1", source: "a = 1\nb = f(0)")
        #expect(e.rendered == "ValueError: bad value\nline 2, column 3:\n    b = f(0)\n      ^\nhint: try 1")
    }

    @Test func interruptRendering() {
        #expect(ScriptError.interrupted().rendered == "KeyboardInterrupt: interrupted")
        #expect(ScriptError(kind: "ValueError", message: "bad", line: 3, hint: "fix it").rendered == "ValueError: bad\nline 3:\nhint: fix it")
    }

    @Test func closestNameIsAPlausibleTypo() {
        #expect(closestName(to: "shpae", among: ["shape", "rank", "size"]) == "shape")
        #expect(closestName(to: "zzz", among: ["shape", "rank"]) == nil)
    }
}
