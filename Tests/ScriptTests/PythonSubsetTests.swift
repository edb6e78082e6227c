// The Python forms users type: comprehensions, tuples, dicts, f-strings, lambda, try/except, string methods, …
import Testing
@testable import Script

@Suite struct PythonSubsetTests {
    private func value(_ source: String, _ session: Session = Session()) throws -> String? {
        try run(source, in: session)
    }

    @Test func comprehensions() throws {
        #expect(try value("[i * i for i in range(5)]") == "[0, 1, 4, 9, 16]")
        #expect(try value("[x for x in range(10) if x % 3 == 0 if x > 0]") == "[3, 6, 9]")
        #expect(try value("[(i, j) for i in range(3) for j in range(i)]") == "[(1, 0), (2, 0), (2, 1)]")
        #expect(try value("[[i * j for j in range(3)] for i in range(2)]") == "[[0, 0, 0], [0, 1, 2]]")
        #expect(try value("{k: v * 2 for k, v in {\"a\": 1, \"b\": 2}.items()}") == "{\"a\": 2, \"b\": 4}")
        #expect(try value("sum(x for x in [1, 2, 3])") == "6")
        // Loop variables stay inside the comprehension, as in Python 3.
        let e = try #require(error(of: "[i for i in range(3)]\ni"))
        #expect(e.kind == .nameError)
        // Inside a function, the comprehension sees the function's locals.
        #expect(try value("def f(n):\n    k = 10\n    return [k + i for i in range(n)]\nf(3)") == "[10, 11, 12]")
    }

    @Test func tuplesAndUnpacking() throws {
        let session = Session()
        #expect(try value("a, b = 1, 2\na, b = b, a\n[a, b]", session) == "[2, 1]")
        #expect(try value("(1,)", session) == "(1,)")
        #expect(try value("()", session) == "()")
        #expect(try value("def f():\n    return 1, \"x\"\nn, s = f()\ns * n", session) == "\"x\"")
        #expect(try value("out = []\nfor i, (a, b) in enumerate([[1, 2], [3, 4]]):\n    out.append(i + a * b)\nout", session) == "[2, 13]")
        #expect(try value("t = (1, 2, 3)\n[t[0], t[-1], len(t), 2 in t, t[1:]]", session) == "[1, 3, 3, true, (2, 3)]")
        let e = try #require(error(of: "a, b = [1, 2, 3]"))
        #expect(e.kind == .valueError)
        #expect(e.message == "too many values to unpack (expected 2, got 3)")
        #expect(e.column == 1)
        let f = try #require(error(of: "t = (1, 2)\nt[0] = 5"))
        #expect(f.kind == .typeError)
    }

    @Test func dicts() throws {
        let session = Session()
        _ = try value("d = {\"msp\": 0.5, \"energy\": 0.7}", session)
        #expect(try value("d[\"msp\"]", session) == "0.5")
        #expect(try value("[\"msp\" in d, \"knn\" not in d, len(d)]", session) == "[true, true, 2]")
        #expect(try value("d[\"knn\"] = 0.1\nlist(d.keys())", session) == "[\"msp\", \"energy\", \"knn\"]")
        #expect(try value("d.values()", session) == "[0.5, 0.7, 0.1]")
        #expect(try value("[k for k in d]", session) == "[\"msp\", \"energy\", \"knn\"]")
        #expect(try value("d.get(\"nope\", -1)", session) == "-1")
        #expect(try value("d.update(x=1)\nd.pop(\"x\")", session) == "1")
        #expect(try value("{1: \"a\", 1.0: \"b\", (1, 2): \"c\"}", session) == "{1: \"b\", (1, 2): \"c\"}")
        let e = try #require(error(of: "d = {\"msp\": 1}\nd[\"mps\"]"))
        #expect(e.kind == .keyError)
        #expect(e.hint?.contains("\"msp\"") == true)
        #expect(error(of: "{[1]: 2}")?.kind == .typeError)
        // A dict of numbers shows as a table in a notebook.
        let output = try #require(try Session().execute("{\"msp\": 0.91, \"energy\": 0.5}", host: RecordingHost()))
        #expect(output.plain == "{\"msp\": 0.91, \"energy\": 0.5}")
        #expect(output.html?.contains("<td>msp</td>") == true)
    }

