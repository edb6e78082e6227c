/// ONNX import, part 2: ModelProto/GraphProto → Graph, with validation.

import Foundation
import ONNXProto

struct GraphImporter {
    let directory: String?
    let options: ONNXImport.Options
    var external: ExternalDataReader

    init(directory: String?, options: ONNXImport.Options) {
        self.directory = directory
        self.options = options
        self.external = ExternalDataReader(directory: directory)
    }

    /// The Graph of `model`, whose graph is moved out (left empty). Its `count` initializers come from `read`, one at
    /// a time, so that each one's bytes can be freed once it is decoded; the graph's own list is not read.
    mutating func graph(of model: inout Onnx_ModelProto, initializers count: Int,
                        read: (Int) throws -> Onnx_TensorProto) throws -> Graph {
        guard model.hasGraph else {
            throw ModelError(model.hasIrVersion || !model.opsetImport.isEmpty
                ? "model has no graph"
                : "model has no graph (and no ir_version or opset_import: probably not an ONNX model)")
        }
        let opsets = try self.opsets(of: model)
        var proto = model.graph
        model.clearGraph()

        var graph = Graph(name: proto.name, opsets: opsets, producer: Self.producer(of: model))
        try readInitializers(count: count, into: &graph, read: read)
        try refuseSparseInitializers(proto)
        var defined = try readInputs(proto, into: &graph)
        try readNodes(proto, into: &graph, defined: &defined)
        try readOutputs(proto, into: &graph, defined: defined)
        for info in proto.valueInfo where !info.name.isEmpty && graph.valueInfo[info.name] == nil {
            graph.valueInfo[info.name] = Self.valueInfo(info)
        }
        return graph
    }

    /// Decodes the `count` initializers that `read` gives; names must be unique and non-empty.
    mutating func readInitializers(count: Int, into graph: inout Graph, read: (Int) throws -> Onnx_TensorProto) throws {
        for index in 0 ..< count {
            let tensor = try read(index)
            let name = tensor.name
            guard !name.isEmpty else { throw ModelError("initializer #\(index) has no name") }
            if graph.initializers[name] != nil { throw ModelError("duplicate initializer '\(name)'") }
            graph.initializers[name] = try TensorDecoder.decode(tensor, what: "initializer '\(name)'", external: &external)
        }
    }

    /// Sparse initializers are refused.
    func refuseSparseInitializers(_ proto: Onnx_GraphProto) throws {
        if !proto.sparseInitializer.isEmpty {
            let names = proto.sparseInitializer.prefix(3).map { "'\($0.values.name)'" }.joined(separator: ", ")
            throw ModelError("sparse initializers are not supported (\(proto.sparseInitializer.count): \(names)\(proto.sparseInitializer.count > 3 ? ", …" : ""))")
        }
    }

    /// Adds the graph inputs that are not initializers (older exporters, IR < 4, list every initializer as an
    /// input too). Returns what defines each value name so far, for the nodes' messages.
    func readInputs(_ proto: Onnx_GraphProto, into graph: inout Graph) throws -> [String: String] {
        var defined: [String: String] = [:]
        for name in graph.initializers.keys { defined[name] = "an initializer" }
        var inputNames = Set<String>()
        for (index, info) in proto.input.enumerated() {
            let name = info.name
            guard !name.isEmpty else { throw ModelError("graph input #\(index) has no name") }
            guard inputNames.insert(name).inserted else { throw ModelError("duplicate graph input '\(name)'") }
            if graph.initializers[name] != nil { continue }
            graph.inputs.append(Self.valueInfo(info))
            defined[name] = "a graph input"
        }
        return defined
    }

