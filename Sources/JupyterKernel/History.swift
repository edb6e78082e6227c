/// The cells this kernel has run with store_history, for history_request (tail, range, search).
/// Kept in memory: history belongs to this kernel process, as the issue asks.
struct History {
    struct Entry {
        var line: Int
        var input: String
        var output: String?
    }

    /// Our only session; clients receive it in tail replies and send it back in range requests.
    static let session = 1
    private(set) var entries: [Entry] = []

    mutating func record(line: Int, input: String, output: String?) {
        entries.append(Entry(line: line, input: input, output: output))
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
        var matches = entries.filter { Glob(pattern).matches($0.input) }
        if unique {
            var seen: Set<String> = []
            matches = matches.reversed().filter { seen.insert($0.input).inserted }.reversed()
        }
        if let n, n > 0 { matches = Array(matches.suffix(n)) }
        return matches
    }
}

/// Shell-style wildcard matching.
struct Glob {
    let pattern: [Character]
    init(_ pattern: String) { self.pattern = Array(pattern) }

    func matches(_ text: String) -> Bool {
        let s = Array(text)
        // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
        var p = 0, t = 0, star = -1, resume = 0
        while t < s.count {
            if p < pattern.count, pattern[p] == "*" {
                star = p; resume = t; p += 1
            } else if p < pattern.count, let width = matchOne(at: p, s[t]) {
                p += width; t += 1
            } else if star >= 0 {
                p = star + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }

    /// If the pattern element at `p` matches `c`, how many pattern characters it spans.
    private func matchOne(at p: Int, _ c: Character) -> Int? {
        switch pattern[p] {
        case "?": return 1
        case "[":
            guard let close = pattern[(p + 1)...].firstIndex(of: "]"), close > p + 1 else {
                return c == "[" ? 1 : nil
            }
            var set = Array(pattern[(p + 1)..<close])
            let negate = set.first == "^" || set.first == "!"
            if negate { set.removeFirst() }
            var found = false
            var i = 0
            while i < set.count {
                if i + 2 < set.count, set[i + 1] == "-" {
                    if set[i] <= c && c <= set[i + 2] { found = true }
                    i += 3
                } else {
                    if set[i] == c { found = true }
                    i += 1
                }
            }
            return found != negate ? close - p + 1 : nil
        default:
            return pattern[p] == c ? 1 : nil
        }
    }
}
