import Dispatch
import Tensor

/// A loaded model: its graph with every operator checked, and the constant part of the graph
/// (initializers, Constant nodes and whatever depends only on them) evaluated once.
public final class Model: @unchecked Sendable {
    /// The checked graph (nodes, initializers, input and outputs).
    public let graph: Graph
    /// Values known without any input: initializers and folded subgraphs.
    let constants: [String: RuntimeValue]
    /// The nodes left to run at run time, in order.
    let liveNodes: [Node]
    /// Which node produces each value (after folding).
    let producers: [String: Int]
    /// Weights and biases made by folding BatchNormalization into convolutions (not initializers).
    let foldedParameters: Set<String>

    /// `foldBatchNormalization`: fold inference BatchNormalization into the Conv before it (see
    /// `BatchNormFolding`); off only to compare against the unfolded graph.
    public init(graph: Graph, foldBatchNormalization: Bool = true) throws {
        self.graph = graph
        let unsupported = graph.nodes.filter { ($0.domain != "" && $0.domain != "ai.onnx") || OperatorSet.makers[$0.opType] == nil }
        if !unsupported.isEmpty {
            let listed = unsupported.prefix(20).map { "\($0.opType) (node '\($0.name)')" }.joined(separator: ", ")
            let kinds = Set(unsupported.map(\.opType)).sorted().joined(separator: ", ")
            throw EngineError("the model uses \(unsupported.count) node\(unsupported.count == 1 ? "" : "s") with unsupported operators [\(kinds)]: \(listed)\(unsupported.count > 20 ? ", …" : "")")
        }
        for node in graph.nodes {
            for attribute in node.attributes.values { if case .unsupported(let kind) = attribute {
                throw EngineError("node '\(node.name)' (\(node.opType)) has a \(kind) attribute, which the engine does not run")
            } }
        }
        var constants = graph.initializers.mapValues(RuntimeValue.init)
        var live: [Node] = []
        // Before opset 13, Softmax and LogSoftmax flattened the input at `axis` (default 1) and
        // normalised over everything after it; operators see only their node, so mark such nodes.
        var nodes = graph.nodes
        if (graph.opsets[""] ?? graph.opsets["ai.onnx"] ?? 21) < 13 {
            for i in nodes.indices where nodes[i].opType == "Softmax" || nodes[i].opType == "LogSoftmax" {
                nodes[i].attributes[Softmax.flattenMarker] = .int(1)
            }
        }
        // Fold: a node whose inputs are all known is computed now, once.
        for node in nodes {
            let inputs = node.inputs.filter { !$0.isEmpty }
            if inputs.allSatisfy({ constants[$0] != nil }) {
                let op = try OperatorSet.make(node)
                let values = try op.forwardAdapting(node.inputs.map { $0.isEmpty ? nil : constants[$0] })
                for (name, value) in zip(node.outputs, values) where !name.isEmpty { constants[name] = value.plainLayout }
            } else {
                live.append(node)
            }
        }
        var foldedParameters = Set<String>()
        if foldBatchNormalization {
            (live, foldedParameters) = try BatchNormFolding.fold(live, constants: &constants, keeping: Set(graph.outputs.map(\.name)))
        }
        self.foldedParameters = foldedParameters
        var producers: [String: Int] = [:]
        for (i, node) in live.enumerated() { for output in node.outputs where !output.isEmpty { producers[output] = i } }
        self.constants = constants
        liveNodes = live
        self.producers = producers
    }

    /// Loads an ONNX file (see ONNXImport) and prepares it.
    public convenience init(path: String) throws {
        try self.init(graph: try ONNXImport.load(path: path))
    }

    /// The model's real input (the first graph input that is not an initializer).
    public var input: ValueInfo? { graph.inputs.first }

    /// Every named tensor that can be an output: graph outputs, then intermediates in order.
    public var tensorNames: [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for name in graph.outputs.map(\.name) + liveNodes.flatMap(\.outputs) where !name.isEmpty && seen.insert(name).inserted {
            names.append(name)
        }
        return names
    }

