"""Compares Mirage's forward outputs with onnxruntime's on seeded random inputs.

    python scripts/engine/compare_onnxruntime.py MODEL.onnx [--outputs features logits] [--shape 2 3 224 224]
        [--mirage .build/release/mirage] [--tolerance 1e-4]

Needs numpy and onnxruntime (the test venv: `bash scripts/setup.sh` installs them into `.venv`). Exits 1 when the largest difference,
relative to the largest reference value, exceeds the tolerance.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--outputs", nargs="*")
    parser.add_argument("--shape", nargs="*", type=int, help="input shape (default: the model's, batch 2)")
    parser.add_argument("--mirage", default=str(Path(__file__).resolve().parents[2] / ".build/release/mirage"))
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    session = ort.InferenceSession(args.model)
    input_info = session.get_inputs()[0]
    shape = args.shape or [d if isinstance(d, int) else 2 for d in input_info.shape]
    outputs = args.outputs or [o.name for o in session.get_outputs()]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/x.npy", x)
        for name in outputs:
            subprocess.run([args.mirage, "model", "run", args.model, "--input", f"{tmp}/x.npy", "--output", name,
                            "--out", f"{tmp}/y.npy"], check=True)
            ours = np.load(f"{tmp}/y.npy")
            reference = session.run([name], {input_info.name: x})[0]
            assert ours.shape == reference.shape, f"{name}: shape {ours.shape} vs {reference.shape}"
            difference = float(np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-30))
            worst = max(worst, difference)
            print(f"{Path(args.model).name} {name} {list(ours.shape)}: max |mirage − onnxruntime| / max |onnxruntime| = {difference:.2e}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
