#!/usr/bin/env python3
"""Prints where ONNX's "light" real-model tests live in the installed onnx package, and what they are.

    /tmp/onnx-venv/bin/python scripts/onnx/list_light_models.py [--json]

Format (onnx 1.23.2; checked by looking inside, see docs/onnx-import.md):
  <site-packages>/onnx/backend/test/data/light/
      light_<model>.onnx           ModelProto, IR 3, ai.onnx opset 9, weights inline (raw_data);
                                   the big weight tensors are *not* stored: each is rebuilt at run
                                   time by a ConstantOfShape node from an int64 "<name>__SHAPE"
                                   initializer, filled with the constant of its `value` attribute.
      light_<model>_output_0.pb    a serialized TensorProto (float, raw_data): the expected value of
                                   graph output 0.
  There is no input file and no test_data_set_* directory. The expected output was computed
  (onnx.backend.test.runner, use_dummy=True, with onnx.reference.ReferenceEvaluator) for the
  deterministic input
      x = (np.arange(n).reshape(shape) / n).astype(np.float32),  n = prod(shape)
  where shape is the graph's (single, float) input shape with symbolic dimensions taken as 1,
  i.e. [1, 3, 224, 224] for all nine models. Tolerances (onnx/backend/test/case/model/__init__.py):
  rtol=1e-3, atol=1e-7, except densenet121 rtol=2e-3.
"""
import glob
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

TOLERANCES = {"densenet121": (2e-3, 1e-7)}
BASE = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def light_models():
    """(name, path, model, initializer names, real inputs) of each light model the onnx package ships."""
    for path in sorted(glob.glob(os.path.join(BASE, "light_*.onnx"))):
        model = onnx.load(path)
        inits = {t.name for t in model.graph.initializer}
        yield (os.path.basename(path)[len("light_"):-len(".onnx")], path, model, inits,
               [i for i in model.graph.input if i.name not in inits])


def main():
    base = BASE
    models = []
    for name, path, model, inits, inputs in light_models():
        outputs = []
        for k in range(len(model.graph.output)):
            out = os.path.join(base, f"light_{name}_output_{k}.pb")
            if os.path.exists(out):
                t = onnx.TensorProto()
                with open(out, "rb") as f:
                    t.ParseFromString(f.read())
                outputs.append({"file": out, "format": "TensorProto",
                                "elem_type": onnx.TensorProto.DataType.Name(t.data_type), "shape": list(t.dims),
                                "graph_output": model.graph.output[k].name})
        in_shapes = [[d.dim_value if d.HasField("dim_value") else 1 for d in i.type.tensor_type.shape.dim] for i in inputs]
        fills = sorted({float(numpy_helper.to_array(a.t).ravel()[0]) for n in model.graph.node
                        if n.op_type == "ConstantOfShape" for a in n.attribute if a.name == "value"})
        rtol, atol = TOLERANCES.get(name, (1e-3, 1e-7))
        models.append({
            "name": name, "model": path, "bytes": os.path.getsize(path),
            "ir_version": model.ir_version,
            "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
            "nodes": len(model.graph.node), "initializers": len(inits),
            "inputs": [{"name": i.name, "shape": s, "dummy_input": "arange(n).reshape(shape)/n as float32"}
                       for i, s in zip(inputs, in_shapes)],
            "expected_outputs": outputs, "constant_of_shape_fill_values": fills,
            "rtol": rtol, "atol": atol,
        })
    if "--json" in sys.argv:
        json.dump({"directory": base, "onnx_version": onnx.__version__, "models": models}, sys.stdout, indent=1)
        print()
        return
    print(f"onnx {onnx.__version__}: {len(models)} light models in {base}")
    for m in models:
        ins = ", ".join(f"{i['name']} {i['shape']}" for i in m["inputs"])
        outs = ", ".join(f"{os.path.basename(o['file'])} ({o['elem_type']} {o['shape']})" for o in m["expected_outputs"])
        print(f"  {m['name']:<14} {os.path.basename(m['model'])} ({m['bytes']} bytes, IR {m['ir_version']}, "
              f"opsets {m['opsets']}, {m['nodes']} nodes); input {ins}; expected {outs}; "
              f"ConstantOfShape fills {m['constant_of_shape_fill_values']}; rtol={m['rtol']} atol={m['atol']}")


if __name__ == "__main__":
    main()
