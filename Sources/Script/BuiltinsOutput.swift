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
        Builtin("display", .output, [.required("value"), .optional("id", .string("")), .optional("update", .bool(false))],
                description: "Shows one value in the cell's output, like a cell's last expression. With `id` the output gets a name, and a later `display(..., id=same, update=true)` replaces it in place instead of adding a new output: the way to show live progress from a loop. Front ends ignore an update whose id was never shown.",
                example: "display(\"starting\", id=\"status\")\nfor i in range(3):\n    sleep(0.1)\n    display(\"step \" + str(i), id=\"status\", update=true)") { args, interpreter in
            let id = try args.string("id")
            let update = try args.bool("update")
            interpreter.host.display(richOutput(for: args["value"]), displayID: id.isEmpty ? nil : id, update: update && !id.isEmpty)
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
}
