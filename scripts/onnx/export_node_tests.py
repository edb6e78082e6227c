#!/usr/bin/env python3
"""Writes ONNX's own operator ("node") backend tests out for Mirage's conformance runner.

    /tmp/onnx-venv/bin/python scripts/onnx/export_node_tests.py OUT_DIR [--op OpType]

Source: onnx.backend.test.case.node.collect_testcases(None) (onnx 1.23.2: 1,884 cases, all of
kind "node", each with exactly one data set). Per case it writes

    OUT_DIR/<case name>/model.onnx
    OUT_DIR/<case name>/input_<i>.npy  | input_<i>.pb
    OUT_DIR/<case name>/output_<i>.npy | output_<i>.pb

i counts the *present* inputs/outputs in node order (omitted optional inputs, spelled "" in the
node, have no file), i.e. the i-th graph input/output of model.onnx. Format:
  * .npy  — plain numpy arrays of standard dtypes (bool, int8..uint64, float16/32/64), incl. 0-d;
  * .pb   — a serialized onnx TensorProto for everything numpy cannot store portably
            (bfloat16 and float8/int4/float4 arrays from ml_dtypes, string (object) arrays, and
            the cases that give TensorProto values directly, e.g. test_cast_*FLOAT8*);
            a SequenceProto for sequence values (Python lists);
            an OptionalProto for an empty optional (None).
manifest.json records, for every case: name, op_type, domain, opsets, rtol, atol (the case's
own values; the node suite declares rtol=1e-3, atol=1e-7 for every case) and, per file, its
name, format (npy | tensor_pb | sequence_pb | optional_pb) and dtype/shape. Cases are grouped by
operator under "by_operator".
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np

import onnx
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases

STANDARD = {np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                  np.int64, np.uint64, np.float16, np.float32, np.float64)}


def write_value(path_base, value, graph_value_info):
    """Writes one input/output; returns its manifest entry."""
    if isinstance(value, onnx.TensorProto):
        with open(path_base + ".pb", "wb") as f:
            f.write(value.SerializeToString())
        return {"file": os.path.basename(path_base) + ".pb", "format": "tensor_pb",
                "elem_type": onnx.TensorProto.DataType.Name(value.data_type), "shape": list(value.dims)}
    if value is None:
        opt = numpy_helper.from_optional(None, name=graph_value_info.name)
        with open(path_base + ".pb", "wb") as f:
            f.write(opt.SerializeToString())
        return {"file": os.path.basename(path_base) + ".pb", "format": "optional_pb", "empty": True}
    if isinstance(value, list):
        seq = numpy_helper.from_list([np.asarray(v) for v in value], name=graph_value_info.name)
        with open(path_base + ".pb", "wb") as f:
            f.write(seq.SerializeToString())
        return {"file": os.path.basename(path_base) + ".pb", "format": "sequence_pb", "length": len(value)}
    arr = np.asarray(value)
    if arr.dtype in STANDARD:
        np.save(path_base + ".npy", arr, allow_pickle=False)
        return {"file": os.path.basename(path_base) + ".npy", "format": "npy", "dtype": str(arr.dtype),
                "shape": list(arr.shape)}
    t = numpy_helper.from_array(arr, name=graph_value_info.name)
    with open(path_base + ".pb", "wb") as f:
        f.write(t.SerializeToString())
    return {"file": os.path.basename(path_base) + ".pb", "format": "tensor_pb",
            "elem_type": onnx.TensorProto.DataType.Name(t.data_type), "shape": list(t.dims)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--op", default=None, help="only this operator (op_type)")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(args.op)
    os.makedirs(args.out_dir, exist_ok=True)
    manifest = {"onnx_version": onnx.__version__, "count": 0, "default_rtol": 1e-3, "default_atol": 1e-7,
                "cases": [], "by_operator": {}}
    for case in cases:
        if case.model is None or not case.data_sets:
            print(f"skipping {case.name}: no model or data", file=sys.stderr)
            continue
        d = os.path.join(args.out_dir, case.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        # The tests use the first node's op for the operator name; expanded function tests
        # ("*_expanded") contain several nodes and are listed under the original operator.
        graph = case.model.graph
        op = graph.node[0].op_type if len(graph.node) == 1 else case.name
        node_domain = graph.node[0].domain if len(graph.node) == 1 else ""
        if case.name.endswith("_expanded") or len(graph.node) != 1:
            op = _operator_of_expanded(case.name, op)
        inputs, outputs = case.data_sets[0]
        entry = {
            "name": case.name, "op_type": op, "domain": node_domain,
            "opsets": {o.domain or "": o.version for o in case.model.opset_import},
            "rtol": case.rtol if case.rtol is not None else 1e-3,
            "atol": case.atol if case.atol is not None else 1e-7,
            "inputs": [write_value(os.path.join(d, f"input_{i}"), v, graph.input[i]) for i, v in enumerate(inputs)],
            "outputs": [write_value(os.path.join(d, f"output_{i}"), v, graph.output[i]) for i, v in enumerate(outputs)],
        }
        manifest["cases"].append(entry)
        manifest["by_operator"].setdefault(op, []).append(case.name)
    manifest["count"] = len(manifest["cases"])
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
    print(f"wrote {manifest['count']} cases ({len(manifest['by_operator'])} operators) to {args.out_dir}")


_OPS = None


def _operator_of_expanded(name, fallback):
    """test_softmax_axis_0_expanded → Softmax: the longest registered op whose snake name prefixes it."""
    global _OPS
    if _OPS is None:
        import re
        _OPS = {}
        for s in onnx.defs.get_all_schemas_with_history():
            snake = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", s.name).lower()
            _OPS.setdefault(snake, s.name)
    stem = name[len("test_"):] if name.startswith("test_") else name
    best = None
    for snake, op in _OPS.items():
        if stem == snake or stem.startswith(snake + "_"):
            if best is None or len(snake) > len(best[0]):
                best = (snake, op)
    return best[1] if best else fallback


if __name__ == "__main__":
    main()
