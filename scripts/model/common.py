"""Shared pieces of Mirage's model scripts: the bundled MNIST CNN, loading its weights back
from the committed ONNX file, the ResNet-18 encoder wrapper, and the OOD attack step
(see /work/shared/paper/README.md, "The algorithm") used by the benchmark and the reference.

Imported by train_mnist.py, export_resnet18.py, bench_attack_torch.py and reference_attack.py
(run them from anywhere; they put this folder on sys.path themselves).
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parents[2]
MNIST_ONNX = REPO / "Examples" / "models" / "mnist_cnn.onnx"
DATA_DIR = REPO / "Examples" / "data"

SEED = 20200917  # arXiv 2009.08016 was submitted on 2020-09-17


def seed_everything(seed: int = SEED, threads: int = 1) -> None:
    """Seeds python, numpy and torch; deterministic kernels; a fixed number of threads."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass


class MnistCNN(nn.Module):
    """Conv(1→32,3)+ReLU+MaxPool2, Conv(32→64,3)+ReLU+MaxPool2, Flatten, Linear(1600→128)+ReLU
    (= features), Linear(128→10) (= logits). Input: [N,1,28,28] pixels in [0,1], no normalisation."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))   # 26 → 13
        x = self.pool(self.relu(self.conv2(x)))   # 11 → 5
        return self.relu(self.fc1(torch.flatten(x, 1)))

    def forward(self, x: torch.Tensor):
        f = self.features(x)
        return f, self.fc2(f)


class ResNet18Encoder(nn.Module):
    """torchvision resnet18 returning (pooled 512-d features before fc, logits)."""

    def __init__(self, seed: int = SEED) -> None:
        super().__init__()
        import torchvision

        torch.manual_seed(seed)
        self.net = torchvision.models.resnet18(weights=None)  # random init, never downloads

    def features(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return torch.flatten(n.avgpool(x), 1)

    def forward(self, x: torch.Tensor):
        f = self.features(x)
        return f, self.net.fc(f)


def export_onnx(model: nn.Module, example: torch.Tensor, out: Path | str,
                max_batch: int = 1 << 16, opset: int = 17,
                output_names: tuple[str, ...] = ("features", "logits")):
    """torch.onnx.export (dynamo) → input `input` with batch axis "batch", outputs `output_names`
    (by default `features` and `logits`); exported at opset 18 (the exporter's lowest) then converted with onnx's version
    converter after optimisation (ReduceMean's axes become an attribute again); node metadata
    (stack traces with local paths) and doc strings dropped so the bytes do not depend on where
    the scripts and the venv live."""
    import onnx
    from onnx import version_converter

    model.eval()
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    prog = torch.onnx.export(
        model, (example,), dynamo=True, opset_version=18, input_names=["input"],
        output_names=list(output_names), dynamic_shapes=({0: batch},),
        external_data=False, optimize=True, verbose=False)
    proto = prog.model_proto
    if opset != 18:
        proto = version_converter.convert_version(proto, opset)
    for node in proto.graph.node:
        if opset < 18 and node.op_type.startswith("Reduce"):
            # the converter moves axes back to an attribute but keeps this opset-18-only one
            keep = [a for a in node.attribute if a.name != "noop_with_empty_axes"]
            del node.attribute[:]
            node.attribute.extend(keep)
        del node.metadata_props[:]
        node.doc_string = ""
    del proto.metadata_props[:]
    proto.graph.doc_string = ""
    proto.doc_string = ""
    onnx.checker.check_model(proto, full_check=True)
    Path(out).write_bytes(proto.SerializeToString())
    return proto


def load_mnist_from_onnx(path: Path | str = MNIST_ONNX) -> MnistCNN:
    """Builds MnistCNN with the weights stored in the bundled ONNX file (initializers are named
    after the PyTorch parameters: conv1.weight, …, fc2.bias)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    model = MnistCNN()
    state = model.state_dict()
    missing = [k for k in state if k not in inits]
    if missing:
        raise KeyError(f"{path}: no initializer for {missing}; has {sorted(inits)}")
    with torch.no_grad():
        for k, v in state.items():
            arr = torch.from_numpy(np.array(inits[k], dtype=np.float32))
            if arr.shape != v.shape:
                raise ValueError(f"{k}: onnx {tuple(arr.shape)} vs torch {tuple(v.shape)}")
            v.copy_(arr)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class OODAttack:
    """The paper's loop, L2 version: loss = Σ(f(x) − z_in)², g = ∂loss/∂x normalised per sample
    to unit L2 norm, one torch.optim.Adamax step on δ, δ projected per sample onto the L2 ε-ball,
    x = clamp(x′ + δ, 0, 1), δ = x − x′."""

    def __init__(self, encoder, x_in: torch.Tensor, x_start: torch.Tensor, eps: float,
                 lr: float, init: str = "zero", seed: int = SEED) -> None:
        self.f = encoder
        with torch.no_grad():
            self.z_in = encoder(x_in).detach()
        self.x0 = x_start.detach().clone()
        self.eps = float(eps)
        if init == "zero":
            delta = torch.zeros_like(self.x0)
        elif init == "uniform":
            g = torch.Generator().manual_seed(seed)
            delta = (torch.rand(self.x0.shape, generator=g) * 2 - 1) * self.eps
        else:
            raise ValueError(init)
        self.delta = delta.requires_grad_(False)
        with torch.no_grad():
            self._project_and_clamp()
        self.opt = torch.optim.Adamax([self.delta], lr=lr, betas=(0.9, 0.999), eps=1e-8)

    def _per_sample_norm(self, t: torch.Tensor) -> torch.Tensor:
        return t.flatten(1).norm(p=2, dim=1).view(-1, *([1] * (t.dim() - 1)))

    def _project_and_clamp(self) -> None:
        n = self._per_sample_norm(self.delta)
        scale = torch.where(n > self.eps, self.eps / n.clamp_min(1e-12), torch.ones_like(n))
        self.delta.mul_(scale)
        self.x = (self.x0 + self.delta).clamp_(0.0, 1.0)
        self.delta.copy_(self.x - self.x0)

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        """The normalised gradient Adamax steps along (subclasses change the norm or its rounding)."""
        return g / self._per_sample_norm(g).clamp_min(1e-12)

    def step(self) -> float:
        """One iteration; returns the loss at the iterate the gradient was taken at."""
        x = self.x.detach().requires_grad_(True)
        loss = ((self.f(x) - self.z_in) ** 2).sum()
        (g,) = torch.autograd.grad(loss, x)
        self.delta.grad = self._direction(g)
        self.opt.step()
        with torch.no_grad():
            self._project_and_clamp()
        return float(loss.detach())

    def loss(self) -> float:
        with torch.no_grad():
            return float(((self.f(self.x) - self.z_in) ** 2).sum())

    def mape(self) -> torch.Tensor:
        """mean|f(x) − z_in| / max|z_in| per sample."""
        with torch.no_grad():
            d = (self.f(self.x) - self.z_in).abs().flatten(1).mean(1)
            return d / self.z_in.abs().flatten(1).amax(1)


def check_against_onnxruntime(path: Path | str, model: nn.Module, x: torch.Tensor):
    """Runs the exported file in onnxruntime and the module in PyTorch on x; prints and returns the largest
    differences of `features` and `logits` relative to their largest magnitude, and the PyTorch outputs.
    Exits when they differ by more than 1e-4 (an export problem)."""
    import sys

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    f_ort, l_ort = sess.run(["features", "logits"], {"input": x.numpy()})
    with torch.no_grad():
        f_pt, l_pt = model(x)
    df = float(np.abs(f_ort - f_pt.numpy()).max() / max(1e-12, float(f_pt.abs().max())))
    dl = float(np.abs(l_ort - l_pt.numpy()).max() / max(1e-12, float(l_pt.abs().max())))
    print(f"onnxruntime vs torch, max abs diff / max abs: features {df:.2e}  logits {dl:.2e}")
    if max(df, dl) > 1e-4:
        sys.exit("verification failed")
    return f_pt, l_pt
