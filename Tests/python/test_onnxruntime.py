"""The engine against onnxruntime on the models the repository bundles, both exported from PyTorch:
forward outputs within 1e-4 of ORT's (largest difference relative to the largest magnitude), and the
input gradient g = ∂Σy²/∂x that `mirage model run --grad` writes against a central difference of ORT's
forward pass along random directions (ORT has no input gradient of its own) on the MNIST model. On ShuffleNet
a float32 central difference crosses too many ReLU kinks to be a reference (PyTorch's own gradient moves 5%
under 1e-6 input changes there); its gradients are checked in `swift test` along random directions in float64.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = {
    "mnist_cnn": (ROOT / "Examples/models/mnist_cnn.onnx", (4, 1, 28, 28)),
    "shufflenet_v2_x0_5": (ROOT / "Examples/models/shufflenet_v2_x0_5.onnx", (2, 3, 224, 224)),
}


def mirage_run(model: Path, x: np.ndarray, output: str, tmp: Path) -> tuple[np.ndarray, np.ndarray]:
    np.save(tmp / "x.npy", x)
    r = subprocess.run([os.environ["MIRAGE_BIN"], "model", "run", str(model), "--input", str(tmp / "x.npy"),
                        "--output", output, "--out", str(tmp / "y.npy"), "--grad", str(tmp / "g.npy")],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return np.load(tmp / "y.npy"), np.load(tmp / "g.npy")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("output", ["features", "logits"])
def test_engine_matches_onnxruntime(name, output, tmp_path):
    path, shape = MODELS[name]
    x = np.random.default_rng(7).random(shape, dtype=np.float32)
    y, g = mirage_run(path, x, output, tmp_path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(v: np.ndarray) -> np.ndarray:
        return session.run([output], {"input": v.astype(np.float32)})[0]

    reference = forward(x)
    assert y.shape == reference.shape
    relative = np.abs(y - reference).max() / np.abs(reference).max()
    assert relative < 1e-4, f"{name}/{output}: forward differs from onnxruntime by {relative:.2e}"

    assert g.shape == x.shape
    if name != "mnist_cnn":
        return
    rng = np.random.default_rng(11)
    for _ in range(3):
        v = rng.standard_normal(shape).astype(np.float32)
        v /= np.linalg.norm(v)
        h = 1e-2
        numeric = (np.sum(forward(x + h * v).astype(np.float64) ** 2) - np.sum(forward(x - h * v).astype(np.float64) ** 2)) / (2 * h)
        analytic = float(np.sum(g.astype(np.float64) * v))
        scale = max(abs(numeric), np.linalg.norm(g) * 1e-3)
        assert abs(analytic - numeric) < 2e-2 * scale, f"{name}/{output}: g·v {analytic} vs ORT central difference {numeric}"


@pytest.mark.parametrize("name", ["glow_mnist", "glow_mnist_background"])
def test_bundled_glow_matches_onnxruntime(name, tmp_path):
    """The bundled flows' bits/dim within 1e-5 of onnxruntime's (relative to the largest), on held-out digits,
    uniform noise and a constant image. (Their input gradients are checked against PyTorch's float64 ones in
    `swift test --filter GlowModelTests`.)"""
    path = ROOT / f"Examples/models/{name}.onnx"
    digits = np.load(ROOT / "Examples/data/mnist/test_images.npy")[:6]
    rng = np.random.default_rng(5)
    x = np.concatenate([digits, rng.random((2, 1, 28, 28), dtype=np.float32), np.full((1, 1, 28, 28), 0.3, np.float32)])
    y, g = mirage_run(path, x, "bpd", tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = session.run(["bpd"], {"input": x})[0]
    assert y.shape == reference.shape == (len(x),)
    relative = np.abs(y - reference).max() / np.abs(reference).max()
    assert relative <= 1e-5, f"{name}: bits/dim differ from onnxruntime by {relative:.2e}"
    assert g.shape == x.shape and np.isfinite(g).all()
