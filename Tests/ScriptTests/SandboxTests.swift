// The sandbox host: file access refused with a clear error, a step budget that stops endless loops.
import Script
import Testing

@Suite struct SandboxTests {
    @Test func refusesBuiltinsThatTouchFiles() {
        for cell in ["npy(\"/etc/passwd\")", "image(\"a.png\")", "images(\"/\")", "load(\"m.onnx\")",
                     "save(zeros(2, 2), \"/tmp/x.npy\")", "load_attack(\"a.attack\")"] {
            do {
                _ = try Session().execute(cell, host: SandboxHost())
                Issue.record("\(cell) ran in the sandbox")
            } catch let error as ScriptError {
                #expect(error.kind == .permissionError, "\(cell): \(error.kind) \(error.message)")
                #expect(error.message.contains("file access is off"))
            } catch {
                Issue.record("\(cell): \(error)")
            }
        }
    }

    @Test func stopsAnEndlessLoopAtTheStepBudget() throws {
        let host = SandboxHost(stepBudget: 500)
        #expect(throws: ScriptError.self) { try Session().execute("while true:\n    x = 1\n", host: host) }
        #expect(host.steps == 501)
    }

    @Test func runsOrdinaryCode() throws {
        let host = SandboxHost()
        let value = try Session().execute("s = 0\nfor i in range(10):\n    s = s + i\nprint(s)\ns", host: host)
        #expect(value?.plain == "45")
        #expect(host.output.contains("45"))
    }
}
