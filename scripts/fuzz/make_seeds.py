"""Writes the generated part of the fuzz seed corpus (Tests/Fuzz/corpus): tiny ONNX models covering the
operators the engine folds and runs, and Jupyter wire frames in mirage-fuzz's `wire` input format.
Seeded and deterministic; run with the test venv: .venv/bin/python scripts/fuzz/make_seeds.py"""
import hashlib
import hmac
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Fuzz" / "corpus"
rng = np.random.default_rng(0)


def model(name, nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="mirage-fuzz-seed")
    m.ir_version = 8
    (ROOT / "onnx" / f"{name}.onnx").write_bytes(m.SerializeToString())


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def onnx_seeds():
    (ROOT / "onnx").mkdir(parents=True, exist_ok=True)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    model("conv_relu_pool", [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
    ], [vi("x", ["N", 1, 4, 4])], [vi("y", None)], [("w", w)])
    model("gemm_softmax", [
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"], axis=1),
    ], [vi("x", [1, 2, 2])], [vi("y", None)],
        [("w", rng.standard_normal((3, 4)).astype(np.float32)), ("b", np.zeros(3, np.float32))])
    model("shape_ops", [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["z"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])),
        helper.make_node("Add", ["x", "z"], ["a"]),
        helper.make_node("Reshape", ["a", "shape"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[1, 0]),
        helper.make_node("Expand", ["t", "e"], ["y"]),
    ], [vi("x", [2, 3])], [vi("y", None)],
        [("shape", np.array([3, 2], np.int64)), ("e", np.array([2, 3, 2], np.int64))])
    model("batchnorm_gap", [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
        helper.make_node("GlobalAveragePool", ["n"], ["p"]),
        helper.make_node("Sigmoid", ["p"], ["y"]),
    ], [vi("x", [1, 1, 3, 3])], [vi("y", None)],
        [("w", w), ("s", np.ones(2, np.float32)), ("b", np.zeros(2, np.float32)),
         ("m", np.zeros(2, np.float32)), ("v", np.ones(2, np.float32))])
    model("slice_concat_matmul", [
        helper.make_node("Slice", ["x", "st", "en"], ["s"]),
        helper.make_node("Concat", ["s", "s"], ["c"], axis=1),
        helper.make_node("MatMul", ["c", "w"], ["m"]),
        helper.make_node("ReduceMean", ["m"], ["y"], keepdims=1),
    ], [vi("x", [1, 4])], [vi("y", None)],
        [("st", np.array([1], np.int64)), ("en", np.array([3], np.int64)), ("w", rng.standard_normal((4, 2)).astype(np.float32))])
    model("opset11_softmax", [helper.make_node("Softmax", ["x"], ["y"])], [vi("x", [1, 2, 3])], [vi("y", None)], opset=11)
    # What the executor fuses in Swin-style attention: a roll (Slices swapped by a Concat), q and k gathered
    # out of one packed tensor, kᵀ read by the product.
    ints = lambda *v: np.array(v, np.int64)
    model("roll_gather_attention", [
        helper.make_node("Slice", ["x", "one", "four", "axis1"], ["tail"]),
        helper.make_node("Slice", ["x", "zero", "one", "axis1"], ["head"]),
        helper.make_node("Concat", ["tail", "head"], ["rolled"], axis=1),
        helper.make_node("Reshape", ["rolled", "packed"], ["p"]),
        helper.make_node("Transpose", ["p"], ["pt"], perm=[2, 0, 1, 3]),
        helper.make_node("Gather", ["pt", "i0"], ["q"], axis=0),
        helper.make_node("Gather", ["pt", "i1"], ["k"], axis=0),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["y"], axis=-1),
    ], [vi("x", [1, 4, 6])], [vi("y", None)],
        [("zero", ints(0)), ("one", ints(1)), ("four", ints(4)), ("axis1", ints(1)), ("packed", ints(1, 4, 2, 3)),
         ("i0", np.array(0, np.int64)), ("i1", np.array(1, np.int64))])


WIRE_KEY = b"fuzz-key"


def frames(mode, msg_type, content, sign=True):
    header = json.dumps({"msg_id": "a1", "session": "s", "username": "u", "date": "2026-11-25T11:40:20.123456Z",
                         "msg_type": msg_type, "version": "5.4"}).encode()
    parts = [header, b"{}", b"{}", json.dumps(content).encode()]
    sig = hmac.new(WIRE_KEY, b"".join(parts), hashlib.sha256).hexdigest().encode() if sign else b""
    return bytes([mode]) + b"\xff".join([b"client", b"<IDS|MSG>", sig] + parts + [b"\x01\x02"])


def wire_seeds():
    (ROOT / "wire").mkdir(parents=True, exist_ok=True)
    seeds = {
        "execute_unsigned": frames(0, "execute_request", {"code": "1 + 2", "silent": False}, sign=False),
        "execute_harness_signed": frames(1, "execute_request", {"code": "x = 1", "store_history": True}),
        "execute_signed": frames(2, "execute_request", {"code": "print(1)"}),
        "history_search": frames(1, "history_request", {"hist_access_type": "search", "pattern": "x[0-9]*", "n": 2, "unique": True, "output": True}),
        "history_range": frames(1, "history_request", {"hist_access_type": "range", "session": 0, "start": 1, "stop": 3}),
        "complete": frames(1, "complete_request", {"code": "ze", "cursor_pos": 2}),
        "nested_json": frames(1, "comm_msg", {"data": {"a": [1, 2.5e-3, -0, True, None, "\u00e9\\n"]}}),
    }
    for name, data in seeds.items():
        (ROOT / "wire" / name).write_bytes(data)


if __name__ == "__main__":
    onnx_seeds()
    wire_seeds()
