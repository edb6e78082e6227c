import Foundation

extension Builtins {
    static let output: [Builtin] = [
        Builtin("print", .output, [.variadic("values"), .optional("sep", .string(" "))],
                description: "Writes the values to standard output, separated by `sep` and followed by a newline. Strings appear without quotes; tensors appear as a one-line summary (use `show` to see them as pictures).",
                example: "print(\"hello,\", \"world\")\nprint(1, 2, 3, sep=\", \")") { args, interpreter in
            let sep = try args.string("sep")
            interpreter.host.write(args.rest.map(str).joined(separator: sep) + "\n", to: .stdout)
            return .none
        },
        Builtin("warn", .output, [.variadic("values")],
                description: "Writes the values to standard error, separated by spaces and followed by a newline. Notebooks show it highlighted; use it for warnings that should stand out from ordinary output.",
                example: "warn(\"loss is not decreasing\")") { args, interpreter in
            interpreter.host.write(args.rest.map(str).joined(separator: " ") + "\n", to: .stderr)
            return .none
        },
        Builtin("help", .output, [.optional("topic", .none)],
                description: "Shows documentation in the notebook's pager. Without an argument it lists every built-in by group; with a built-in (or its name as a string) it shows that built-in's signature, description and example; with any other value it describes the value.",
                example: "help()\nhelp(noise)\nhelp(\"for\")") { args, interpreter in
            interpreter.host.page(RichOutput(plain: try helpText(for: args["topic"], interpreter: interpreter)))
            return .none
        },
        Builtin("clear", .output, [.optional("wait", .bool(false))],
                description: "Clears the output of the current cell. With `wait=true` the old output stays until new output arrives, which avoids flicker when redrawing in a loop.",
                example: "for i in range(3):\n    clear(wait=true)\n    print(\"step\", i)") { args, interpreter in
            interpreter.host.clearOutput(wait: try args.bool("wait"))
            return .none
        },
        Builtin("input", .output, [.optional("prompt", .string("")), .optional("password", .bool(false))],
                description: "Asks the user for a line of text and returns it as a string. With `password=true` the typed text is hidden. Fails when the notebook front end does not allow input.",
                example: "name = input(\"your name: \")") { args, interpreter in
            .string(try interpreter.host.readInput(prompt: try args.string("prompt"), password: try args.bool("password")))
        },
        Builtin("sleep", .output, [.required("seconds")],
                description: "Pauses for the given number of seconds. It stops early, with a KeyboardInterrupt, when the kernel is interrupted.",
                example: "sleep(0.5)") { args, interpreter in
            let seconds = try args.number("seconds")
            guard seconds >= 0, seconds.isFinite else { throw ScriptError.value("sleep() needs a non-negative number of seconds, got \(formatNumber(seconds))") }
            let end = Date(timeIntervalSinceNow: seconds)
            // Short slices so an interrupt is noticed within about 10 ms.
            while true {
                try interpreter.checkInterrupt()
                let remaining = end.timeIntervalSinceNow
                if remaining <= 0 { break }
                Thread.sleep(forTimeInterval: min(0.01, remaining))
            }
            return .none
        },
        Builtin("version", .output, [],
                description: "Returns the version of the Mirage language as a string.",
                example: "version()") { _, _ in
            .string(Session.languageVersion)
        },
    ]

