import Tensor

// Attributes and methods, indexing, slicing and element assignment.
extension Interpreter {

    static func attributeNames(of value: Value) -> [String] {
        switch value {
        case .tensor: return ["shape", "rank", "size"]
        case .range: return ["start", "stop", "step"]
        case .string, .list, .dict: return Methods.names(of: value)
        case .object(let o): return o.attributeNames
        default: return []
        }
    }

    func attribute(_ base: Value, _ name: String) throws -> Value {
        switch (base, name) {
        case (.tensor(let t), "shape"): return .list(t.shape.map { .number(Double($0)) })
        case (.tensor(let t), "rank"): return .number(Double(t.rank))
        case (.tensor(let t), "size"): return .number(Double(t.count))
        case (.range(let r), "start"): return .number(Double(r.start))
        case (.range(let r), "stop"): return .number(Double(r.stop))
        case (.range(let r), "step"): return .number(Double(r.step))
        case (.object(let o), _) where o.attributeNames.contains(name): return try o.attribute(name)
        case (.string, _), (.list, _), (.dict, _):
            if let method = Methods.bound(name, to: base) { return .builtin(method) }
            fallthrough
        default:
            let names = Interpreter.attributeNames(of: base)
            var hint: String?
            if let close = closestName(to: name, among: names) {
                hint = "did you mean `\(close)`?"
            } else if !names.isEmpty {
                hint = "a \(base.typeName) has " + names.map { "`\($0)`" }.joined(separator: ", ")
            }
            if case .tensor = base, ["sum", "mean", "min", "max"].contains(name) { hint = "call it as a function: `\(name)(t)`" }
            throw ScriptError(kind: .attributeError, message: "a \(base.typeName) has no attribute `\(name)`", hint: hint)
        }
    }

    func normalizedIndex(_ index: Value, count: Int, of what: String) throws -> Int {
        guard case .number(let x) = index else {
            throw ScriptError.type("\(what) indices must be numbers, got \(index.typeName)")
        }
        guard x == x.rounded(), abs(x) < 1e15 else {
            throw ScriptError.type("\(what) indices must be whole numbers, got \(formatNumber(x))")
        }
        let i = Int(x) < 0 ? Int(x) + count : Int(x)
        guard i >= 0 && i < count else {
            throw ScriptError.index("index \(formatNumber(x)) is out of range for a \(what) of length \(count)")
        }
        return i
    }

    /// The indices `[start:stop:step]` picks, as Python does: negative bounds count from the end, bounds
    /// clip to the sequence, a negative step walks backwards, an empty result is fine.
    func sliceIndices(_ start: Value?, _ stop: Value?, _ step: Value?, count: Int, of what: String) throws -> [Int] {
        func whole(_ value: Value?, _ part: String) throws -> Int? {
            guard let value else { return nil }
            if case .none = value { return nil }
            guard case .number(let x) = value, x == x.rounded(), abs(x) < 1e15 else {
                throw ScriptError.type("\(what) slice \(part) must be a whole number, got \(repr(value))")
            }
            return Int(x)
        }
        let stride = try whole(step, "step") ?? 1
        guard stride != 0 else { throw ScriptError.value("\(what) slice step cannot be zero") }
        func clip(_ i: Int?, _ missing: Int, _ low: Int, _ high: Int) -> Int {
            guard let i else { return missing }
            return min(max(i < 0 ? i + count : i, low), high)
        }
        if stride > 0 {
            let lower = clip(try whole(start, "start"), 0, 0, count), upper = clip(try whole(stop, "stop"), count, 0, count)
            return Array(Swift.stride(from: lower, to: max(lower, upper), by: stride))
        }
        let upper = clip(try whole(start, "start"), count - 1, -1, count - 1), lower = clip(try whole(stop, "stop"), -1, -1, count - 1)
        return Array(Swift.stride(from: upper, to: min(upper, lower), by: stride))
    }