    /// An encoder computing `outputs` (any named tensors), pruned to the nodes they need.
    public func encoder(outputs: [String]) throws -> Encoder {
        try encoder(outputs: outputs, fusing: true)
    }

    /// `fusing: false` keeps every Conv and Relu a step of its own (tests compare both).
    func encoder(outputs: [String], fusing: Bool) throws -> Encoder {
        guard let input else { throw EngineError("the model has no input") }
        for name in outputs where producers[name] == nil {
            if constants[name] != nil { throw EngineError("tensor '\(name)' is a constant: it does not depend on the input") }
            if name == input.name { continue }
            let hint = closestNames(to: name, in: tensorNames)
            throw EngineError("the model has no tensor named '\(name)'\(hint.isEmpty ? "" : "; did you mean \(hint.map { "'\($0)'" }.joined(separator: " or "))?")")
        }
        // Walk back from the outputs to the nodes they need.
        var needed = Set<Int>()
        var stack = outputs.compactMap { producers[$0] }
        while let i = stack.popLast() {
            guard needed.insert(i).inserted else { continue }
            for name in liveNodes[i].inputs where !name.isEmpty {
                if let p = producers[name] { stack.append(p) }
            }
        }
        let nodes = needed.sorted().map { liveNodes[$0] }
        return try Encoder(model: self, nodes: nodes, inputName: input.name, outputs: outputs, fusing: fusing)
    }

    /// Parameters: the element count of every float initializer.
    public var parameterCount: Int {
        graph.initializers.values.filter { if case .floats = $0.storage { return true } else { return false } }.reduce(0) { $0 + $1.count }
    }
}

/// Candidate names close to a misspelt one (edit distance), for error hints.
func closestNames(to name: String, in candidates: [String]) -> [String] {
    let target = name.lowercased()
    let scored = candidates.map { ($0, editDistance(target, $0.lowercased())) }
    let best = scored.map(\.1).min() ?? .max
    guard best <= max(2, target.unicodeScalars.count / 3) else { return [] }
    return scored.filter { $0.1 == best }.prefix(2).map(\.0)
}

/// Runs part of a model forward from its input to chosen outputs, and backward from seeds on those
/// outputs to the input (reverse mode over the node list). Values live in integer slots; operators
/// keep their kernels (and output buffers) between calls, so repeated steps at one batch size
/// rebuild and allocate nothing large. Values and gradients stay in oneDNN's layouts between
/// layout-aware operators; a Conv whose only reader is a Relu runs fused with it.
public final class Encoder {
    /// The tensors this encoder returns, in order.
    public let outputNames: [String]
    private struct Step {
        let node: Node
        let op: Operator
        let inputs: [Int?]       // slots; nil for omitted optional inputs
        let outputs: [Int]
        /// The operator type, or both for a fused pair ("Conv+Relu").
        let label: String
    }

    private let steps: [Step]
    private let inputSlot: Int
    private let outputSlots: [Int]
    private let expectedInput: [Dimension]?
    private let inputName: String
    private var values: [RuntimeValue?]
    private var constantSlots: [Bool]
    private var requiresGradient: [Bool]
    /// Parameter slots whose gradients `parameterGradients` returns (see `trackGradients(of:)`).
    private var trackedParameters: [String: Int] = [:]
    private var hasForward = false
    /// Row-major copies of laid-out values, made once per forward for the operators that need them
    /// (the laid-out original stays for the layout-aware ones, and for its producer's backward).
    private var plainCopies: [Int: RuntimeValue] = [:]
    /// Hands every operator row-major values (tests compare this against layout propagation).
    var plainValuesOnly = false
    /// Keeps every value of a forward pass, including those no backward step reads (for
    /// `lastFloatValues`); otherwise they are released after their last forward reader.
    var keepsEveryValue = false
    /// Per step, the slots it may release once it has run: inputs it is the last forward reader of,
    /// and outputs no later step reads (never the input, the outputs or constants).
    private let releasable: [[Int]]
    /// Per slot, whether a step that will run backward reads its value (found during each forward).
    private var keptForBackward: [Bool]
    /// Per slot, the buffer gradient sums of laid-out tensors go to (reused step after step).
    private var gradientSums: [Int: OutputAllocator] = [:]
    /// When set, seconds spent per operator type (forward and backward), for `mirage bench --profile`.
    public var profile: [String: (forward: Double, backward: Double)]?
    /// The value name of each slot, for descriptions.
    let slotNames: [String]