    static let values: [Builtin] = [
        Builtin("range", .values, [.required("start_or_stop"), .optional("stop", .none), .optional("step", .number(1))],
                description: "Returns the whole numbers from `start` up to, but not including, `stop`. `range(n)` counts 0, 1, …, n-1, `range(a, b)` counts a, …, b-1, and `range(a, b, step)` counts in steps of `step`. Ranges are lazy, so even `range(1e9)` costs nothing until a loop walks through it.",
                example: "for i in range(3):\n    print(i)\nrange(2, 10, 2)") { args, _ in
            let bound = Int(Int64.max / 4)
            var start = try args.integer("start_or_stop", range: -bound...bound)
            var stop = 0
            if args.isNone("stop") { (start, stop) = (0, start) } else { stop = try args.integer("stop", range: -bound...bound) }
            let step = try args.integer("step", range: -bound...bound)
            guard step != 0 else { throw ScriptError.value("range() step must not be zero") }
            return .range(RangeValue(start: start, stop: stop, step: step))
        },
        Builtin("len", .values, [.required("x")],
                description: "Returns the number of items in a list, characters in a string, numbers in a range, or the size of a tensor's first axis.",
                example: "len([1, 2, 3])") { args, _ in
            switch args["x"] {
            case .list(let items): return .number(Double(items.count))
            case .string(let s): return .number(Double(s.count))
            case .range(let r): return .number(Double(r.count))
            case .tensor(let t) where t.rank >= 1: return .number(Double(t.shape[0]))
            case let other: throw args.error("expects a list, string, range or tensor (rank ≥ 1), got \(other.typeName)")
            }
        },
        Builtin("str", .values, [.required("x")],
                description: "Returns the text form of a value, as `print` would show it. Use it to join numbers into strings.",
                example: "\"step \" + str(3)") { args, _ in
            .string(str(args["x"]))
        },
        Builtin("list", .values, [.required("x")],
                description: "Returns the items of a range, string or tensor (along its first axis) as a list.",
                example: "list(range(4))") { args, _ in
            switch args["x"] {
            case .list(let items): return .list(items)
            case .string(let s): return .list(s.map { .string(String($0)) })
            case .range(let r):
                guard r.count <= Interpreter.maximumListLength else {
                    throw ScriptError.value("list(): the range has \(r.count) numbers (the limit is \(Interpreter.maximumListLength))")
                }
                return .list((0..<r.count).map { .number(Double(r.element($0))) })
            case .tensor(let t) where t.rank >= 1:
                return .list((0..<t.shape[0]).map { t.rank == 1 ? .number(widen(t.data[$0])) : .tensor(t.slice($0)) })
            case let other: throw args.error("expects a list, string, range or tensor, got \(other.typeName)")
            }
        },
    ]

    static let later: [Builtin] = [
        laterBuiltin("load", "path", "Loads an ONNX model (an encoder) from a file.", "enc = load(\"Examples/models/mnist_cnn.onnx\")", until: "the ONNX engine"),
        laterBuiltin("layer", "model, name", "Selects a named layer of a loaded model, whose output becomes the features an attack works on.", "feat = layer(enc, \"features\")", until: "the ONNX engine"),
        laterBuiltin("encode", "model, x", "Runs a model on an input tensor and returns its output features.", "z = encode(feat, x_in)", until: "the ONNX engine"),
        laterBuiltin("ood_attack", "model, source, target, norm=\"L2\", eps, lr, seed=none", "Sets up an out-of-distribution attack that perturbs `source` so that the model's features match those of `target`.", "atk = ood_attack(feat, source=x_out, target=x_in, norm=\"L2\", eps=10, lr=0.1, seed=0)", until: "the attack engine"),
        laterBuiltin("step", "attack, n", "Runs `n` optimisation steps of an attack.", "step(atk, 50)", until: "the attack engine"),
        laterBuiltin("plot", "values, title=\"\", log=false", "Draws a line plot, for example of an attack's loss history.", "plot(atk.loss, title=\"feature distance\", log=true)", until: "plotting"),
        laterBuiltin("scatter", "x, y, title=\"\"", "Draws a scatter plot of two lists or tensors.", "scatter(xs, ys)", until: "plotting"),
        laterBuiltin("mape", "model, x", "Computes the MAPE out-of-distribution score of inputs.", "mape(feat, x_out)", until: "the OOD detectors"),
        laterBuiltin("msp", "model, x", "Computes the maximum-softmax-probability out-of-distribution score of inputs.", "msp(enc, x_out)", until: "the OOD detectors"),
    ]

    private static func laterBuiltin(_ name: String, _ parameters: String, _ description: String, _ example: String, until: String) -> Builtin {
        var builtin = Builtin(name, .later, [.variadic("arguments")],
                              description: "\(description) Not available yet: it arrives with \(until).",
                              example: example, unavailableUntil: until) { _, _ in .none }
        builtin.plannedSignature = "\(name)(\(parameters))"
        return builtin
    }
}
