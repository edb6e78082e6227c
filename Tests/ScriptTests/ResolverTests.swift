// The scoping rules the resolver binds names by: the same answers the name-keyed tree walk gave.
import Testing
@testable import Script

@Suite struct ResolverTests {
    @Test func aFunctionReadsAGlobalUntilItAssignsItsOwn() throws {
        let session = Session()
        // `x` is assigned in `f`, so it has a slot; until then the global answers (no UnboundLocalError here).
        #expect(try run("x = 5\ndef f():\n    y = x\n    x = 3\n    return [y, x]\nf()", in: session) == "[5, 3]")
        #expect(try run("x", in: session) == "5")
    }

    @Test func globalsDefinedAfterTheFunctionAreSeen() throws {
        let session = Session()
        _ = try run("def f():\n    return later * 2", in: session)
        #expect(error(of: "f()", in: session)?.kind == .nameError)
        _ = try run("later = 21", in: session)
        #expect(try run("f()", in: session) == "42")
    }

    @Test func closuresCaptureTheFrameByValue() throws {
        let session = Session()
        let source = """
        def outer():
            a = 1
            def inner(b):
                return a * 10 + b
            a = 2
            return inner(3)
        outer()
        """
        #expect(try run(source, in: session) == "13")
        // A lambda made in a comprehension sees that iteration's loop variable.
        #expect(try run("fs = [lambda y: x + y for x in range(3)]\n[f(10) for f in fs]", in: session) == "[10, 11, 12]")
    }

    @Test func comprehensionVariablesStayInside() throws {
        let session = Session()
        #expect(try run("i = 100\nsquares = [i * i for i in range(4)]\n[i, squares]", in: session) == "[100, [0, 1, 4, 9]]")
        #expect(try run("def g(n):\n    k = 2\n    return [k * j for j in range(n)]\ng(3)", in: session) == "[0, 2, 4]")
        #expect(error(of: "[j for j in range(2)]\nj", in: session)?.kind == .nameError)
    }

    @Test func elementAssignmentAndAppendWriteWhereTheNameLives() throws {
        let session = Session()
        let source = """
        xs = [0, 0]
        def f():
            xs[0] = 7
            xs.append(1)
        f()
        def g():
            ys = [1]
            ys.append(2)
            ys[0] = 5
            return ys
        [xs, g()]
        """
        #expect(try run(source, in: session) == "[[7, 0, 1], [5, 2]]")
    }

    @Test func recursionAndDefaultsAndKeywords() throws {
        let session = Session()
        #expect(try run("def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\nfact(10)", in: session) == "3628800")
        #expect(try run("def h(a, b=2, c=3):\n    return [a, b, c]\n[h(1), h(1, 5), h(1, c=9), h(c=0, a=4)]", in: session)
                == "[[1, 2, 3], [1, 5, 3], [1, 2, 9], [4, 2, 0]]")
        #expect(error(of: "h()", in: session)?.message == "h() missing required argument `a`")
        #expect(error(of: "h(1, 2, 3, 4)", in: session)?.message == "h() takes 3 positional arguments but 4 were given")
    }

    @Test func exceptNamesAndNestedDefsBindInTheFunction() throws {
        let session = Session()
        let source = """
        def safe(x):
            try:
                return 1 / x
            except ZeroDivisionError as e:
                def describe():
                    return e.kind
                return describe()
        [safe(2), safe(0)]
        """
        #expect(try run(source, in: session) == "[0.5, \"ZeroDivisionError\"]")
        #expect(error(of: "e", in: session)?.kind == .nameError)
    }

    @Test func aMisspelledLocalIsSuggested() throws {
        let failure = error(of: "def f():\n    counter = 1\n    return countr\nf()")
        #expect(failure?.kind == .nameError)
        #expect(failure?.hint == "did you mean `counter`?")
    }

    @Test func builtinsCanBeShadowed() throws {
        let session = Session()
        #expect(try run("def f(len):\n    return len * 2\n[f(4), len([1, 2])]", in: session) == "[8, 2]")
        #expect(try run("len = 3\nlen", in: session) == "3")
    }
}
