import Testing
@testable import Script

@Suite struct LexerTests {
    private func kinds(_ source: String) throws -> [TokenKind] {
        try Lexer.tokenize(source).map(\.kind)
    }

    @Test func indentationBecomesIndentAndDedentTokens() throws {
        let k = try kinds("if x:\n    y = 1\n\n    # comment\n    z = 2\nw = 3\n")
        #expect(k == [.keyword(.if), .identifier("x"), .symbol(":"), .newline,
                      .indent, .identifier("y"), .symbol("="), .number(1), .newline,
                      .identifier("z"), .symbol("="), .number(2), .newline,
                      .dedent, .identifier("w"), .symbol("="), .number(3), .newline, .end])
    }

    @Test func nestedBlocksCloseTogether() throws {
        let k = try kinds("for i in xs:\n  if i:\n    pass\nprint(i)")
        let dedents = k.filter { $0 == .dedent }.count
        #expect(dedents == 2)
        #expect(k.firstIndex(of: .dedent)! < k.firstIndex(of: .identifier("print"))!)
    }

    @Test func newlinesInsideBracketsAreIgnored() throws {
        let k = try kinds("f(1,\n      2)\n")
        #expect(!k.contains(.indent))
        #expect(k.filter { $0 == .newline }.count == 1)
    }

    @Test func numbersAndStrings() throws {
        #expect(try kinds("1_000 2.5 .5 1e-3 3E2 3.") == [.number(1000), .number(2.5), .number(0.5), .number(0.001), .number(300), .number(3), .newline, .end])
        #expect(try kinds("t.shape") == [.identifier("t"), .symbol("."), .identifier("shape"), .newline, .end])
        #expect(try kinds(#""a\tb\n" 'it\'s' "\u00e9""#) == [.string("a\tb\n"), .string("it's"), .string("é"), .newline, .end])
        #expect(try kinds("\"\"\"two\nlines\"\"\"") == [.string("two\nlines"), .newline, .end])
    }

    @Test func positionsAreOneBasedInUnicodeScalars() throws {
        let tokens = try Lexer.tokenize("é = 1\n  \nxy")
        #expect(tokens[0].position == SourcePosition(line: 1, column: 1))
        #expect(tokens[1].position == SourcePosition(line: 1, column: 3))
        #expect(tokens.first { $0.kind == .identifier("xy") }?.position == SourcePosition(line: 3, column: 1))
    }

    @Test func lexicalErrors() {
        #expect(throws: ScriptError.self) { try Lexer.tokenize("x = \"open") }
        #expect(throws: ScriptError.self) { try Lexer.tokenize("x = 1 $ 2") }
        #expect(throws: ScriptError.self) { try Lexer.tokenize("f(1]") }
        #expect(throws: ScriptError.self) { try Lexer.tokenize("if x:\n    a\n  b") }
        #expect(throws: IncompleteInput.self) { try Lexer.tokenize("f(1,") }
        #expect(throws: IncompleteInput.self) { try Lexer.tokenize("s = '''abc") }
    }
}

@Suite struct ParserTests {
    @Test func keywordArguments() throws {
        let statements = try Parser.parse("f(1, b=2, c=\"x\")")
        guard case .expression(.call(.name(let f, _), let args, _)) = statements.first, f.name == "f" else {
            Issue.record("not a call: \(statements)")
            return
        }
        #expect(args.map(\.label) == [nil, "b", "c"])
    }

    @Test func precedenceShapesTheTree() throws {
        let expr = try Parser.parseExpression("1 + 2 * 3")
        guard case .binary(.add, .number(1, _), .binary(.multiply, _, _, _), _) = expr else {
            Issue.record("wrong tree: \(expr)")
            return
        }
        let power = try Parser.parseExpression("-2 ** 2")
        guard case .unary(.negate, .binary(.power, _, _, _), _) = power else {
            Issue.record("wrong tree: \(power)")
            return
        }
        let logic = try Parser.parseExpression("not a == b or c")
        guard case .logical(isAnd: false, .unary(.not, .compare, _), .name(let c, _), _) = logic, c.name == "c" else {
            Issue.record("wrong tree: \(logic)")
            return
        }
    }

