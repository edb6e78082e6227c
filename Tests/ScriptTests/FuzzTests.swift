import Foundation
import Testing
@testable import Script

/// Seeded mutation fuzzing: every mutated script must either run or throw a ScriptError — never crash or hang.
@Suite struct FuzzTests {
    static let corpus = [
        """
        # fool an MNIST encoder with a spiral
        enc = load("Examples/models/mnist_cnn.onnx")
        feat = layer(enc, "features")
        x_in = image("Examples/data/mnist/7.png", gray=true, size=[28, 28])
        x_out = spiral(28, 28, channels=1, seed=1)
        show(x_in, x_out)
        atk = ood_attack(feat, source=x_out, target=x_in, norm="L2", eps=10, lr=0.1, seed=0)
        step(atk, 50)
        plot(atk.loss, title="feature distance", log=true)
        """,
        """
        def fib(n, memo=[]):
            if n < 2:
                return n
            return fib(n - 1) + fib(n - 2)
        xs = []
        for i in range(12):
            xs = xs + [fib(i)]
        print(xs, len(xs), sep=" / ")
        """,
        """
        t = noise(2, 3, 4, kind="normal", seed=3)
        u = clip(t * 0.5 + 0.5, 0, 1)
        u[0] = ones(3, 4)
        u[-1][1] = 0.25
        show(u, u[0], zeros(8, 8) + 1)
        m = mean(u) + sum(u > 0.5) / u.size - min(u) ** 2
        print(m, u.shape, u.rank, shape(u), max(u, 0.3).shape)
        m
        """,
        """
        n = 0
        while n < 100:
            n += 3
            if n % 2 == 0 and not n > 50:
                continue
            elif n in [9, 15, 21]:
                warn("odd", n)
            else:
                pass
        s = "a" + 'b' * 3 + \"\"\"c
        d\"\"\"
        print(s[0], str(n), list("xyz"), [1, [2, [3]]][1][1][0])
        help(print)
        """,
        """
        seed(5)
        a = noise(4)
        seed(5)
        b = noise(4)
        sum(a == b) == 4 and 0 <= a[0] < 1
        x = [1, 2, 3]
        x[1] = none
        y = -x[0] // 2 + 7 % -3
        abs(y) + sqrt(4) + exp(0) + log(1)
        """,
        """
        scores = {"msp": 0.91, "energy": 0.88, "maha": 0.5}
        names = sorted(scores, key=lambda k: scores[k], reverse=True)
        best = [f"{n}: {scores[n]:.2f}" for n in names if scores[n] > 0.6]
        pairs = {k: v * 100 for k, v in scores.items()}
        for i, (name, v) in enumerate(zip(names, [1, 2, 3])):
            label = "high" if v > 1 else "low"
            print(i, name.upper(), label, "{:>6.1%}".format(scores[name]))
        a, b = 1, 2
        a, b = b, a
        xs = []
        xs.append(a)
        xs.extend([b, 3])
        assert len(xs) == 3, "three"
        try:
            missing = scores["knn"]
        except KeyError as e:
            print("no", e, e.kind)
        finally:
            pass
        t = (1, "two", None, True)
        t is not None and 2 not in xs or any(x > 2 for x in xs)
        """,
        """
        def stats(values):
            lo, hi = min(values), max(values)
            return lo, hi, round(sum(values) / len(values), 2)
        lo, hi, avg = stats([3, 1, 4, 1, 5])
        words = " Mirage speaks  Python ".strip().lower().split()
        joined = "-".join(w.replace("a", "4") for w in words if not w.startswith("x"))
        d = dict(eps=5, norm="L2")
        d.update({"lr": 0.1})
        grid = [[i * j for j in range(3)] for i in range(3) if i != 1]
        f"{joined!r} {d['eps']:03d} {avg:e} {int('7') + float('0.5')} {bool([])}"
        """,
    ]