    func slice(of base: Value, from start: Value?, to stop: Value?, by step: Value?) throws -> Value {
        switch base {
        case .list(let items):
            return .list(try sliceIndices(start, stop, step, count: items.count, of: "list").map { items[$0] })
        case .tuple(let items):
            return .tuple(try sliceIndices(start, stop, step, count: items.count, of: "tuple").map { items[$0] })
        case .string(let s):
            let characters = Array(s)
            return .string(String(try sliceIndices(start, stop, step, count: characters.count, of: "string").map { characters[$0] }))
        case .range(let r):
            return .list(try sliceIndices(start, stop, step, count: r.count, of: "range").map { .number(Double(r.element($0))) })
        case .tensor(let t):
            guard t.rank >= 1 else { throw ScriptError.type("cannot slice a rank-0 tensor") }
            return .tensor(t.rows(try sliceIndices(start, stop, step, count: t.shape[0], of: "tensor (first axis)")))
        default:
            throw ScriptError.type("a \(base.typeName) cannot be sliced")
        }
    }

    func element(of base: Value, at index: Value) throws -> Value {
        switch base {
        case .list(let items):
            return items[try normalizedIndex(index, count: items.count, of: "list")]
        case .tuple(let items):
            return items[try normalizedIndex(index, count: items.count, of: "tuple")]
        case .dict(let d):
            guard let value = try d.value(for: index) else {
                let close = closestName(to: str(index), among: d.keys.compactMap { if case .string(let k) = $0 { return k } else { return nil } })
                throw ScriptError.key("\(repr(index)) is not a key of this dict",
                                      hint: close.map { "did you mean \(quote($0))? " + "use `d.get(key, default)` for a default" } ?? "use `key in d` to check, or `d.get(key, default)` for a default")
            }
            return value
        case .string(let s):
            let characters = Array(s)
            return .string(String(characters[try normalizedIndex(index, count: characters.count, of: "string")]))
        case .range(let r):
            return .number(Double(r.element(try normalizedIndex(index, count: r.count, of: "range"))))
        case .tensor(let t):
            guard t.rank >= 1 else { throw ScriptError.type("cannot index a rank-0 tensor") }
            let i = try normalizedIndex(index, count: t.shape[0], of: "tensor (first axis)")
            return t.rank == 1 ? .number(widen(t.data[i])) : .tensor(t.slice(i))
        default:
            throw ScriptError.type("a \(base.typeName) cannot be indexed")
        }
    }

    func setElement(_ container: inout Value, _ index: Value, _ value: Value) throws {
        switch container {
        case .list(var items):
            let i = try normalizedIndex(index, count: items.count, of: "list")
            container = .none
            items[i] = value
            container = .list(items)
        case .dict(var d):
            _ = try DictKey(index)  // a bad key fails before the dict is taken apart
            container = .none
            try d.set(value, for: index)
            container = .dict(d)
        case .tensor(var t):
            guard t.rank >= 1 else { throw ScriptError.type("cannot index a rank-0 tensor") }
            let i = try normalizedIndex(index, count: t.shape[0], of: "tensor (first axis)")
            let sliceShape = Array(t.shape.dropFirst())
            let slice: Tensor
            switch value {
            case .number(let x): slice = Tensor.filled(sliceShape, with: Float(x))
            case .bool(let b): slice = Tensor.filled(sliceShape, with: b ? 1 : 0)
            case .tensor(let v):
                guard let s = try? Tensor.zeros(sliceShape).applying(.add, v), s.shape == sliceShape else {
                    throw ScriptError.shape("cannot assign a tensor of shape \(v.shape) to an element of shape \(sliceShape)")
                }
                slice = s
            default:
                throw ScriptError.type("tensor elements must be numbers or tensors, got \(value.typeName)")
            }
            container = .none
            t.setSlice(i, to: slice)
            container = .tensor(t)
        default:
            throw ScriptError.type("a \(container.typeName) does not support element assignment",
                                   hint: "only list, dict and tensor elements can be assigned; tuples and strings cannot change")
        }
    }
}