    @Test func blocksAndStatements() throws {
        let statements = try Parser.parse("""
        def f(a, b=1):
            if a:
                return b
            elif b: pass
            else:
                return none
        for i in range(3):
            x[i] += f(i)
        """)
        #expect(statements.count == 2)
        guard case .def(let declaration) = statements[0] else { Issue.record("no def"); return }
        #expect(declaration.parameters.map(\.name) == ["a", "b"])
        guard case .if(let branches, let elseBody) = declaration.body[0] else { Issue.record("no if"); return }
        #expect(branches.count == 2)
        #expect(elseBody?.count == 1)
        guard case .for(.name(let i, _), _, let body, _) = statements[1], i.name == "i",
              case .augmentedAssign(.index, .add, _, _) = body[0] else {
            Issue.record("wrong for: \(statements[1])")
            return
        }
    }

    private func syntaxError(_ source: String) -> ScriptError? {
        do {
            _ = try Parser.parse(source)
            return nil
        } catch let e as ScriptError {
            return e
        } catch let e as IncompleteInput {
            return e.error
        } catch {
            return nil
        }
    }

    @Test func errorsCarryLineAndColumn() throws {
        let missingColon = try #require(syntaxError("x = 1\nif x\n    y = 2"))
        #expect(missingColon.kind == .syntaxError)
        #expect(missingColon.line == 2 && missingColon.column == 5)
        #expect(missingColon.message == "expected `:` after `if` condition, found the end of the line")

        let dangling = try #require(syntaxError("y = 1 +\n"))
        #expect(dangling.line == 1 && dangling.column == 8)

        let indent = try #require(syntaxError("x = 1\n    y = 2"))
        #expect(indent.message == "unexpected indent")
        #expect(indent.line == 2)

        let noBlock = try #require(syntaxError("for i in xs:\nprint(i)"))
        #expect(noBlock.message == "expected an indented block after the `for` header")

        #expect(syntaxError("f(a=1, 2)")?.message == "positional argument follows keyword argument")
        #expect(syntaxError("return 1")?.message == "`return` outside a function")
        #expect(syntaxError("break")?.message == "`break` outside a loop")
        #expect(syntaxError("f(x) = 1")?.message == "cannot assign to a function call")
        #expect(syntaxError("t.shape = 1")?.message == "cannot assign to attribute `shape`")
        #expect(syntaxError("def f(a=1, b): pass")?.kind == .syntaxError)
        #expect(syntaxError("x = {1, 2}")?.message == "sets are not part of Mirage")
        // An error before an unclosed bracket is reported where it is.
        let early = try #require(syntaxError("def f(:\n    pass"))
        #expect(early.message == "expected a parameter name, found `:`")
        #expect(early.line == 1 && early.column == 7)
        #expect(syntaxError("x = 1 if y")?.message == "expected `else` in the conditional expression `a if condition else b`, found the end of the line")
    }

    @Test func deepNestingIsASyntaxErrorNotACrash() throws {
        let deep = String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000)
        let e = try #require(syntaxError(deep))
        #expect(e.message.hasPrefix("too deeply nested"))
        let unclosed = try #require(syntaxError(String(repeating: "(", count: 10_000)))
        #expect(unclosed.kind == .syntaxError)
        let lists = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        #expect(syntaxError(lists)?.message.hasPrefix("too deeply nested") == true)
        let minus = String(repeating: "-", count: 10_000) + "1"
        #expect(syntaxError(minus)?.message.hasPrefix("too deeply nested") == true)
        // Through a session, on its own thread, too.
        #expect(error(of: deep)?.kind == .syntaxError)
        // Moderate nesting is fine.
        #expect(try run(String(repeating: "(", count: 150) + "1" + String(repeating: ")", count: 150), in: Session()) == "1")
    }
}