    static let fragments = ["(", ")", "[", "]", ":", "\n", "\n    ", "    ", "=", "==", "**", "-", "+", "*", "/", "//", "%", ",", ".",
                            "\"", "'", "\"\"\"", "#", "for i in ", " in ", "if ", "else:", "elif ", "def g(", "return ", "while ", "not ",
                            " and ", " or ", "none", "true", "1e9", "0", "-1", "range(1e9)", "zeros(", "noise(", "t", "x", "f(", ".shape",
                            "\\", "é", "\t", "break", "continue", "[0] * 3", "x[", "]=", "+=", "1.5", "1e400", "-0", "show(", "min(", "len(",
                            "{", "}", "f\"{", "lambda x: ", " if ", " else ", " is ", " is not ", " not in ", "try:", "except ",
                            "finally:", " as e", "assert ", "(1, 2)", "a, b = ", "{\"k\": 1}", " for x in xs", ".upper()", ".split(",
                            ".append(", ".items()", "enumerate(", "zip(", "sorted(", ":.3f}", "!r}", "None", "True", "import os", "class C:"]

    /// A small deterministic generator (SplitMix64) so the corpus of cases is the same on every run.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    }

    static func mutate(_ source: String, _ g: inout Generator) -> String {
        var s = Array(source.unicodeScalars)
        for _ in 0..<(1 + g.below(4)) {
            let at = g.below(s.count + 1)
            switch g.below(5) {
            case 0 where !s.isEmpty:  // delete a span
                let length = min(1 + g.below(6), s.count - min(at, s.count - 1))
                s.removeSubrange(min(at, s.count - 1)..<(min(at, s.count - 1) + length))
            case 1:  // insert a fragment
                s.insert(contentsOf: fragments[g.below(fragments.count)].unicodeScalars, at: at)
            case 2 where s.count > 2:  // swap two scalars
                let other = g.below(s.count)
                s.swapAt(min(at, s.count - 1), other)
            case 3:  // duplicate a line
                let lines = String(String.UnicodeScalarView(s)).split(separator: "\n", omittingEmptySubsequences: false)
                var copy = lines
                copy.insert(lines[g.below(lines.count)], at: g.below(lines.count + 1))
                s = Array(copy.joined(separator: "\n").unicodeScalars)
            default:  // replace a scalar by a random printable one
                if !s.isEmpty { s[min(at, s.count - 1)] = Unicode.Scalar(UInt8(32 + g.below(95))) }
            }
        }
        return String(String.UnicodeScalarView(s))
    }

    @Test func mutatedScriptsReturnOrThrowScriptError() {
        var g = Generator(state: 20_251_125)
        var session = Session()
        var outcomes = (ran: 0, failed: 0)
        let started = Date()
        for index in 0..<3_000 {
            if index % 100 == 0 { session = Session() }
            let source = FuzzTests.mutate(FuzzTests.corpus[g.below(FuzzTests.corpus.count)], &g)
            // Long loops are cut short by an interrupt, as a user would.
            let host = RecordingHost(interruptAfter: 0.02)
            do {
                _ = try session.execute(source, host: host)
                outcomes.ran += 1
            } catch let error as ScriptError {
                outcomes.failed += 1
                #expect(!error.rendered.isEmpty)
                #expect(error.kind != .internalError, "internal error for:\n\(source)\n\(error.rendered)")
            } catch {
                Issue.record("non-ScriptError \(error) for:\n\(source)")
            }
            let cursor = g.below(source.unicodeScalars.count + 1)
            let completion = session.complete(source, cursor: cursor)
            #expect(completion.start <= completion.end && completion.end == cursor)
            _ = session.inspect(source, cursor: cursor, detailLevel: 0)
            _ = session.completeness(source)
        }
        // The corpus mutates into both working and failing scripts; a fuzzer that only ever fails tests nothing.
        #expect(outcomes.ran > 100)
        #expect(outcomes.failed > 100)
        #expect(Date().timeIntervalSince(started) < 120)
    }
}