    /// Converts the nodes in file order, which must be topological: every input defined before it is read,
    /// every output defined once. Duplicate node names (labels, not references) get a suffix.
    mutating func readNodes(_ proto: Onnx_GraphProto, into graph: inout Graph, defined: inout [String: String]) throws {
        let laterOutputs = Self.producers(of: proto)
        var nodeNames = Set<String>()
        graph.nodes.reserveCapacity(proto.node.count)
        for (index, node) in proto.node.enumerated() {
            var converted = try self.node(node, index: index)
            if !nodeNames.insert(converted.name).inserted {
                var suffix = index
                var candidate = "\(converted.name)_\(suffix)"
                while nodeNames.contains(candidate) { suffix += 1; candidate = "\(converted.name)_\(suffix)" }
                nodeNames.insert(candidate)
                converted.name = candidate
            }
            let label = "node '\(converted.name)' (\(converted.opType))"
            for input in converted.inputs where !input.isEmpty && defined[input] == nil {
                if let producer = laterOutputs[input], producer > index {
                    let later = proto.node[producer]
                    let laterName = later.name.isEmpty ? "\(later.opType)_\(producer)" : later.name
                    throw ModelError("\(label) input '\(input)' is produced by a later node '\(laterName)' (\(later.opType)): nodes are not in topological order")
                }
                throw ModelError("\(label) input '\(input)' is produced by no node, input or initializer")
            }
            for output in converted.outputs where !output.isEmpty {
                if let previous = defined[output] {
                    throw ModelError("duplicate output name '\(output)': \(label) produces it, but it is already \(previous)")
                }
                defined[output] = "the output of \(label)"
            }
            graph.nodes.append(converted)
        }
    }

    /// Adds the graph outputs: unique, non-empty names of defined values; at least one.
    func readOutputs(_ proto: Onnx_GraphProto, into graph: inout Graph, defined: [String: String]) throws {
        var outputNames = Set<String>()
        for (index, info) in proto.output.enumerated() {
            let name = info.name
            guard !name.isEmpty else { throw ModelError("graph output #\(index) has no name") }
            guard outputNames.insert(name).inserted else { throw ModelError("duplicate graph output '\(name)'") }
            guard defined[name] != nil else {
                throw ModelError("graph output '\(name)' is produced by no node, input or initializer")
            }
            graph.outputs.append(Self.valueInfo(info))
        }
        if graph.outputs.isEmpty { throw ModelError("graph '\(proto.name)' has no outputs") }
    }

    // MARK: - Model-level fields