    @Test func formattedStrings() throws {
        let session = Session()
        _ = try value("v = 0.91234\nname = \"msp\"", session)
        #expect(try value("f\"AUROC {v:.3f}\"", session) == "\"AUROC 0.912\"")
        #expect(try value("f\"{name!r:>8}|{v:.1%}|{1234567:,}|{3:03d}|{v:e}|{{x}}\"", session)
                == "\"   \\\"msp\\\"|91.2%|1,234,567|003|9.123400e-01|{x}\"")
        #expect(try value("f'{name.upper()}-{[1, 2][1]}-{\"yes\" if v > 0.5 else \"no\"}'", session) == "\"MSP-2-yes\"")
        #expect(try value("\"{} of {total}: {:.2f}\".format(3, 0.5, total=4)", session) == "\"3 of 4: 0.50\"")
        #expect(try value("format(-2.5, \"+08.2f\")", session) == "\"-0002.50\"")
        let e = try #require(error(of: "x = 1\nf\"a {x:.3q}\""))
        #expect(e.kind == .valueError)
        #expect(e.line == 2 && e.column == 6)
        let s = try #require(error(of: "f\"{x\""))
        #expect(s.kind == .syntaxError)
        #expect(error(of: "f\"{}\"")?.message.contains("empty expression") == true)
    }

    @Test func conditionalsIdentityAndMembership() throws {
        #expect(try value("[1 if x > 1 else 0 for x in [1, 2]]") == "[0, 1]")
        #expect(try value("x = None\n[x is None, x is not None, True, False]") == "[true, false, true, false]")
        #expect(try value("t = zeros(3)\nt is none") == "false")
        #expect(try value("[\"a\" in \"abc\", 3 not in [1, 2], \"k\" in {\"k\": 1}]") == "[true, true, true]")
        let e = try #require(error(of: "x = 1 if true"))
        #expect(e.kind == .syntaxError)
        #expect(e.message.contains("`else`"))
    }

    @Test func stringMethods() throws {
        #expect(try value("\"abc\".upper() + \" X \".strip().lower()") == "\"ABCx\"")
        #expect(try value("\"a, b,c\".split(\",\")") == "[\"a\", \" b\", \"c\"]")
        #expect(try value("\" a  b \".split()") == "[\"a\", \"b\"]")
        #expect(try value("\", \".join([\"x\", \"y\"])") == "\"x, y\"")
        #expect(try value("\"7.png\".replace(\"png\", \"jpg\")") == "\"7.jpg\"")
        #expect(try value("[\"model.onnx\".endswith(\".onnx\"), \"x\".startswith((\"a\", \"x\"))]") == "[true, true]")
        let e = try #require(error(of: "\"abc\".uper()"))
        #expect(e.kind == .attributeError)
        #expect(e.hint == "did you mean `upper`?")
        #expect(error(of: "\",\".join([1, 2])")?.kind == .typeError)
    }

    @Test func pythonBuiltins() throws {
        #expect(try value("list(enumerate([\"a\", \"b\"], start=1))") == "[(1, \"a\"), (2, \"b\")]")
        #expect(try value("zip([1, 2, 3], \"ab\")") == "[(1, \"a\"), (2, \"b\")]")
        #expect(try value("sorted([3, 1, 2], reverse=True)") == "[3, 2, 1]")
        #expect(try value("sorted([(\"b\", 2), (\"a\", 2), (\"c\", 1)], key=lambda p: p[1])") == "[(\"c\", 1), (\"b\", 2), (\"a\", 2)]")
        #expect(try value("reversed([1, 2, 3])") == "[3, 2, 1]")
        #expect(try value("[any([0, 0, 1]), all([]), all([1, 0])]") == "[true, true, false]")
        #expect(try value("[round(2.5), round(3.5), round(2.675, 2), round(-0.5)]") == "[2, 4, 2.67, 0]")
        #expect(try value("[int(\"42\"), int(-2.7), float(\"1e-3\"), bool(\"\"), bool([0])]") == "[42, -2, 0.001, false, true]")
        #expect(error(of: "int(\"4.5\")")?.kind == .valueError)
        #expect(try value("xs = [3, 1, 2]\nxs.sort()\nxs.pop(0)\nxs") == "[2, 3]")
        #expect(try value("f = lambda x, y=10: x + y\n[f(1), f(1, y=2)]") == "[11, 3]")
        #expect(try value("def adder(k):\n    return lambda x: x + k\nadder(5)(1)") == "6")
    }

    @Test func tryExceptFinally() throws {
        let host = RecordingHost()
        let source = """
        results = []
        for path in ["a.onnx", "b.onnx"]:
            try:
                m = load(path)
                results.append(path)
            except (IOError, ModelError) as e:
                print("skipped", path, e.kind)
            finally:
                print("tried", path)
        results
        """
        #expect(try run(source, in: Session(), host: host) == "[]")
        #expect(host.stdout == "skipped a.onnx IOError\ntried a.onnx\nskipped b.onnx IOError\ntried b.onnx\n")
        #expect(try value("try:\n    1 / 0\nexcept ZeroDivisionError:\n    x = \"caught\"\nx") == "\"caught\"")
        #expect(try value("try:\n    [][1]\nexcept Exception as e:\n    m = str(e)\nm") == "\"index 1 is out of range for a list of length 0\"")
        // A kind not named passes through; finally still runs.
        let h = RecordingHost()
        let e = try #require(error(of: "try:\n    [][1]\nexcept KeyError:\n    pass\nfinally:\n    print(\"cleanup\")", host: h))
        #expect(e.kind == .indexError && e.line == 2)
        #expect(h.stdout == "cleanup\n")
        // Unknown and uncatchable kinds are refused before anything runs.
        let u = try #require(error(of: "try:\n    pass\nexcept ValueEror:\n    pass"))
        #expect(u.kind == .syntaxError && u.hint?.hasPrefix("did you mean `ValueError`?") == true)
        #expect(error(of: "try:\n    pass\nexcept KeyboardInterrupt:\n    pass")?.kind == .syntaxError)
        #expect(error(of: "try:\n    x = 1\n")?.message == "`try` needs an `except` or a `finally` block")
    }

    @Test func assertAndPass() throws {
        let e = try #require(error(of: "x = 1\nassert x > 1, f\"x is {x}\""))
        #expect(e.kind == .assertionError && e.message == "x is 1" && e.line == 2)
        #expect(try value("assert true\npass\n1") == "1")
    }

    @Test func pythonStatementsOutsideTheLanguageSayWhy() throws {
        for (source, fragment) in [("import numpy as np", "`import` is not part of Mirage"),
                                   ("from os import path", "`from … import`"),
                                   ("class Model:\n    pass", "classes"),
                                   ("def f():\n    global x\n    x = 1", "`global`"),
                                   ("def g():\n    yield 1", "generators"),
                                   ("raise ValueError(\"x\")", "`raise`"),
                                   ("del x", "`del`")] {
            let e = try #require(error(of: source), "\(source)")
            #expect(e.kind == .syntaxError, "\(source)")
            #expect(e.message.contains(fragment), "\(source): \(e.message)")
            #expect(e.hint != nil, "\(source)")
        }
        #expect(error(of: "{1, 2}")?.message == "sets are not part of Mirage")
        // The names themselves stay usable as variables.
        #expect(try value("from = 1\nwith = 2\nfrom + with") == "3")
    }

    @Test func errorKindsAreDocumentedAndCatchable() throws {
        for kind in ScriptError.Kind.catchable {
            #expect(try Parser.catchable(kind.rawValue, at: SourcePosition(line: 1, column: 1)) == kind)
        }
        #expect(ScriptError.Kind.allCases.map(\.rawValue).contains("KeyError"))
        #expect(LanguageReference.markdown().contains("| `AssertionError` |"))
    }

    @Test func whosListsVariablesWithKindShapeAndSize() throws {
        let session = Session()
        let host = RecordingHost()
        #expect(try session.execute("x = zeros(2, 3)\nnames = [\"a\"]\nd = {\"k\": 1}\nwhos()", host: host) == nil)
        let out = try #require(host.displays.first)
        #expect(out.html?.contains("<th>Kind</th>") == true)
        let lines = out.plain.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("Variable"))
        #expect(lines.contains { $0.hasPrefix("x ") && $0.contains("tensor") && $0.contains("[2, 3]") && $0.contains("6 × float32 = 24 B") })
        #expect(lines.contains { $0.hasPrefix("names") && $0.contains("1 item") })
        #expect(lines.contains { $0.hasPrefix("d ") && $0.contains("1 entry") })
        let inspected = try #require(session.inspect("x", cursor: 1, detailLevel: 0))
        #expect(inspected.plain.hasPrefix("x: tensor, shape [2, 3], 6 × float32 = 24 B"))
    }
}
