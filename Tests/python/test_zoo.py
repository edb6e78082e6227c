"""The model zoo's fast subset (scripts/engine/zoo_check.py --ci): a few small timm and torchvision architectures per
family, random seeded weights with calibrated BatchNorm, exported by torch's TorchScript exporter (and a few by the
dynamo exporter, weights in external data), run through `mirage model run --grad`. Forward within 1e-4 and the input
gradient of Σy² within max(1e-3, 3 × PyTorch float32's own error) of PyTorch in float64; PyTorch's float64 autograd is
itself checked against its central differences. Also `mirage model check` on one export: verdict ok, exit status 0.
The full sweep and its table: docs/model-zoo.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "engine"))

import zoo_check  # noqa: E402

CACHE = Path(os.environ.get("MIRAGE_ZOO_CACHE", ROOT / ".zoo-cache"))
DYNAMO = {"resnet18", "vit_tiny_patch16_224", "levit_128s"}
CASES = [(spec, exporter) for spec in zoo_check.ZOO if spec.ci
         for exporter in (("torchscript", "dynamo") if spec.name in DYNAMO and spec.source == "timm" else ("torchscript",))]


def mirage() -> str:
    return os.environ.get("MIRAGE_BIN", str(ROOT / ".build" / "debug" / "mirage"))


@pytest.fixture(scope="module", autouse=True)
def threads():
    import torch
    torch.set_num_threads(2)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("spec,exporter", CASES, ids=[f"{s.label}-{e}" for s, e in CASES])
def test_zoo_model_matches_pytorch(spec, exporter):
    paths = zoo_check.prepare(spec, [exporter], CACHE, log=lambda *_: None)
    assert isinstance(paths[exporter], Path), f"{spec.label} did not export with {exporter}: {paths[exporter]}"
    reference = CACHE / f"{spec.label.replace('/', '_')}-{spec.size}" / "reference.npz"
    assert float(np.load(reference)["autograd_fd"]) < 1e-3, "PyTorch's float64 autograd disagrees with its central differences"
    result = zoo_check.check(spec, exporter, paths[exporter], reference, mirage())
    assert result.status == "pass", (f"{spec.label} ({exporter}): {result.status}, forward {result.forward_error}, gradient "
                                     f"{result.gradient_error} (tolerance {result.tolerance}); {result.note}")


def test_model_check_command_on_an_export():
    spec = next(s for s in zoo_check.ZOO if s.name == "levit_128s")
    path = zoo_check.prepare(spec, ["torchscript"], CACHE, log=lambda *_: None)["torchscript"]
    r = subprocess.run([mirage(), "model", "check", str(path)], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "→ ok" in r.stdout and "relative error" in r.stdout, r.stdout