    func opsets(of model: Onnx_ModelProto) throws -> [String: Int] {
        var opsets: [String: Int] = [:]
        for entry in model.opsetImport {
            let domain = entry.domain == "ai.onnx" ? "" : entry.domain
            let shown = domain.isEmpty ? "ai.onnx" : domain
            guard let version = Int(exactly: entry.version) else { throw ModelError("opset version \(entry.version) of \(shown) is invalid") }
            if let previous = opsets[domain], previous != version {
                throw ModelError("opset_import lists \(shown) twice, with versions \(previous) and \(version)")
            }
            opsets[domain] = version
        }
        let range = options.opsets
        guard let onnx = opsets[""] else {
            if model.graph.node.contains(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) {
                throw ModelError("model imports no ai.onnx opset (opset_import: \(opsets.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")))")
            }
            return opsets
        }
        if onnx > range.upperBound {
            throw ModelError("opset \(onnx) of ai.onnx is newer than supported (\(range.lowerBound)–\(range.upperBound))")
        }
        if onnx < range.lowerBound {
            throw ModelError("opset \(onnx) of ai.onnx is older than supported (\(range.lowerBound)–\(range.upperBound))")
        }
        return opsets
    }

    static func producer(of model: Onnx_ModelProto) -> String {
        let name = model.producerName
        let version = model.producerVersion
        if name.isEmpty { return version }
        if version.isEmpty { return name }
        return "\(name) \(version)"
    }

    /// For each value name, the index of the node that produces it (first producer).
    static func producers(of graph: Onnx_GraphProto) -> [String: Int] {
        var producers: [String: Int] = [:]
        for (index, node) in graph.node.enumerated() {
            for output in node.output where !output.isEmpty && producers[output] == nil {
                producers[output] = index
            }
        }
        return producers
    }

    // MARK: - Value infos

    static func valueInfo(_ info: Onnx_ValueInfoProto) -> ValueInfo {
        guard info.hasType, case .tensorType(let tensor)? = info.type.value else {
            // Sequence, map, optional and sparse types, or no type: the IR has no words for them.
            if info.hasType, case .sparseTensorType(let sparse)? = info.type.value {
                return ValueInfo(name: info.name, type: ElementType(rawValue: Int(sparse.elemType)),
                                 shape: sparse.hasShape ? dimensions(sparse.shape) : nil)
            }
            return ValueInfo(name: info.name, type: nil, shape: nil)
        }
        return ValueInfo(name: info.name,
                         type: tensor.hasElemType ? ElementType(rawValue: Int(tensor.elemType)) : nil,
                         shape: tensor.hasShape ? dimensions(tensor.shape) : nil)
    }

    static func dimensions(_ shape: Onnx_TensorShapeProto) -> [Dimension] {
        shape.dim.map { dim in
            switch dim.value {
            case .dimValue(let value)?:
                // Negative sizes (some old exporters wrote -1 for "unknown") mean unknown.
                return value >= 0 ? .fixed(Int(value)) : .symbolic("")
            case .dimParam(let name)?:
                return .symbolic(name)
            case nil:
                return .symbolic("")
            }
        }
    }

    // MARK: - Nodes and attributes

    mutating func node(_ proto: Onnx_NodeProto, index: Int) throws -> Node {
        guard !proto.opType.isEmpty else {
            throw ModelError("node #\(index)\(proto.name.isEmpty ? "" : " '\(proto.name)'") has no op_type")
        }
        let name = proto.name.isEmpty ? "\(proto.opType)_\(index)" : proto.name
        let domain = proto.domain == "ai.onnx" ? "" : proto.domain
        var attributes: [String: Attribute] = [:]
        for attribute in proto.attribute {
            let where_ = "node '\(name)' (\(proto.opType)) attribute '\(attribute.name)'"
            guard !attribute.name.isEmpty else { throw ModelError("node '\(name)' (\(proto.opType)) has an attribute without a name") }
            if attributes[attribute.name] != nil {
                throw ModelError("node '\(name)' (\(proto.opType)) has attribute '\(attribute.name)' twice")
            }
            attributes[attribute.name] = try self.attribute(attribute, where: where_)
        }
        return Node(name: name, opType: proto.opType, domain: domain, inputs: proto.input, outputs: proto.output,
                    attributes: attributes)
    }

    mutating func attribute(_ proto: Onnx_AttributeProto, where where_: String) throws -> Attribute {
        if proto.hasRefAttrName, !proto.refAttrName.isEmpty {
            // Only meaningful inside a FunctionProto body.
            return .unsupported(kind: "REF_ATTR")
        }
        var kind = proto.type
        if kind == .undefined {
            // Very old models leave `type` unset: infer it from the field that is present.
            if proto.hasF { kind = .float }
            else if proto.hasI { kind = .int }
            else if proto.hasS { kind = .string }
            else if proto.hasT { kind = .tensor }
            else if proto.hasG { kind = .graph }
            else if proto.hasSparseTensor { kind = .sparseTensor }
            else if proto.hasTp { kind = .typeProto }
            else if !proto.floats.isEmpty { kind = .floats }
            else if !proto.ints.isEmpty { kind = .ints }
            else if !proto.strings.isEmpty { kind = .strings }
            else if !proto.tensors.isEmpty { kind = .tensors }
            else if !proto.graphs.isEmpty { kind = .graphs }
            else if !proto.sparseTensors.isEmpty { kind = .sparseTensors }
            else if !proto.typeProtos.isEmpty { kind = .typeProtos }
            else { throw ModelError("\(where_) has no type and no value") }
        }
        switch kind {
        case .float: return .float(proto.f)
        case .int:
            guard let value = Int(exactly: proto.i) else { throw ModelError("\(where_): \(proto.i) does not fit in Int") }
            return .int(value)
        case .string: return .string(String(decoding: proto.s, as: UTF8.self))
        case .floats: return .floats(proto.floats)
        case .ints:
            var values: [Int] = []
            values.reserveCapacity(proto.ints.count)
            for value in proto.ints {
                guard let v = Int(exactly: value) else { throw ModelError("\(where_): \(value) does not fit in Int") }
                values.append(v)
            }
            return .ints(values)
        case .strings: return .strings(proto.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor:
            if let typeName = TensorDecoder.unsupportedTypeName(proto.t.dataType) {
                // E.g. a float8 Constant: kept so that the planner can name it.
                return .unsupported(kind: "TENSOR(\(typeName))")
            }
            return .tensor(try TensorDecoder.decode(proto.t, what: where_, external: &external))
        case .graph: return .unsupported(kind: "GRAPH")
        case .graphs: return .unsupported(kind: "GRAPHS")
        case .sparseTensor: return .unsupported(kind: "SPARSE_TENSOR")
        case .sparseTensors: return .unsupported(kind: "SPARSE_TENSORS")
        case .typeProto: return .unsupported(kind: "TYPE_PROTO")
        case .typeProtos: return .unsupported(kind: "TYPE_PROTOS")
        case .tensors: return .unsupported(kind: "TENSORS")
        case .undefined: throw ModelError("\(where_) has no type and no value")
        }
    }
}
