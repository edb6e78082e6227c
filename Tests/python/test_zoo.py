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


def test_a_gradient_across_a_kink_passes_only_as_a_nearby_points_exact_gradient():
    """The zoo check's kink rule (ShuffleNet V2 and DPN-48b): a float32 forward that rounds a ReLU input sitting
    1e-8 from zero to the other side has the exact gradient of a point a rounding error away, which the check
    finds; a gradient that is wrong (here 1 % too large) matches no nearby point and still fails."""
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    x = np.random.default_rng(0).standard_normal((1, 3, 2, 2))
    linear = model[1]
    with torch.no_grad():   # unit 0's input is 1e-8 above zero at x
        pre = linear(torch.tensor(x.reshape(1, 12)))[0, 0].item()
        linear.bias[0] -= pre - 1e-8
    w = linear.weight[0].detach().numpy()
    across = x - (2e-8 / float(w @ w)) * w.reshape(x.shape)      # the unit's input is now -1e-8: switched off
    g_x, g_across = zoo_check.float64_gradient(model, x), zoo_check.float64_gradient(model, across)
    assert zoo_check.relative(g_across, g_x) > 1e-2, "the kink must change the gradient for this test to mean anything"
    match = zoo_check.nearby_match(model, x, g_across, 1e-3)
    assert match is not None and match[1] < 1e-6, match
    assert zoo_check.nearby_match(model, x, 1.01 * g_x, 1e-3) is None


def test_bench_conv_times_the_engines_kernel_beside_onednns_direct_one():
    """`mirage bench conv`: both directions timed for both kernels, the results agreeing; on AVX2 (no AVX-512) the
    engine runs our Winograd for a ResNet-like 3×3 layer. A bad option is refused with its name."""
    r = subprocess.run([mirage(), "bench", "conv", "--batch", "2", "--channels", "64", "--size", "14", "--calls", "2"],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "").split()
    winograd = "avx2" in flags and "avx512f" not in flags
    assert ("our Winograd F(2×2, 3×3)" in r.stdout) == winograd, r.stdout
    rows = [line.split() for line in r.stdout.splitlines() if "oneDNN direct" in line]
    assert [row[0] for row in rows] == ["forward", "input"], r.stdout
    for row in rows:
        assert float(row[-1]) < 1e-5 and float(row[row.index("engine") + 1]) > 0, r.stdout
    bad = subprocess.run([mirage(), "bench", "conv", "--calls", "0"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert bad.returncode != 0 and "--calls must be at least 1, got 0" in bad.stderr, bad.stdout + bad.stderr
