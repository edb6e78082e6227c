/// The shell channel's requests. Every request is wrapped in status busy … idle on iopub.
extension Kernel {
    func handleShell(_ message: Message) {
        log(.debug, "shell: \(message.type)")
        shellPublisher.status("busy", parent: message)
        defer { shellPublisher.status("idle", parent: message) }
        let content = message.content
        switch message.type {
        case "execute_request":
            execute(message)
        case "complete_request":
            let code = content["code"]?.stringValue ?? ""
            let cursor = content["cursor_pos"]?.intValue ?? code.unicodeScalars.count
            let completion = backend.complete(code, cursor: cursor)
            reply(to: message, [
                "status": "ok", "matches": .array(completion.matches.map { .string($0) }),
                "cursor_start": .int(completion.cursorStart), "cursor_end": .int(completion.cursorEnd), "metadata": [:],
            ])
        case "inspect_request":
            let code = content["code"]?.stringValue ?? ""
            let cursor = content["cursor_pos"]?.intValue ?? code.unicodeScalars.count
            let found = backend.inspect(code, cursor: cursor, detailLevel: content["detail_level"]?.intValue ?? 0)
            reply(to: message, [
                "status": "ok", "found": .bool(found != nil),
                "data": .object(found?.data ?? [:]), "metadata": .object(found?.metadata ?? [:]),
            ])
        case "is_complete_request":
            reply(to: message, completenessReply(backend.isComplete(content["code"]?.stringValue ?? "")))
        case "history_request":
            reply(to: message, historyReply(content))
        case "comm_info_request":
            reply(to: message, ["status": "ok", "comms": [:]])
        case "comm_open":
            // No comm targets yet: close it politely so the client does not wait on it.
            let id = content["comm_id"] ?? .string("")
            shellPublisher.publish("comm_close", ["comm_id": id, "data": [:]], parent: message)
        case "comm_msg", "comm_close":
            break
        case "connect_request":
            reply(to: message, ["status": "ok"])
        default:
            switch answerOnEitherChannel(message, on: nil) {
            case .ending(let how)?: requestEnding(how, waker: nil)
            case .answered?: break
            case nil: unknownRequest(message)
            }
        }
    }

    private func execute(_ message: Message) {
        guard let code = message.content["code"]?.stringValue else {
            reply(to: message, errorContent(name: "BadRequest", value: "execute_request has no code", traceback: []))
            return
        }
        let silent = message.content["silent"]?.boolValue ?? false
        let storeHistory = !silent && (message.content["store_history"]?.boolValue ?? true)
        let stopOnError = message.content["stop_on_error"]?.boolValue ?? true
        if storeHistory { executionCount += 1 }
        let count = executionCount
        if !silent {
            shellPublisher.publish("execute_input", ["code": .string(code), "execution_count": .int(count)], parent: message)
        }
        Interruption.clear()
        let context = ExecutionContext(
            executionCount: count, isSilent: silent, parent: message, publisher: shellPublisher,
            stdin: stdin, allowStdin: message.content["allow_stdin"]?.boolValue ?? true)

        switch backend.execute(code, context: context) {
        case .ok(let result):
            if let result, !silent {
                shellPublisher.publish("execute_result", [
                    "execution_count": .int(count), "data": .object(result.data), "metadata": .object(result.metadata),
                ], parent: message)
            }
            if storeHistory { history.record(line: count, input: code, output: result?.plainText) }
            reply(to: message, [
                "status": "ok", "execution_count": .int(count),
                "payload": .array(context.payloads),
                "user_expressions": userExpressions(message.content["user_expressions"], context: context),
            ])
        case .error(let name, let value, let traceback):
            if !silent {
                shellPublisher.publish("error", [
                    "ename": .string(name), "evalue": .string(value), "traceback": .array(traceback.map { .string($0) }),
                ], parent: message)
            }
            if storeHistory { history.record(line: count, input: code, output: nil) }
            var content = errorContent(name: name, value: value, traceback: traceback)
            if case .object(var fields) = content {
                fields["execution_count"] = .int(count)
                content = .object(fields)
            }
            let errorTime = HeaderFactory.now()
            reply(to: message, content)
            if stopOnError { abortExecutions(sentBefore: errorTime) }
        }
    }

    private func errorContent(name: String, value: String, traceback: [String]) -> JSON {
        ["status": "error", "ename": .string(name), "evalue": .string(value), "traceback": .array(traceback.map { .string($0) })]
    }

    private func userExpressions(_ requested: JSON?, context: ExecutionContext) -> JSON {
        guard let expressions = requested?.objectValue else { return [:] }
        var results: [String: JSON] = [:]
        for (name, expression) in expressions {
            guard let code = expression.stringValue else { continue }
            switch backend.evaluate(expression: code, context: context) {
            case .ok(let value):
                let bundle = value ?? .text("none")
                results[name] = ["status": "ok", "data": .object(bundle.data), "metadata": .object(bundle.metadata)]
            case .error(let ename, let evalue, let traceback):
                results[name] = errorContent(name: ename, value: evalue, traceback: traceback)
            }
        }
        return .object(results)
    }

    private func completenessReply(_ completeness: CodeCompleteness) -> JSON {
        switch completeness {
        case .complete: return ["status": "complete"]
        case .incomplete(let indent): return ["status": "incomplete", "indent": .string(indent)]
        case .invalid: return ["status": "invalid"]
        case .unknown: return ["status": "unknown"]
        }
    }

    private func historyReply(_ request: JSON) -> JSON {
        let withOutput = request["output"]?.boolValue ?? false
        let entries: [History.Entry]
        switch request["hist_access_type"]?.stringValue ?? "tail" {
        case "range":
            entries = history.range(
                session: request["session"]?.intValue ?? 0, start: request["start"]?.intValue ?? 1,
                stop: request["stop"]?.intValue)
        case "search":
            entries = history.search(
                pattern: request["pattern"]?.stringValue ?? "*", n: request["n"]?.intValue,
                unique: request["unique"]?.boolValue ?? false)
        default:
            entries = history.tail(request["n"]?.intValue ?? 10)
        }
        return [
            "status": "ok",
            "history": .array(entries.map { entry in
                let input: JSON = .string(entry.input)
                let value: JSON = withOutput ? [input, entry.output.map { .string($0) } ?? .null] : input
                return [.int(History.session), .int(entry.line), value]
            }),
        ]
    }
}
