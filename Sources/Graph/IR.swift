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
    /// The elements, in the widened Swift type of their element type.
    public enum Storage: Sendable, Equatable {
        case floats([Float])
        case doubles([Double])
        case integers([Int64])
        case bools([Bool])
        case strings([String])
    }

    /// The element type the model declared.
    public var type: ElementType
    /// The dimensions; [] for a scalar.
    public var shape: [Int]
    /// The elements in row-major order (`count` of them).
    public var storage: Storage

    /// A value of `type` and `shape` holding `storage`.
    public init(type: ElementType, shape: [Int], storage: Storage) {
        self.type = type
        self.shape = shape
        self.storage = storage
    }

    /// The number of elements: the product of `shape`.
    public var count: Int { shape.reduce(1, *) }
}

/// A node attribute's value, decoded from ONNX's AttributeProto.
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

/// One operator application: ONNX's NodeProto with its attributes decoded. Values are named by strings, so a node refers to its inputs and outputs by name, and the graph's order of nodes is its execution order.
public struct Node: Sendable, Equatable {
    /// The node's name in the model (may be empty); shown in errors and `mirage model info`.
    public var name: String
    /// The operator, e.g. "Conv" or "Relu".
    public var opType: String
    /// The operator set's domain: "" for the default ai.onnx domain.
    public var domain: String          // "" for the default ai.onnx domain
    /// Names of the values the node reads, in the operator's order; "" marks an omitted optional input.
    public var inputs: [String]        // "" marks an omitted optional input
    /// Names of the values the node writes, in the operator's order.
    public var outputs: [String]
    /// The operator's attributes by name (kernel_shape, strides, …).
    public var attributes: [String: Attribute]

    /// A node; the domain defaults to ai.onnx and the attributes to none.
    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String], attributes: [String: Attribute] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }
}

/// One dimension of a declared shape: a number, or a name the model leaves open (such as the batch size).
public enum Dimension: Sendable, Equatable {
    case fixed(Int)
    case symbolic(String)     // e.g. "batch"; also used for unnamed unknown dimensions ("")
}

/// The declared type and shape of a named value (a graph input or output, or an intermediate), as far as the model says.
public struct ValueInfo: Sendable, Equatable {
    /// The value's name, as nodes refer to it.
    public var name: String
    /// The element type, or nil when the model does not declare it.
    public var type: ElementType?
    /// The dimensions; nil when the model does not say (one `.symbolic("")` per unknown dimension of a known rank).
    public var shape: [Dimension]?    // nil when the model does not say

    /// The declaration of `name`.
    public init(name: String, type: ElementType?, shape: [Dimension]?) {
        self.name = name
        self.type = type
        self.shape = shape
    }
}

/// A whole model's graph: nodes in execution order, the declared inputs and outputs, and the constant weights (initializers). `Model` plans and runs it.
public struct Graph: Sendable, Equatable {
    /// The graph's name in the model (may be empty).
    public var name: String
    /// The nodes, in the file's order (ONNX requires topological order).
    public var nodes: [Node]                      // in the file's order (ONNX requires topological order)
    /// The real inputs, which callers feed; initializers are not listed here.
    public var inputs: [ValueInfo]                // real inputs: initializers are not listed here
    /// The outputs the model declares.
    public var outputs: [ValueInfo]
    /// The weights and other constants, by value name.
    public var initializers: [String: TensorValue]
    /// Declared types and shapes of intermediate values, if the model gives any.
    public var valueInfo: [String: ValueInfo]     // declared types/shapes of intermediates, if any
    /// Operator set versions by domain ("" is ai.onnx); operators behave as their version says.
    public var opsets: [String: Int]              // domain → version; "" is ai.onnx
    /// The tool that wrote the model, e.g. "pytorch 2.5".
    public var producer: String                   // e.g. "pytorch 2.5"

    /// A graph; everything defaults to empty, with ai.onnx opset 17.
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