    deinit { BufferPool.shared.drain() }

    init(model: Model, nodes: [Node], inputName: String, outputs: [String], fusing: Bool = true) throws {
        var slotOf: [String: Int] = [inputName: 0]
        var initial: [RuntimeValue?] = [nil]
        var constant = [false]
        func slot(_ name: String) -> Int {
            if let s = slotOf[name] { return s }
            slotOf[name] = initial.count
            initial.append(model.constants[name])
            constant.append(model.constants[name] != nil)
            return initial.count - 1
        }
        var steps: [Step] = []
        let declared = model.graph.valueInfo.merging((model.graph.inputs + model.graph.outputs).map { ($0.name, $0) }) { kept, _ in kept }
        let nodes = fusing ? try GatherHoisting.apply(nodes, keeping: Set(outputs), constants: model.constants, declared: declared) : nodes
        let fused = fusing ? try Fusion.all(nodes, keeping: Set(outputs)) { model.constants[$0]?.shape } : [:]
        let absorbed = Set(fused.values.flatMap(\.absorbed))
        for (k, original) in nodes.enumerated() where !absorbed.contains(k) {
            let node = fused[k]?.node ?? original
            let op = try fused[k]?.op ?? OperatorSet.make(node)
            let inputs = node.inputs.map { $0.isEmpty ? nil : slot($0) }
            op.prepare(constantInputs: Set(inputs.enumerated().compactMap { i, s in s.map { constant[$0] } == true ? i : nil }))
            steps.append(Step(node: node, op: op, inputs: inputs, outputs: node.outputs.map { slot($0) }, label: fused[k]?.label ?? node.opType))
        }
        var computed: Set<Int> = [0]
        for step in steps {
            for (k, s) in step.inputs.enumerated() {
                if let s, initial[s] == nil, !computed.contains(s) {
                    throw EngineError("node '\(step.node.name)' (\(step.node.opType)) reads '\(step.node.inputs[k])', which nothing computes before it")
                }
            }
            computed.formUnion(step.outputs)
        }
        outputNames = outputs
        outputSlots = outputs.map { slot($0) }
        var readers = [[Int]](repeating: [], count: initial.count)
        for (k, step) in steps.enumerated() { for s in step.inputs.compactMap({ $0 }) { readers[s].append(k) } }
        let lastReader = readers.map { $0.last ?? -1 }
        let modelOutputs = Set(outputSlots)
        for step in steps {
            step.op.prepare(laidOutReaders: step.outputs.allSatisfy { s in
                !modelOutputs.contains(s) && !readers[s].isEmpty && readers[s].allSatisfy { steps[$0].op.takesLaidOutValues }
            })
        }
        let pinned = Set(outputSlots + [0])
        releasable = steps.enumerated().map { k, step in
            let candidates = step.inputs.compactMap { $0 }.filter { lastReader[$0] == k } + step.outputs.filter { lastReader[$0] == -1 }
            return Array(Set(candidates.filter { !constant[$0] && !pinned.contains($0) })).sorted()
        }
        keptForBackward = Array(repeating: false, count: initial.count)
        slotNames = slotOf.sorted { $0.value < $1.value }.map(\.key)
        self.steps = steps
        self.inputName = inputName
        inputSlot = 0
        expectedInput = model.input?.shape
        values = initial
        constantSlots = constant
        requiresGradient = Array(repeating: false, count: initial.count)
    }

