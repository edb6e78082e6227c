/// The cells this kernel has run with store_history, for history_request (tail, range, search).
/// Kept in memory: history belongs to this kernel process, as the issue asks.
public struct History: Sendable {
    struct Entry: Sendable {
        var line: Int
        var input: String
        var output: String?
    }

    /// Our only session; clients receive it in tail replies and send it back in range requests.
    static let session = 1
    private(set) var entries: [Entry] = []

    /// An empty history.
    public init() {}

    /// Remembers a cell run with store_history.
    public mutating func record(line: Int, input: String, output: String?) {
        entries.append(Entry(line: line, input: input, output: output))
    }

    /// The content of a history_reply to `request` (tail, range or search, with or without outputs).
    public func reply(to request: JSON) -> JSON {
        let withOutput = request["output"]?.boolValue ?? false
        let entries: [Entry]
        switch request["hist_access_type"]?.stringValue ?? "tail" {
        case "range":
            entries = range(session: request["session"]?.intValue ?? 0, start: request["start"]?.intValue ?? 1,
                            stop: request["stop"]?.intValue)
        case "search":
            entries = search(pattern: request["pattern"]?.stringValue ?? "*", n: request["n"]?.intValue,
                             unique: request["unique"]?.boolValue ?? false)
        default:
            entries = tail(request["n"]?.intValue ?? 10)
        }
        return [
            "status": "ok",
            "history": .array(entries.map { entry in
                let input: JSON = .string(entry.input)
                let value: JSON = withOutput ? [input, entry.output.map { .string($0) } ?? .null] : input
                return [.int(Self.session), .int(entry.line), value]
            }),
        ]
    }

    func tail(_ n: Int) -> [Entry] { Array(entries.suffix(max(0, n))) }

    /// Lines in [start, stop); a stop of nil runs to the end. Session 0 or 1 mean this one
    /// (IPython treats 0 and negative numbers as relative to the current session).
    func range(session: Int, start: Int, stop: Int?) -> [Entry] {
        guard session == 0 || session == Self.session else { return [] }
        return entries.filter { $0.line >= start && (stop == nil || $0.line < stop!) }
    }

    /// Glob match (`*`, `?`, `[…]`) of the whole input, as IPython's SQLite GLOB; newest last.
    func search(pattern: String, n: Int?, unique: Bool) -> [Entry] {
        let glob = Glob(pattern)
        var matches = entries.filter { glob.matches($0.input) }
        if unique {
            var seen: Set<String> = []
            matches = matches.reversed().filter { seen.insert($0.input).inserted }.reversed()
        }
        if let n, n > 0 { matches = Array(matches.suffix(n)) }
        return matches
    }
}

/// Shell-style wildcard matching, compiled once into tokens (linear in the pattern's length,
/// however hostile) and matched with backtracking to the last `*` only.
struct Glob {
    private enum Token {
        case literal(Character)
        case any
        case star
        case set([ClosedRange<Character>], negated: Bool)
    }

    private let tokens: [Token]

    init(_ pattern: String) {
        let p = Array(pattern)
        // For each position, the index of the next "]" at or after it: no rescanning per "[".
        var nextClose = [Int](repeating: -1, count: p.count + 1)
        for i in stride(from: p.count - 1, through: 0, by: -1) { nextClose[i] = p[i] == "]" ? i : nextClose[i + 1] }
        var tokens: [Token] = []
        var i = 0
        while i < p.count {
            switch p[i] {
            case "*":
                if case .star? = tokens.last {} else { tokens.append(.star) }
                i += 1
            case "?":
                tokens.append(.any)
                i += 1
            case "[" where i + 2 < p.count && nextClose[i + 2] >= 0:
                let close = nextClose[i + 2]
                var body = Array(p[(i + 1)..<close])
                let negated = body.first == "^" || body.first == "!"
                if negated { body.removeFirst() }
                var ranges: [ClosedRange<Character>] = []
                var k = 0
                while k < body.count {
                    if k + 2 < body.count, body[k + 1] == "-", body[k] <= body[k + 2] {
                        ranges.append(body[k]...body[k + 2])
                        k += 3
                    } else {
                        ranges.append(body[k]...body[k])
                        k += 1
                    }
                }
                tokens.append(.set(ranges, negated: negated))
                i = close + 1
            default:
                tokens.append(.literal(p[i]))
                i += 1
            }
        }
        self.tokens = tokens
    }

    private func accepts(_ token: Token, _ c: Character) -> Bool {
        switch token {
        case .literal(let l): return l == c
        case .any: return true
        case .star: return false
        case .set(let ranges, let negated): return ranges.contains { $0.contains(c) } != negated
        }
    }

    func matches(_ text: String) -> Bool {
        let s = Array(text)
        var p = 0, t = 0, star = -1, resume = 0
        while t < s.count {
            if p < tokens.count, case .star = tokens[p] {
                star = p; resume = t; p += 1
            } else if p < tokens.count, accepts(tokens[p], s[t]) {
                p += 1; t += 1
            } else if star >= 0 {
                p = star + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < tokens.count, case .star = tokens[p] { p += 1 }
        return p == tokens.count
    }
}
