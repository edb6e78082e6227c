/// The engine's view of a model: a graph of nodes over named values, as ONNX defines it, with
/// constants decoded. The importer (ONNXImport.swift) builds it; the planner folds, prunes and
/// compiles it. Plain value types: a Graph can be copied, edited and compared.

/// ONNX's element types, numbered as in `TensorProto.DataType`.
public enum ElementType: Int, Sendable, Equatable, CaseIterable {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8, bool = 9,
         float16 = 10, double = 11, uint32 = 12, uint64 = 13, bfloat16 = 16
}

/// A typed host array: initializers, Constant nodes, attribute tensors, and the inputs and
/// outputs of the reference test runner. Narrow types are widened for storage (int8…uint64 →
/// Int64, float16/bfloat16 → Float); `type` remembers what the model declared.
public struct TensorValue: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case floats([Float])
        case doubles([Double])
        case integers([Int64])
        case bools([Bool])
        case strings([String])
    }

    public var type: ElementType
    public var shape: [Int]
    public var storage: Storage

    public init(type: ElementType, shape: [Int], storage: Storage) {
        self.type = type
        self.shape = shape
        self.storage = storage
    }

    public var count: Int { shape.reduce(1, *) }
}

public enum Attribute: Sendable, Equatable {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(TensorValue)
    case floats([Float])
    case ints([Int])
    case strings([String])
    /// Sub-graphs (If, Loop, Scan) and other kinds the engine does not execute; kept so that
    /// the unsupported-operator report can name them.
    case unsupported(kind: String)
}

public struct Node: Sendable, Equatable {
    public var name: String
    public var opType: String
    public var domain: String          // "" for the default ai.onnx domain
    public var inputs: [String]        // "" marks an omitted optional input
    public var outputs: [String]
    public var attributes: [String: Attribute]

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String], attributes: [String: Attribute] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }
}

public enum Dimension: Sendable, Equatable {
    case fixed(Int)
    case symbolic(String)     // e.g. "batch"; also used for unnamed unknown dimensions ("")
}

public struct ValueInfo: Sendable, Equatable {
    public var name: String
    public var type: ElementType?
    public var shape: [Dimension]?    // nil when the model does not say

    public init(name: String, type: ElementType?, shape: [Dimension]?) {
        self.name = name
        self.type = type
        self.shape = shape
    }
}

public struct Graph: Sendable, Equatable {
    public var name: String
    public var nodes: [Node]                      // in the file's order (ONNX requires topological order)
    public var inputs: [ValueInfo]                // real inputs: initializers are not listed here
    public var outputs: [ValueInfo]
    public var initializers: [String: TensorValue]
    public var valueInfo: [String: ValueInfo]     // declared types/shapes of intermediates, if any
    public var opsets: [String: Int]              // domain → version; "" is ai.onnx
    public var producer: String                   // e.g. "pytorch 2.5"

    public init(name: String = "", nodes: [Node] = [], inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
                initializers: [String: TensorValue] = [:], valueInfo: [String: ValueInfo] = [:],
                opsets: [String: Int] = ["": 17], producer: String = "") {
        self.name = name
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
        self.valueInfo = valueInfo
        self.opsets = opsets
        self.producer = producer
    }
}