    /// A step's input values, in the form its operator takes.
    private func inputs(of step: Step) -> [RuntimeValue?] {
        step.inputs.map { slot in
            guard let slot, let value = values[slot] else { return nil }
            guard !step.op.takesLaidOutValues || plainValuesOnly, case .laidOut = value else { return value }
            if let copy = plainCopies[slot] { return copy }
            let copy = value.plainLayout
            plainCopies[slot] = copy
            return copy
        }
    }

    /// The outputs for a batch `x`; remembers what `pullback` needs.
    public func forward(_ x: Tensor) throws -> [Tensor] {
        if let expected = expectedInput {
            let fits = expected.count == x.rank && zip(expected, x.shape).allSatisfy { d, n in
                if case .fixed(let m) = d { return m == n } else { return true }
            }
            guard fits else {
                let described = expected.map { d -> String in if case .fixed(let m) = d { return "\(m)" }; if case .symbolic(let s) = d, !s.isEmpty { return s }; return "?" }
                throw EngineError("input '\(inputName)' expects shape [\(described.joined(separator: ", "))], got \(x.shape)")
            }
        }
        guard x.rank >= 1, x.shape[0] > 0, x.count > 0 else {
            throw EngineError("input '\(inputName)' got an empty batch (shape \(x.shape)); pass at least one sample")
        }
        for i in values.indices where !constantSlots[i] { values[i] = nil }
        plainCopies = [:]
        BufferPool.shared.newStep()
        values[inputSlot] = .float(x)
        for i in requiresGradient.indices { requiresGradient[i] = false }
        requiresGradient[inputSlot] = true
        for slot in trackedParameters.values { requiresGradient[slot] = true }
        for i in keptForBackward.indices { keptForBackward[i] = false }
        for (k, step) in steps.enumerated() {
            let started = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let outputs = try step.op.forward(inputs(of: step))
            if profile != nil {
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                profile![step.label, default: (0, 0)].forward += seconds
            }
            let wanted = wantedGradients(step)
            for (slot, value) in zip(step.outputs, outputs) {
                values[slot] = value
                requiresGradient[slot] = !wanted.isEmpty && value.isFloat
            }
            if !wanted.isEmpty {
                let reads = step.op.backwardReads(wanted: wanted)
                for i in reads.inputs ?? Set(step.inputs.indices) where i < step.inputs.count {
                    if let slot = step.inputs[i] { keptForBackward[slot] = true }
                }
                if reads.outputs { for slot in step.outputs { keptForBackward[slot] = true } }
            }
            if !keepsEveryValue {
                for slot in releasable[k] where !keptForBackward[slot] {
                    guard let value = values[slot], value.isFloat, !value.isReleased else { continue }
                    values[slot] = .released(shape: value.shape)
                    plainCopies[slot] = nil
                }
            }
        }
        hasForward = true
        return try outputSlots.enumerated().map { k, slot in
            guard let value = values[slot], value.isFloat else { throw EngineError("output '\(outputNames[k])' is not a float tensor") }
            return value.floats
        }
    }

    /// After a forward: every float tensor the run computed, by name, row-major, in the order the steps
    /// produced them (the input first). Values a fused step never materialises, and values released
    /// during the forward (unless `keepsEveryValue`), are absent.
    func lastFloatValues() -> [(name: String, value: Tensor)] {
        var seen = Set<Int>()
        var result: [(String, Tensor)] = []
        for slot in [inputSlot] + steps.flatMap(\.outputs) where seen.insert(slot).inserted {
            if let value = values[slot], value.isFloat, !value.isReleased { result.append((slotNames[slot], value.floats)) }
        }
        return result
    }

    /// After a forward: the names of the values it holds in a oneDNN layout rather than row-major.
    var laidOutValueNames: Set<String> {
        Set(values.indices.compactMap { slot in if case .laidOut? = values[slot] { return slotNames[slot] } else { return nil } })
    }

    /// After a forward: how many values it released (no backward step reads them).
    var releasedValueCount: Int { values.reduce(0) { $0 + ($1?.isReleased == true ? 1 : 0) } }

