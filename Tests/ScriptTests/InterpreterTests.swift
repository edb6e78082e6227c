import Foundation
import Imaging
import Testing
@testable import Script

@Suite struct InterpreterTests {
    @Test func printWritesToStdout() throws {
        let host = RecordingHost()
        let result = try Session().execute("print(\"hello, world\")", host: host)
        #expect(host.stdout == "hello, world\n")
        #expect(result == nil)
    }

    @Test func printSeparatorAndValues() throws {
        let host = RecordingHost()
        try run("print(1, 2.5, \"x\", [1, \"a\"], true, none, sep=\"|\")", in: Session(), host: host)
        #expect(host.stdout == "1|2.5|x|[1, \"a\"]|true|none\n")
    }

    @Test func warnWritesToStderr() throws {
        let host = RecordingHost()
        try run("warn(\"careful\", 1)", in: Session(), host: host)
        #expect(host.stderr == "careful 1\n")
        #expect(host.stdout.isEmpty)
    }

    @Test func lastExpressionIsTheResult() throws {
        let session = Session()
        #expect(try run("1 + 2", in: session) == "3")
        #expect(try run("7 / 2", in: session) == "3.5")
        #expect(try run("2 ** 10", in: session) == "1024")
        #expect(try run("\"a\" + 'b'", in: session) == "\"ab\"")
        #expect(try run("[1, \"a\", [true, none]]", in: session) == "[1, \"a\", [true, none]]")
        #expect(try run("none", in: session) == nil)
        #expect(try run("x = 5", in: session) == nil)
        #expect(try run("x\nx + 1", in: session) == "6")
        #expect(try run("0.1 + 0.2", in: session) == "0.30000000000000004")
        #expect(try run("-7 % 3", in: session) == "2")
        #expect(try run("7 // 2", in: session) == "3")
        #expect(try run("1e20", in: session) == "1e+20")
        #expect(try run("print", in: session) == "print(*values, sep=\" \")")
    }

    @Test func precedenceAndLogic() throws {
        let session = Session()
        #expect(try run("1 + 2 * 3 ** 2", in: session) == "19")
        #expect(try run("-2 ** 2", in: session) == "-4")
        #expect(try run("2 ** 3 ** 2", in: session) == "512")
        #expect(try run("not 1 == 2", in: session) == "true")
        #expect(try run("1 < 2 < 3", in: session) == "true")
        #expect(try run("3 > 2 > 2", in: session) == "false")
        #expect(try run("0 or \"x\"", in: session) == "\"x\"")
        #expect(try run("1 and 0", in: session) == "0")
        #expect(try run("2 in [1, 2]", in: session) == "true")
        #expect(try run("5 in range(0, 10, 2)", in: session) == "false")
        #expect(try run("(1 + 2) * 3", in: session) == "9")
    }

    @Test func tensorDisplaysAsPictureWithSummary() throws {
        let output = try #require(try Session().execute("zeros(8, 8)", host: RecordingHost()))
        #expect(output.plain == "Tensor(shape=[8, 8], min=0, max=0, mean=0)")
        let png = try #require(output.png)
        let decoded = try PNG.decode(png)
        #expect(decoded.shape == [1, 128, 128])
        #expect(output.pngWidth == 128 && output.pngHeight == 128)
    }

