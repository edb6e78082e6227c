#!/usr/bin/env python3
"""Builds the tiny .onnx fixtures of Tests/GraphTests/ONNXImport*Tests.swift.

    python3 -m venv /tmp/onnx-venv && /tmp/onnx-venv/bin/pip install 'onnx==1.23.*' numpy
    /tmp/onnx-venv/bin/python scripts/onnx/make_import_fixtures.py [OUT_DIR]

OUT_DIR defaults to Tests/GraphTests/Fixtures. The output is deterministic (no random
numbers; every float is exactly representable so the Swift tests can compare exactly).
The Swift tests hard-code what these files contain: change both together.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "Tests", "GraphTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model)
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    print(f"{name}: {os.path.getsize(path)} bytes")


def opset(v=17, *extra):
    return [helper.make_opsetid("", v), *extra]


def model(graph, ops=None, **kw):
    m = helper.make_model(graph, opset_imports=ops or opset(), producer_name="mirage-fixtures",
                          producer_version="1.0", **kw)
    m.ir_version = 8
    return m


def ramp(n, shift, scale=8.0):
    """(i - shift) / scale: exactly representable floats."""
    return ((np.arange(n, dtype=np.float64) - shift) / scale).astype(np.float32)


# 1. Conv + Relu + Flatten + Gemm. conv.weight in raw_data, conv.bias in float_data,
#    fc.weight raw, fc.bias float_data. Old-exporter style: the initializers are also listed
#    among the graph inputs. Batch dimension symbolic ("N"); one unnamed dim on the output.
conv_w = numpy_helper.from_array(ramp(4 * 3 * 3 * 3, 54).reshape(4, 3, 3, 3), "conv.weight")  # raw_data
conv_b = helper.make_tensor("conv.bias", TensorProto.FLOAT, [4], [0.5, -0.25, 1.0, 0.0])        # float_data
fc_w = numpy_helper.from_array(ramp(3 * 16, 24, 16.0).reshape(3, 16), "fc.weight")            # raw_data
fc_b = helper.make_tensor("fc.bias", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])                   # float_data
nodes = [
    helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv1",
                     kernel_shape=[3, 3], pads=[0, 0, 0, 0], strides=[1, 1]),
    helper.make_node("Relu", ["c"], ["r"], name="relu1"),
    helper.make_node("Flatten", ["r"], ["f"], axis=1),          # unnamed: "Flatten_2"
    helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1, alpha=1.0, beta=1.0),
]
g = helper.make_graph(
    nodes, "convnet",
    inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4]),
            helper.make_tensor_value_info("conv.weight", TensorProto.FLOAT, [4, 3, 3, 3]),
            helper.make_tensor_value_info("conv.bias", TensorProto.FLOAT, [4])],
    outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", None])],
    initializer=[conv_w, conv_b, fc_w, fc_b],
    value_info=[helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4, 2, 2]),
                helper.make_tensor_value_info("f", TensorProto.FLOAT, None)],
)
save(model(g), "conv_relu_gemm.onnx")

# 2. Every attribute kind on one custom-domain node, plus a node of an unknown domain.
sub = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "sub",
                        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
                        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
sparse = helper.make_sparse_tensor(helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0]),
                                   helper.make_tensor("i", TensorProto.INT64, [2], [0, 3]), [4])
attrs = [
    helper.make_attribute("f", 1.5),
    helper.make_attribute("i", -7),
    helper.make_attribute("s", "hello"),
    helper.make_attribute("t", helper.make_tensor("t", TensorProto.INT32, [2], [1, 2])),
    helper.make_attribute("fs", [0.5, -2.0]),
    helper.make_attribute("is", [1, -2, 3]),
    helper.make_attribute("ss", ["a", "bc"]),
    helper.make_attribute("g", sub),
    helper.make_attribute("gs", [sub, sub]),
    helper.make_attribute("sp", sparse),
    helper.make_attribute("tp", helper.make_tensor_type_proto(TensorProto.FLOAT, [1])),
    helper.make_attribute("ts", [helper.make_tensor("t1", TensorProto.FLOAT, [1], [1.0])]),
    helper.make_attribute("empty_ints", [], attr_type=onnx.AttributeProto.INTS),
]
allkinds = helper.make_node("AllKinds", ["x"], ["y"], name="all", domain="test.domain")
allkinds.attribute.extend(attrs)
g = helper.make_graph(
    [allkinds, helper.make_node("Relu", ["y"], ["z"])],                          # second: "Relu_1"
    "attributes",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
    [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])],
)
save(model(g, opset(17, helper.make_opsetid("test.domain", 3))), "attributes.onnx", check=False)

# 3. Constant nodes, every value_* attribute.
consts = [
    helper.make_node("Constant", [], ["c_value"], value=helper.make_tensor("v", TensorProto.FLOAT, [2, 2], [1, 2, 3, 4])),
    helper.make_node("Constant", [], ["c_float"], value_float=2.5),
    helper.make_node("Constant", [], ["c_floats"], value_floats=[1.0, -1.0]),
    helper.make_node("Constant", [], ["c_int"], value_int=42),
    helper.make_node("Constant", [], ["c_ints"], value_ints=[3, 4, 5]),
    helper.make_node("Constant", [], ["c_string"], value_string="text"),
    helper.make_node("Constant", [], ["c_strings"], value_strings=["p", "q"]),
]
g = helper.make_graph(consts + [helper.make_node("Add", ["x", "c_value"], ["y"])], "constants",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
save(model(g), "constants.onnx")


# 4. External data: two tensors in one side file, with offsets; the second has no length key.
def external(t, location, offset=None, length=None):
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return t


w_ext = np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5      # 24 bytes
b_ext = np.array([-1, 7], dtype=np.int64)                       # 16 bytes
with open(os.path.join(OUT, "external.bin"), "wb") as f:
    f.write(b"\xde\xad\xbe\xef" * 2)  # 8 bytes of padding so that offsets matter
    f.write(w_ext.tobytes())          # offset 8, length 24
    f.write(b_ext.tobytes())          # offset 32, length 16


def ext_model(location, name, length=24, offset=8):
    w = external(TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 3]), location, offset, length)
    b = external(TensorProto(name="b", data_type=TensorProto.INT64, dims=[2]), "external.bin", 32)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "external",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                          initializer=[w, b])
    save(model(g), name, check=False)


ext_model("external.bin", "external.onnx")
ext_model("../escape.bin", "external_escape.onnx")
ext_model("/etc/passwd", "external_absolute.onnx")
ext_model("missing.bin", "external_missing.onnx")
ext_model("external.bin", "external_short.onnx", length=None, offset=40)   # needs 40..<64 of 48 bytes

# 5. Integer shape initializer (int64_data) and a raw int64 one, for Reshape.
shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1])                 # int64_data
shape_raw = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "shape_raw")   # raw_data
g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"]),
                       helper.make_node("Reshape", ["y", "shape_raw"], ["z"])], "reshape",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6])],
                      [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])],
                      initializer=[shape, shape_raw])
save(model(g), "shape_int64.onnx")

# 6. Element types: float16 (raw and int32_data), bfloat16, bool, int8, uint8, int16, uint16,
#    int32, double, uint32, uint64, string.
h = np.array([1.0, -2.0, 0.5, 65504.0], dtype=np.float16)
inits = [
    numpy_helper.from_array(h, "f16_raw"),
    helper.make_tensor("f16_int32", TensorProto.FLOAT16, [4], h.tolist(), raw=False),  # int32_data = bits
    helper.make_tensor("bf16", TensorProto.BFLOAT16, [2], [1.5, -2.0], raw=False),  # int32_data = 0x3FC0, 0xC000
    helper.make_tensor("bool_raw", TensorProto.BOOL, [3], b"\x01\x00\x01", raw=True),
    helper.make_tensor("bool_int32", TensorProto.BOOL, [2], [0, 1]),
    helper.make_tensor("int8", TensorProto.INT8, [3], [-128, 0, 127]),
    numpy_helper.from_array(np.array([0, 200, 255], dtype=np.uint8), "uint8_raw"),
    helper.make_tensor("int16", TensorProto.INT16, [2], [-32768, 32767]),
    helper.make_tensor("uint16", TensorProto.UINT16, [2], [0, 65535]),
    numpy_helper.from_array(np.array([-5, 1 << 30], dtype=np.int32), "int32_raw"),
    helper.make_tensor("double", TensorProto.DOUBLE, [2], [0.1, -1e300]),
    helper.make_tensor("uint32", TensorProto.UINT32, [1], [4000000000]),
    helper.make_tensor("uint64", TensorProto.UINT64, [2], [1, 2**64 - 1]),
    helper.make_tensor("strings", TensorProto.STRING, [2], [b"ab", "é".encode()]),
    helper.make_tensor("scalar", TensorProto.FLOAT, [], [3.25]),
    helper.make_tensor("empty", TensorProto.FLOAT, [0, 3], []),
]
g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "types",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [4])],
                      initializer=inits)
save(model(g), "types.onnx")

# 7. Malformed models.
relu = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                         [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                         [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
dangling = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]),
                              helper.make_node("Conv", ["r", "x9"], ["y"], name="Conv_3")], "g",
                             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
save(model(dangling), "dangling_input.onnx", check=False)
save(model(relu, opset(22)), "opset22.onnx", check=False)
save(model(relu, opset(6)), "opset6.onnx", check=False)
dup = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="a"),
                        helper.make_node("Relu", ["x"], ["y"], name="b")], "g",
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
save(model(dup), "duplicate_output.onnx", check=False)
bad = TensorProto(name="conv1.weight", data_type=TensorProto.FLOAT, dims=[64, 3, 3, 3], raw_data=b"\0" * 100)
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], initializer=[bad])
save(model(g), "bad_raw_size.onnx", check=False)
seg = helper.make_tensor("seg", TensorProto.FLOAT, [2], [1.0, 2.0])
seg.segment.begin, seg.segment.end = 0, 2
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], initializer=[seg])
save(model(g), "segment.onnx", check=False)
nog = onnx.ModelProto(ir_version=8, producer_name="mirage-fixtures")
nog.opset_import.extend(opset())
save(nog, "no_graph.onnx", check=False)


# 8. Hostile or unusual models (each refused with a clear message, or kept as noted).
def tiny(name, nodes=None, inits=(), outputs=("y",), sparse=(), check=False, ops=None):
    g = helper.make_graph(nodes if nodes is not None else [helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1]) for o in outputs],
                          initializer=list(inits), sparse_initializer=list(sparse))
    save(model(g, ops), name, check=check)


# Shape whose element count overflows Int64: must not be multiplied blindly.
tiny("overflow_dims.onnx", inits=[TensorProto(name="huge", data_type=TensorProto.FLOAT,
                                              dims=[1 << 40, 1 << 40, 1 << 40], raw_data=b"\0" * 4)])
tiny("negative_dim.onnx", inits=[TensorProto(name="neg", data_type=TensorProto.FLOAT, dims=[2, -3],
                                             float_data=[1.0])])
# float_data count mismatch.
tiny("float_data_count.onnx", inits=[TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 2],
                                                 float_data=[1.0, 2.0, 3.0])])
# A float8 initializer (not stored by the engine) and a float8 Constant (kept as .unsupported).
tiny("float8_initializer.onnx", inits=[TensorProto(name="q", data_type=TensorProto.FLOAT8E4M3FN, dims=[2],
                                                   raw_data=b"\x38\x40")])
tiny("float8_constant.onnx", nodes=[
    helper.make_node("Constant", [], ["q"], value=TensorProto(name="q", data_type=TensorProto.FLOAT8E4M3FN,
                                                              dims=[2], raw_data=b"\x38\x40")),
    helper.make_node("Relu", ["x"], ["y"])])
# Nodes out of topological order.
tiny("unsorted.onnx", nodes=[helper.make_node("Relu", ["r"], ["y"], name="second"),
                             helper.make_node("Relu", ["x"], ["r"], name="first")])
# A graph output that nothing produces.
tiny("missing_output.onnx", outputs=("y", "nowhere"))
# A sparse initializer.
tiny("sparse_initializer.onnx", sparse=[helper.make_sparse_tensor(
    helper.make_tensor("sp", TensorProto.FLOAT, [1], [1.0]), helper.make_tensor("sp_i", TensorProto.INT64, [1], [0]), [4])])
# An attribute without `type` (very old exporters): inferred from the field that is set.
legacy = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky")
a = legacy.attribute.add()
a.name, a.f = "alpha", 0.25
tiny("untyped_attribute.onnx", nodes=[legacy])
# Opsets: "ai.onnx" spelled out, and a node domain spelled "ai.onnx".
spelled = helper.make_node("Relu", ["x"], ["y"], name="r", domain="ai.onnx")
tiny("ai_onnx_domain.onnx", nodes=[spelled], ops=[helper.make_opsetid("ai.onnx", 13)])