    /// What each step runs ("Conv+Relu" for a fused pair), in order.
    var stepLabels: [String] { steps.map(\.label) }

    /// After a forward: each computed tensor's shape, and each node's floating-point operation count.
    func lastRun() -> (shapes: [String: [Int]], flops: [(node: Node, output: [Int], flops: Int)]) {
        var shapes: [String: [Int]] = [:]
        for (slot, value) in values.enumerated() { if let value { shapes[slotNames[slot]] = value.shape } }
        let flops = steps.map { step -> (Node, [Int], Int) in
            let output = step.outputs.first.flatMap { values[$0]?.shape } ?? []
            let outputCount = output.reduce(1, *)
            let inputShapes = step.inputs.map { $0.flatMap { values[$0]?.shape } ?? [] }
            let count: Int
            switch step.node.opType {
            case "Conv":
                count = 2 * outputCount * inputShapes[1].dropFirst().reduce(1, *)
            case "Gemm", "MatMul":
                let k = step.node.opType == "Gemm" && (step.node.attributes["transA"] == .int(1)) ? inputShapes[0].first ?? 1 : inputShapes[0].last ?? 1
                count = 2 * outputCount * k
            default:
                count = outputCount
            }
            return (step.node, output, count)
        }
        return (shapes, flops)
    }

    /// ∂(Σ_k ⟨seeds[k], outputs[k]⟩)/∂x at the last forward, shaped like x.
    public func pullback(_ seeds: [Tensor]) throws -> Tensor {
        guard hasForward, case .float(let x)? = values[inputSlot] else { throw EngineError("pullback needs a forward pass first") }
        return try backpropagate(seeds)[inputSlot]?.floats ?? Tensor.zeros(x.shape)
    }

    /// Makes the next forward passes record what the gradients of these initializers need (weights and
    /// biases, for training or fine-tuning); `parameterGradients` then returns them. Input gradients are
    /// unaffected. An initializer that load-time folding changed (a Conv weight a BatchNormalization was
    /// folded into) or that the chosen outputs do not use is refused by name.
    public func trackGradients(of names: [String]) throws {
        var tracked: [String: Int] = [:]
        for name in names {
            guard let slot = slotNames.firstIndex(of: name), constantSlots[slot], values[slot]?.isFloat == true else {
                throw EngineError("'\(name)' is not a float initializer that the outputs \(outputNames) read (after load-time folding)")
            }
            tracked[name] = slot
        }
        trackedParameters = tracked
        hasForward = false
    }

    /// ∂(Σ_k ⟨seeds[k], outputs[k]⟩)/∂θ for each tracked initializer θ, at the last forward (summed over the batch).
    public func parameterGradients(_ seeds: [Tensor]) throws -> [String: Tensor] {
        guard hasForward else { throw EngineError("parameterGradients needs a forward pass after trackGradients(of:)") }
        let gradients = try backpropagate(seeds)
        return trackedParameters.mapValues { slot in gradients[slot]?.floats ?? Tensor.zeros(values[slot]?.shape ?? []) }
    }

    /// The inputs of a step whose gradients backward computes: differentiable ones that depend on the
    /// input or on a tracked parameter.
    private func wantedGradients(_ step: Step) -> Set<Int> {
        Set(step.op.differentiableInputs.filter { i in i < step.inputs.count && step.inputs[i].map { requiresGradient[$0] } == true })
    }

    /// existing + g on row-major tensors, added into existing's buffer when nothing else holds it.
    private static func sum(consuming existing: consuming RuntimeValue, _ g: RuntimeValue) -> Tensor {
        var sum = existing.floats
        _ = consume existing
        sum.add(g.floats)
        return sum
    }