    @Test func showDisplaysPicturesSideBySide() throws {
        let host = RecordingHost()
        try run("show(zeros(8, 8))", in: Session(), host: host)
        #expect(host.displays.count == 1)
        let single = try PNG.decode(try #require(host.displays[0].png))
        #expect(single.shape == [1, 128, 128])

        let host2 = RecordingHost()
        try run("show(zeros(1, 28, 28), ones(3, 28, 28), \"caption\")", in: Session(), host: host2)
        #expect(host2.displays.count == 2)
        let grid = try PNG.decode(try #require(host2.displays[0].png))
        #expect(grid.shape[0] == 3)
        #expect(grid.shape[2] > grid.shape[1])  // side by side
        #expect(host2.displays[1].plain == "\"caption\"")
        #expect(host2.displays[1].png == nil)
    }

    @Test func undefinedNameIsANameErrorAtLineOneColumnOne() throws {
        let e = try #require(error(of: "undefined_name"))
        #expect(e.kind == .nameError)
        #expect(e.line == 1)
        #expect(e.column == 1)
    }

    @Test func failingStatementKeepsEarlierAssignments() throws {
        let session = Session()
        let e = try #require(error(of: "a = 1\nb = a + missing\nc = 3", in: session))
        #expect(e.kind == .nameError)
        #expect(e.line == 2 && e.column == 9)
        #expect(try run("a", in: session) == "1")
        #expect(error(of: "c", in: session)?.kind == .nameError)
        #expect(error(of: "b", in: session)?.kind == .nameError)
    }

    @Test func stateCarriesAcrossCells() throws {
        let session = Session()
        try run("def double(x):\n    return 2 * x\nxs = [1, 2]", in: session)
        try run("xs[0] = double(10)", in: session)
        #expect(try run("xs", in: session) == "[20, 2]")
    }

    @Test func sleepStopsWhenInterrupted() throws {
        let host = RecordingHost(interruptAfter: 0.05)
        let start = Date()
        let e = try #require(error(of: "sleep(60)", host: host))
        #expect(e.kind == .keyboardInterrupt)
        #expect(e.message == "interrupted")
        #expect(Date().timeIntervalSince(start) < 30)
    }

    @Test func loopsStopWhenInterrupted() throws {
        let host = RecordingHost(interruptAfter: 0.05)
        let session = Session()
        let e = try #require(error(of: "for i in range(1e9):\n    x = i", in: session, host: host))
        #expect(e.kind == .keyboardInterrupt)
        #expect(e.line == 1)
        // The loop variable kept the last value it reached.
        #expect(try run("x > 0", in: session) == "true")
        let e2 = try #require(error(of: "while true:\n    pass", host: RecordingHost(interruptAfter: 0.02)))
        #expect(e2.kind == .keyboardInterrupt)
    }

    @Test func controlFlow() throws {
        let host = RecordingHost()
        let source = """
        total = 0
        for i in range(10):
            if i == 2:
                continue
            elif i >= 5:
                break
            else:
                total += i
        n = 0
        while n < 3: n = n + 1
        print(total, n)
        """
        try run(source, in: Session(), host: host)
        #expect(host.stdout == "8 3\n")
    }

    @Test func userFunctions() throws {
        let session = Session()
        try run("""
        def fib(n):
            if n < 2:
                return n
            return fib(n - 1) + fib(n - 2)
        def greet(name, greeting="hello"):
            return greeting + ", " + name
        """, in: session)
        #expect(try run("fib(15)", in: session) == "610")
        #expect(try run("greet(\"ada\")", in: session) == "\"hello, ada\"")
        #expect(try run("greet(\"ada\", greeting=\"hi\")", in: session) == "\"hi, ada\"")
        #expect(try run("greet", in: session) == "greet(name, greeting=\"hello\")")
        #expect(error(of: "greet()", in: session)?.message == "greet() missing required argument `name`")
        #expect(error(of: "greet(\"a\", grеeting=1)", in: session)?.kind == .typeError)
    }

    @Test func functionsUseLocalsAndSeeGlobals() throws {
        let session = Session()
        try run("scale = 3\ndef f(x):\n    y = x * scale\n    return y", in: session)
        #expect(try run("f(2)", in: session) == "6")
        #expect(error(of: "y", in: session)?.kind == .nameError)
    }

    @Test func runawayRecursionIsARecursionError() throws {
        let session = Session()
        let e = try #require(error(of: "def f(n):\n    return f(n + 1)\nf(0)", in: session))
        #expect(e.kind == .recursionError)
        #expect(e.rendered.contains("in function `f`"))
    }

    @Test func deepEvaluationIsARecursionErrorNotAStackOverflow() throws {
        // 60 nested negations per call times up to 200 calls passes the evaluation-depth limit first.
        let nested = String(repeating: "-(", count: 60) + "f(n - 1)" + String(repeating: ")", count: 60)
        let e = try #require(error(of: "def f(n):\n    if n == 0:\n        return 0\n    return \(nested)\nf(190)"))
        #expect(e.kind == .recursionError)
        #expect(e.message == "maximum evaluation depth exceeded")
        var ifs = "def h(n):\n    if n == 0:\n        return 0\n"
        for level in 1...150 { ifs += String(repeating: "    ", count: level) + "if true:\n" }
        ifs += String(repeating: "    ", count: 151) + "return h(n - 1)\nh(190)"
        #expect(error(of: ifs)?.kind == .recursionError)
        let lists = String(repeating: "[", count: 190) + String(repeating: "]", count: 190)
        #expect(try run("def g(n):\n    if n == 0:\n        return 0\n    x = \(lists)\n    return g(n - 1)\ng(150)", in: Session()) == "0")
    }

    @Test func tensorArithmeticBroadcasts() throws {
        let session = Session()
        #expect(try run("(zeros(2, 3) + ones(3)).shape", in: session) == "[2, 3]")
        #expect(try run("sum(ones(2, 3) * 2 + 1)", in: session) == "18")
        #expect(try run("sum(1 - ones(4))", in: session) == "0")
        #expect(try run("mean(ones(2, 2) > 0.5)", in: session) == "1")
        #expect(try run("max(-ones(3) * 2)", in: session) == "-2")
        #expect(try run("t = zeros(3, 2)\nt[1] = 5\nt[-1] = [7][0]\nsum(t)", in: session) == "24")
        #expect(try run("t[1][0]", in: session) == "5")
        #expect(try run("len(t)", in: session) == "3")
        #expect(try run("t.rank", in: session) == "2")
        #expect(try run("t.size", in: session) == "6")
        #expect(try run("clip(noise(100, seed=2) * 3, 0.5, 1).shape", in: session) == "[100]")
        #expect(try run("min(clip(noise(100, seed=2) * 3, 0.5, 1))", in: session) == "0.5")
        #expect(try run("sqrt(16) + abs(-1) + log(exp(2))", in: session) == "7")
        #expect(try run("max(ones(2) * 3, 4)", in: session) == "Tensor(shape=[2], min=4, max=4, mean=4)")
        #expect(try run("min(3, 1, 2)", in: session) == "1")
        #expect(try run("sum([1, 2, 3]) + mean(range(5))", in: session) == "8")
        #expect(try run("ones(2) * 1e20", in: session) == "Tensor(shape=[2], min=1e+20, max=1e+20, mean=1e+20)")
        #expect(try run("sum(ones(10) * 0.1)", in: session) == "1")
        #expect(try run("noise(3, seed=1)[0] * 0 + ones(1)[0] * 0.3", in: session) == "0.3")
    }

    @Test func shapeMismatchReportsBothShapes() throws {
        let e = try #require(error(of: "zeros(2, 3) + zeros(4)"))
        #expect(e.kind == .shapeError)
        #expect(e.message.contains("[2, 3]") && e.message.contains("[4]"))
        #expect(e.column == 13)
    }

    @Test func indexing() throws {
        let session = Session()
        try run("xs = [10, 20, 30]", in: session)
        #expect(try run("xs[-1]", in: session) == "30")
        #expect(try run("\"abc\"[1]", in: session) == "\"b\"")
        #expect(try run("range(5)[4]", in: session) == "4")
        #expect(error(of: "xs[3]", in: session)?.kind == .indexError)
        #expect(error(of: "xs[1.5]", in: session)?.kind == .typeError)
        try run("m = [[1, 2], [3, 4]]\nm[1][0] = 9", in: session)
        #expect(try run("m", in: session) == "[[1, 2], [9, 4]]")
        // Lists are values: changing a copy leaves the original alone.
        try run("a = [1, 2]\nb = a\nb[0] = 5", in: session)
        #expect(try run("a", in: session) == "[1, 2]")
    }

    @Test func randomnessIsSeeded() throws {
        let session = Session()
        #expect(try run("sum(noise(5, seed=1) == noise(5, seed=1))", in: session) == "5")
        #expect(try run("seed(7)\na = noise(2, 3, kind=\"normal\")\nseed(7)\nb = noise(2, 3, kind=\"normal\")\nsum(a == b)", in: session) == "6")
        #expect(try run("sum(noise(5) == noise(5))", in: session) == "0")
        let first = try run("seed(3)\nnoise(4)", in: Session())
        let second = try run("seed(3)\nnoise(4)", in: Session())
        #expect(first == second)
        #expect(try run("u = noise(10000, seed=4)\nmin(u) >= 0 and max(u) < 1 and abs(mean(u) - 0.5) < 0.02", in: session) == "true")
        #expect(try run("z = noise(10000, kind=\"normal\", seed=4)\nabs(mean(z)) < 0.05 and abs(mean(z * z) - 1) < 0.05", in: session) == "true")
        #expect(error(of: "noise(3, kind=\"gauss\")")?.kind == .valueError)
    }

    @Test func spiralIsADeterministicPicture() throws {
        let session = Session()
        try run("s = spiral(28, 28, channels=1, seed=1)", in: session)
        #expect(try run("s.shape", in: session) == "[1, 28, 28]")
        #expect(try run("min(s) >= 0 and max(s) == 1", in: session) == "true")
        #expect(try run("mean(s) > 0.05 and mean(s) < 0.6", in: session) == "true")
        #expect(try run("sum(s == spiral(28, 28, seed=1)) == 784", in: session) == "true")
        #expect(try run("sum(s == spiral(28, 28, seed=2)) < 784", in: session) == "true")
        #expect(try run("spiral(32, 48, channels=3, seed=5).shape", in: session) == "[3, 32, 48]")
    }

    @Test func plotsAreCellResultsWithPictures() throws {
        let host = RecordingHost()
        let session = Session()
        try run("p = plot([3, 1, 0.5, 0.25], title=\"loss\", log=true)", in: session, host: host)
        let output = try #require(try session.execute("p", host: host))
        #expect(output.png?.starts(with: [0x89, 0x50, 0x4E, 0x47]) == true)
        #expect(output.plain.hasPrefix("line plot: 1 series, 4 points"))
        #expect(try run("p.width", in: session) == "640")
        #expect(try session.execute("plot([[1, 2], [2, 1]], labels=[\"a\", \"b\"])", host: host)?.plain.contains("2 series") == true)
        #expect(try session.execute("scatter(ones(5), range(5), labels=[\"z_in\", \"z_adv\"])", host: host)?.png != nil)
        #expect(error(of: "scatter([1, 2], [1])")?.kind == .shapeError)
        #expect(error(of: "plot(\"abc\")")?.kind == .typeError)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mirage-plot-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try run("save(p, \"\(path)\")", in: session)
        #expect(try PNG.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))).shape[1] == 800)
        #expect(error(of: "save(p, \"p.npy\")", in: session)?.hint == "plots save as .png")
    }

    @Test func normalisationIsPartOfTheModel() throws {
        let session = Session()
        try run("""
            plain = layer(load("Examples/models/mnist_cnn.onnx"), "logits")
            scaled = layer(load("Examples/models/mnist_cnn.onnx", mean=[0.5], std=[0.25]), "logits")
            x = noise(1, 28, 28, seed=3)
            gap = max(abs(encode(scaled, x) - encode(plain, (x - 0.5) / 0.25)))
            """, in: session)
        #expect(try run("gap < 1e-4", in: session) == "true")
        // The attack works in pixel space through the normalisation: it still lowers the loss.
        try run("atk = ood_attack(scaled, source=x, target=zeros(1, 28, 28), eps=3, lr=0.05, seed=0)\nstep(atk, 10)", in: session)
        #expect(try run("atk.loss[9] < atk.loss[0] and min(atk.x) >= 0 and max(atk.x) <= 1", in: session) == "true")
        #expect(error(of: "load(\"Examples/models/mnist_cnn.onnx\", mean=[0.5, 0.5], std=[1, 2, 3])")?.message.contains("same length") == true)
        #expect(error(of: "load(\"Examples/models/mnist_cnn.onnx\", std=[0])")?.message.contains("nonzero") == true)
    }

    @Test func completesTensorNamesInsideLayer() throws {
        let session = Session()
        try run("enc = load(\"Examples/models/mnist_cnn.onnx\")", in: session)
        let code = "feat = layer(enc, \"fe"
        let completion = session.complete(code, cursor: code.unicodeScalars.count)
        #expect(completion.matches == ["features"])
        #expect(completion.start == code.unicodeScalars.count - 2)
        let named = "layer(enc, name='con"
        #expect(session.complete(named, cursor: named.unicodeScalars.count).matches == ["conv2d", "conv2d_1"])
        #expect(session.complete("layer(nothing, \"fe", cursor: 18).matches.isEmpty)
    }

    @Test func foldersAndJPEGsReadAsPictures() throws {
        let session = Session()
        #expect(try run("images(\"Examples/data/ood\", size=[28, 28], gray=true).shape", in: session) == "[4, 1, 28, 28]")
        #expect(try run("image(\"Tests/ImagingTests/Fixtures/baseline.jpg\", size=[8, 12]).shape", in: session) == "[3, 8, 12]")
        #expect(error(of: "images(\"Examples/data/ood\")")?.message.contains("pass a size") == true)
        #expect(error(of: "image(\"x.gif\")")?.hint == "image() reads .png, .jpg and .npy files")
    }

    @Test func modelBuiltinsExplainBadArguments() throws {
        let missing = try #require(error(of: "load(\"no/such/model.onnx\")"))
        #expect(missing.kind == .ioError && missing.message == "load(): file \"no/such/model.onnx\" not found")
        #expect(missing.hint?.contains("the working directory is") == true)
        #expect(error(of: "layer(1, \"features\")")?.message.contains("expects a model") == true)
        let session = Session()
        try run("enc = load(\"Examples/models/mnist_cnn.onnx\")", in: session)
        #expect(error(of: "layer(enc, \"featurez\")", in: session)?.message.contains("did you mean 'features'") == true)
        #expect(error(of: "encode(enc, zeros(1, 28, 28))", in: session)?.message.contains("got a model") == true)
        try run("feat = layer(enc, \"features\")", in: session)
        #expect(error(of: "encode(feat, zeros(3, 28, 28))", in: session)?.message.contains("expects shape [batch, 1, 28, 28]") == true)
        #expect(try run("encode(feat, zeros(1, 28, 28)).shape", in: session) == "[128]")
        #expect(try run("encode(feat, zeros(5, 1, 28, 28)).shape", in: session) == "[5, 128]")
        #expect(error(of: "ood_attack(feat, source=zeros(1, 28, 28), target=zeros(1, 28, 28), norm=\"L3\")", in: session)?.hint == "use \"L2\" or \"Linf\"")
        #expect(error(of: "ood_attack(feat, source=zeros(1, 28, 28), target=zeros(1, 28, 28), eps=-1)", in: session)?.kind == .valueError)
    }

    @Test func helpPagesDocumentation() throws {
        let host = RecordingHost()
        try run("help(print)", in: Session(), host: host)
        try run("help(\"noise\")", in: Session(), host: host)
        try run("help()", in: Session(), host: host)
        #expect(host.pages.count == 3)
        #expect(host.pages[0].plain.hasPrefix("print(*values, sep=\" \")\n\n"))
        #expect(host.pages[0].plain.contains("Example:"))
        #expect(host.pages[0].plain == Session.documentation().first { $0.name == "print" }?.doc)
        #expect(host.pages[1].plain.hasPrefix("noise(*shape, kind=\"uniform\", seed=none)"))
        #expect(host.pages[2].plain.contains("Pictures and files:"))
        #expect(host.pages[2].plain.contains("  load(path, mean=none, std=none)  "))
        #expect(!host.pages[2].plain.split(separator: "\n").contains { $0.count > 160 })
        #expect(error(of: "help(\"nosie\")")?.hint == "did you mean \"noise\"?")
    }

    @Test func clearAndInput() throws {
        let host = RecordingHost()
        host.inputs = ["ada"]
        let session = Session()
        try run("clear(wait=true)\nname = input(\"who? \")", in: session, host: host)
        #expect(host.clears == [true])
        #expect(host.prompts == ["who? "])
        #expect(try run("name", in: session) == "\"ada\"")
        #expect(error(of: "input()", host: RecordingHost())?.kind == .ioError)
    }

    @Test func saveAndReadPictures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mirage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = Session()
        try run("s = spiral(20, 24, channels=3, seed=9)\nsave(s, \"\(dir.path)/s.png\")\nsave(s, \"\(dir.path)/s.npy\")", in: session)
        #expect(try run("sum(image(\"\(dir.path)/s.npy\") == s) == s.size", in: session) == "true")
        #expect(try run("max(abs(image(\"\(dir.path)/s.png\") - s)) <= 0.5 / 255 + 1e-6", in: session) == "true")
        #expect(try run("image(\"\(dir.path)/s.png\", gray=true).shape", in: session) == "[1, 20, 24]")
        #expect(try run("image(\"\(dir.path)/s.png\", size=[10, 12]).shape", in: session) == "[3, 10, 12]")
        #expect(error(of: "save(zeros(2, 2), \"x.jpg\")")?.kind == .ioError)
        #expect(error(of: "image(\"\(dir.path)/missing.png\")")?.kind == .ioError)
    }

    @Test func evaluateExpression() throws {
        let session = Session()
        try run("x = 4", in: session)
        #expect(try session.evaluate(expression: "x * 2", host: RecordingHost()).plain == "8")
        #expect(try session.evaluate(expression: "none", host: RecordingHost()).plain == "none")
        #expect(throws: ScriptError.self) { try session.evaluate(expression: "x = 1", host: RecordingHost()) }
    }

    @Test func limitsGiveErrorsInsteadOfExhaustingMemory() throws {
        #expect(error(of: "zeros(1e6, 1e6)")?.kind == .memoryError)
        #expect(error(of: "[0] * 1e12")?.kind == .valueError)
        #expect(error(of: "list(range(1e12))")?.kind == .valueError)
        #expect(error(of: "1 / 0")?.kind == .zeroDivisionError)
        #expect(try run("len(range(1e12))", in: Session()) == "1000000000000")
    }

    @Test func versionAndBuiltinNames() throws {
        #expect(try run("version()", in: Session()) == "\"\(Session.languageVersion)\"")
        for name in ["print", "warn", "help", "clear", "input", "seed", "sleep", "zeros", "ones", "noise", "range", "len", "shape",
                     "sum", "mean", "min", "max", "abs", "sqrt", "exp", "log", "clip", "show", "save", "image", "spiral", "version",
                     "load", "layer", "ood_attack", "step", "plot", "scatter", "encode", "mape", "msp", "display"] {
            #expect(Session.builtinNames.contains(name), "missing \(name)")
        }
    }

    @Test func targetScriptRunsToTheEnd() throws {
        let script = FuzzTests.corpus[0]
        #expect(throws: Never.self) { _ = try Parser.parse(script) }
        let session = Session()
        let withoutModel = script.replacingOccurrences(of: "enc = load", with: "x_out = spiral(28, 28, channels=1, seed=1)\nenc = load")
        // The whole script runs: the model loads, the attack takes its 50 steps, the loss is plotted.
        let host = RecordingHost()
        let plot = try #require(try session.execute(withoutModel, host: host))
        #expect(plot.png != nil && plot.plain.hasPrefix("line plot"))
        #expect(host.displays.contains { $0.png != nil && $0.plain.hasPrefix("50 steps") }, "step ends with the loss curve")
        #expect(try run("x_out.shape", in: session) == "[1, 28, 28]")
        #expect(try run("atk.steps", in: session) == "50")
        #expect(try run("atk.loss[49] < atk.loss[0] / 2", in: session) == "true")
    }

    @Test func showFallsBackToTextForNonPictures() throws {
        let host = RecordingHost()
        try run("show(ones(3), [zeros(2, 2), ones(2, 2)], 5)", in: Session(), host: host)
        #expect(host.displays.map(\.plain) == ["Tensor(shape=[3], min=1, max=1, mean=1)", "2 pictures", "5"])
        #expect(host.displays[0].png == nil && host.displays[1].png != nil)
    }

    @Test func broadcastingResultsAreLimited() {
        #expect(error(of: "zeros(20000, 1) + zeros(1, 20000)")?.kind == .valueError)
    }
}