    /// Reverse mode from the seeds: the gradient of every slot that needs one.
    private func backpropagate(_ seeds: [Tensor]) throws -> [RuntimeValue?] {
        guard seeds.count == outputSlots.count else { throw EngineError("pullback got \(seeds.count) seeds for \(outputSlots.count) outputs") }
        var gradients = [RuntimeValue?](repeating: nil, count: values.count)
        func accumulate(_ slot: Int, _ g: RuntimeValue) throws {
            guard let existing = gradients[slot].take() else { gradients[slot] = g; return }
            if case .laidOut(let a) = existing, case .laidOut(let b) = g, a.sharesLayout(with: b) {
                gradients[slot] = .laidOut(try gradientSums[slot, default: OutputAllocator()].sum(a, b))
                return
            }
            gradients[slot] = .float(Self.sum(consuming: consume existing, g))
        }
        for (k, slot) in outputSlots.enumerated() {
            guard seeds[k].shape == values[slot]?.shape else {
                throw EngineError("seed for '\(outputNames[k])' has shape \(seeds[k].shape), the output has \(values[slot]?.shape ?? [])")
            }
            try accumulate(slot, .float(seeds[k]))
        }
        for step in steps.reversed() {
            let outputGradients = step.outputs.map { plainValuesOnly ? gradients[$0]?.plainLayout : gradients[$0] }
            guard outputGradients.contains(where: { $0 != nil }) else { continue }
            let wanted = wantedGradients(step)
            guard !wanted.isEmpty else { continue }
            let started = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let inputGradients = try step.op.backward(laidOut: outputGradients, inputs: inputs(of: step),
                                                      outputs: step.outputs.compactMap { plainValuesOnly ? values[$0]?.plainLayout : values[$0] },
                                                      wanted: wanted)
            if profile != nil {
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                profile![step.label, default: (0, 0)].backward += seconds
            }
            // Intermediate gradients are dead once passed on (dropped first, so kernels can reuse their buffers).
            for slot in step.outputs where slot != inputSlot { gradients[slot] = nil }
            for (i, g) in inputGradients where wanted.contains(i) {
                guard let slot = step.inputs[i] else { continue }
                try accumulate(slot, g)
            }
        }
        return gradients
    }
}

extension Model {
    /// Runs the whole graph on named typed inputs and returns the graph outputs, typed as the model
    /// declares them. This is the reference path (ONNX's backend tests, `mirage model run` of
    /// multi-input models); attacks use `encoder(outputs:)`, which is pruned and differentiable.
    public func evaluate(_ inputs: [String: TensorValue]) throws -> [String: TensorValue] {
        var values = constants
        for input in graph.inputs {
            guard let given = inputs[input.name] else { throw EngineError("input '\(input.name)' was not given") }
            values[input.name] = RuntimeValue(given)
        }
        for node in liveNodes {
            let op = try OperatorSet.make(node)
            let outputs = try op.forwardAdapting(node.inputs.map { $0.isEmpty ? nil : values[$0] })
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty { values[name] = value }
        }
        var result: [String: TensorValue] = [:]
        for output in graph.outputs {
            guard let value = values[output.name] else { throw EngineError("output '\(output.name)' was not computed") }
            result[output.name] = value.plainLayout.typed(as: output.type ?? (value.isFloat ? .float : .int64))
        }
        return result
    }
}

extension RuntimeValue {
    /// Back to a typed host array, converting to the declared element type.
    func typed(as type: ElementType) -> TensorValue {
        switch (self, type) {
        case (_, .bool):
            return TensorValue(type: .bool, shape: shape, storage: .bools(floats.data.map { $0 != 0 }))
        case (_, .double):
            return TensorValue(type: .double, shape: shape, storage: .doubles(floats.data.map { Double($0) }))
        case (.float(let t), .float), (.float(let t), .float16), (.float(let t), .bfloat16):
            return TensorValue(type: type, shape: t.shape, storage: .floats(t.data))
        case (.int(let a), .float), (.int(let a), .float16), (.int(let a), .bfloat16):
            return TensorValue(type: type, shape: a.shape, storage: .floats(a.data.map { Float($0) }))
        default:
            return TensorValue(type: type, shape: shape, storage: .integers(integers.data))
        }
    }
}
