"""Checks Mirage's forward pass and input gradient on timm and torchvision architectures against PyTorch.

    python scripts/engine/zoo_check.py [FILTER ...] [--exporters torchscript dynamo] [--mirage BIN]
        [--cache .zoo-cache] [--docs docs/model-zoo.md] [--list] [--ci]

Each architecture is built with random seeded weights (nothing is downloaded); BatchNorm running
statistics are calibrated on random images first (random deep nets otherwise reach activations of
1e10 and float32 overflows). It is exported with both of torch's exporters: the TorchScript one
(`dynamo=False`, opset 17, weights inline) and the default dynamo one (opset 18, weights in an
external `.onnx.data` file next to the model, which Mirage loads). `mirage model run --grad` then
computes y and g = ∂Σy²/∂x on a seeded batch of two standard-normal images, compared with PyTorch in
float64 (`model.double()`):

* forward: ‖y − y64‖ / ‖y64‖ ≤ 1e-4;
* gradient: ‖g − g64‖ / ‖g64‖ ≤ max(1e-3, 3 × PyTorch float32's own error ‖g32 − g64‖ / ‖g64‖).

The exact gradient of a ReLU network jumps at its kinks. When the batch lies within float32 rounding of one
(a ReLU input 2.5e-6 from zero on a scale of 5, say), a float32 forward may round to the other side, and its
gradient is then the exact gradient of a point a rounding error away, not of x. When the gradient misses,
the check therefore also compares it with PyTorch's float64 gradient at random points x + h·v with h of
3e-7 and 1e-6 × rms(x) (perturbations that move y about as much as float32 rounding does). A match within
the tolerance there is reported as "pass (kink)" with the distances in the note. An engine error cannot
pass this way: a wrong gradient is not the exact gradient of any nearby point.

FILTER arguments are regular expressions matched against model names (any match selects).
Exports and the PyTorch references are cached under `--cache` (git-ignored), keyed by model, input
size and exporter, so a rerun only runs Mirage. `--docs` rewrites the table in docs/model-zoo.md.
Exit status 1 when any model that exports fails to load or to match.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field, asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEED = 0
BATCH = 2
FORWARD_TOLERANCE = 1e-4
GRADIENT_TOLERANCE = 1e-3
NOISE_FACTOR = 3.0
# Input perturbations (× rms(x)) whose effect on y is about float32's own forward error, for `nearby_match`.
ROUNDING_PROBES = (3e-7, 1e-6)
PROBE_DIRECTIONS = 16


@dataclass(frozen=True)
class Spec:
    """One architecture: where it comes from, its constructor arguments and the input size it is checked at."""
    name: str
    family: str
    size: int
    source: str = "timm"          # "timm" or "torchvision"
    kwargs: dict = field(default_factory=dict)
    ci: bool = False              # part of the fast subset Tests/python/test_zoo.py runs

    @property
    def label(self) -> str:
        return self.name if self.source == "timm" else f"tv/{self.name}"


def _s(name, family, size, source="timm", ci=False, **kwargs) -> Spec:
    return Spec(name, family, size, source, kwargs, ci)


# Small input sizes where the architecture allows (ViTs take img_size), so the sweep fits on a busy machine.
ZOO: list[Spec] = [
    # CNNs
    _s("resnet18", "ResNet", 64, ci=True),
    _s("resnet50d", "ResNet", 64),
    _s("resnext26ts", "ResNet", 64),
    _s("seresnet18", "ResNet", 64),
    _s("resnest14d", "ResNet", 64),
    _s("skresnet18", "ResNet", 64),
    _s("res2net50_14w_8s", "ResNet", 64),
    _s("densenet121", "DenseNet", 64),
    _s("xception41", "Xception", 96),
    _s("inception_v3", "Inception", 96),
    _s("dla34", "DLA", 64),
    _s("cspresnet50", "CSPNet", 64),
    _s("dpn48b", "DPN", 64),
    _s("hrnet_w18_small", "HRNet", 64),
    _s("ese_vovnet19b_dw", "VoVNet", 64),
    _s("repvgg_a0", "RepVGG", 64),
    _s("regnetx_002", "RegNet", 64),
    _s("nf_resnet26", "NFNet", 64),
    _s("mobilenetv2_050", "MobileNet", 64),
    _s("mobilenetv3_small_050", "MobileNet", 64, ci=True),
    _s("lcnet_050", "MobileNet", 64),
    _s("mnasnet_small", "MobileNet", 64),
    _s("ghostnet_100", "GhostNet", 64),
    _s("rexnet_100", "ReXNet", 64),
    _s("efficientnet_b0", "EfficientNet", 64),
    _s("tinynet_e", "EfficientNet", 64),
    _s("efficientnetv2_rw_t", "EfficientNet", 64),
    _s("convnext_atto", "ConvNeXt", 64, ci=True),
    _s("convnextv2_atto", "ConvNeXt", 64),
    _s("fastvit_t8", "FastViT", 64),
    _s("poolformer_s12", "MetaFormer", 64),
    # transformers and hybrids
    _s("vit_tiny_patch16_224", "ViT", 64, img_size=64, ci=True),
    _s("deit_tiny_distilled_patch16_224", "DeiT", 64, img_size=64),
    _s("vit_small_patch14_dinov2", "DINOv2", 56, img_size=56),
    _s("eva02_tiny_patch14_224", "EVA", 56, img_size=56),
    _s("beit_base_patch16_224", "BEiT", 32, img_size=32),
    _s("swin_tiny_patch4_window7_224", "Swin", 112, img_size=112),
    _s("swinv2_cr_tiny_ns_224", "Swin", 112, img_size=112),
    _s("levit_128s", "LeViT", 64, img_size=64, ci=True),
    _s("efficientformer_l1", "EfficientFormer", 224),
    _s("efficientformerv2_s0", "EfficientFormer", 64, img_size=64),
    _s("mobilevit_xxs", "MobileViT", 64, ci=True),
    _s("mobilevitv2_050", "MobileViT", 64),
    _s("mixer_s16_224", "MLP-Mixer", 64, img_size=64, ci=True),
    _s("resmlp_12_224", "MLP-Mixer", 64, img_size=64),
    _s("gmlp_ti16_224", "MLP-Mixer", 64, img_size=64),
    _s("pit_ti_224", "PiT", 64, img_size=64),
    _s("xcit_nano_12_p16_224", "XCiT", 64, img_size=64),
    _s("convit_tiny", "ConViT", 64, img_size=64),
    _s("cait_xxs24_224", "CaiT", 64, img_size=64),
    _s("pvt_v2_b0", "PVT", 64),
    _s("twins_svt_small", "Twins", 64),
    _s("coat_tiny", "CoaT", 64, img_size=64),
    _s("maxvit_nano_rw_256", "MaxViT", 64, img_size=64),
    _s("efficientvit_b0", "EfficientViT", 64),
    # torchvision
    _s("resnet18", "ResNet", 64, source="torchvision"),
    _s("mobilenet_v3_small", "MobileNet", 64, source="torchvision"),
    _s("efficientnet_b0", "EfficientNet", 64, source="torchvision"),
    _s("shufflenet_v2_x0_5", "ShuffleNet", 64, source="torchvision"),
    _s("squeezenet1_1", "SqueezeNet", 64, source="torchvision"),
    _s("googlenet", "Inception", 64, source="torchvision", aux_logits=False, init_weights=True),
    _s("regnet_y_400mf", "RegNet", 64, source="torchvision"),
    _s("convnext_tiny", "ConvNeXt", 64, source="torchvision"),
    _s("vit_b_16", "ViT", 64, source="torchvision", image_size=64),
    _s("swin_t", "Swin", 64, source="torchvision", ci=True),
    _s("maxvit_t", "MaxViT", 224, source="torchvision"),
]

EXPORTERS = ("torchscript", "dynamo")


@dataclass
class Result:
    """One model through one exporter."""
    model: str
    family: str
    size: int
    exporter: str
    status: str                   # pass | pass (kink) | forward mismatch | gradient mismatch | refused | error (also: vacuous) | export failed
    forward_error: float | None = None
    gradient_error: float | None = None
    torch_f32_error: float | None = None
    tolerance: float | None = None
    note: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "pass (kink)", "export failed")


def build(spec: Spec):
    """The architecture with seeded random weights and BatchNorm statistics calibrated on random images."""
    import torch
    torch.manual_seed(SEED)
    if spec.source == "timm":
        import timm
        model = timm.create_model(spec.name, pretrained=False, **spec.kwargs)
    else:
        import torchvision
        model = getattr(torchvision.models, spec.name)(weights=None, **spec.kwargs)
    # Weight matrices and kernels initialised to zero (MLP-Mixer's and ResMLP's heads) would make y ≡ 0 and the
    # check vacuous: give them small seeded random values.
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2 and not parameter.any():
                parameter.normal_(0, 0.02)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if norms:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None                 # cumulative average over the calibration batches
        model.train()
        generator = torch.Generator().manual_seed(SEED + 1)
        with torch.no_grad():
            for _ in range(4):
                model(torch.randn(8, 3, spec.size, spec.size, generator=generator))
    model.eval()
    return model


def input_batch(spec: Spec) -> np.ndarray:
    """A seeded batch of standard-normal images (what a normalised photo looks like to the network)."""
    return np.random.default_rng(SEED + 2).standard_normal((BATCH, 3, spec.size, spec.size)).astype(np.float32)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm((a.astype(np.float64) - b.astype(np.float64)).ravel()) / max(np.linalg.norm(b.ravel()), 1e-300))


def first_output(y):
    import torch
    while not isinstance(y, torch.Tensor):
        y = y[0]
    return y


def float64_gradient(model64, x: np.ndarray) -> np.ndarray:
    """PyTorch's float64 ∂Σy²/∂x (`model64` already in float64)."""
    import torch
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = first_output(model64(xt))
    (y * y).sum().backward()
    return xt.grad.numpy()


def nearby_match(model64, x: np.ndarray, g: np.ndarray, tolerance: float) -> tuple[float, float] | None:
    """(h, error) for the first random point x + h·rms(x)·v, h in ROUNDING_PROBES, at which PyTorch's float64
    gradient (`model64` in float64) is within `tolerance` of `g`; None when no probe matches. See the module doc."""
    x = x.astype(np.float64)
    rms = float(np.sqrt(np.mean(x ** 2)))
    rng = np.random.default_rng(SEED + 4)
    for h in ROUNDING_PROBES:
        for _ in range(PROBE_DIRECTIONS):
            error = relative(g, float64_gradient(model64, x + h * rms * rng.standard_normal(x.shape)))
            if error <= tolerance:
                return h, error
    return None


def torch_reference(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """y and ∂Σy²/∂x in float64, and float32's gradient for the noise floor."""
    import copy
    import torch
    out = {}
    for dtype, tag in ((torch.float64, "64"), (torch.float32, "32")):
        m = copy.deepcopy(model).to(dtype)
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        y = first_output(m(xt))
        (y * y).sum().backward()
        out["y" + tag] = y.detach().numpy()
        out["g" + tag] = xt.grad.numpy()
        if dtype == torch.float64:
            # PyTorch's own autograd against its float64 central differences: the reference must be right too.
            rng = np.random.default_rng(SEED + 3)
            worst = 0.0
            with torch.no_grad():
                loss = lambda v: float((first_output(m(torch.tensor(v, dtype=dtype))) ** 2).sum())
                for _ in range(2):
                    v = rng.standard_normal(x.shape)
                    h = 1e-7 * float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))   # tiny: few ReLU kinks crossed
                    numeric = (loss(x + h * v) - loss(x - h * v)) / (2 * h)
                    analytic = float((out["g64"] * v).sum())
                    worst = max(worst, abs(numeric - analytic) / max(abs(numeric), abs(analytic), float(np.linalg.norm(out["g64"])), 1e-300))
            out["autograd_fd"] = np.array(worst)
    return out


def export(model, x: np.ndarray, path: Path, exporter: str) -> None:
    import torch
    xt = torch.tensor(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    if exporter == "torchscript":
        torch.onnx.export(model, (xt,), str(path), dynamo=False, opset_version=17, input_names=["input"])
    else:
        program = torch.onnx.export(model, (xt,), dynamo=True, opset_version=18, optimize=True, verbose=False)
        program.save(str(path), external_data=True)


def prepare(spec: Spec, exporters, cache: Path, log=print) -> dict[str, object]:
    """Exports (cached) and the reference; returns exporter → path or an export error message."""
    folder = cache / f"{spec.label.replace('/', '_')}-{spec.size}"
    reference = folder / "reference.npz"
    paths: dict[str, object] = {}
    wanted = [e for e in exporters if not (folder / f"{e}.onnx").exists() and not (folder / f"{e}.error").exists()]
    model = None
    stale = reference.exists() and "autograd_fd" not in np.load(reference).files
    if wanted or not reference.exists() or stale:
        model = build(spec)
    if not reference.exists() or stale:
        folder.mkdir(parents=True, exist_ok=True)
        x = input_batch(spec)
        np.savez(reference, x=x, **torch_reference(model, x))
    for e in exporters:
        onnx_path, error_path = folder / f"{e}.onnx", folder / f"{e}.error"
        if e in wanted:
            log(f"  exporting {spec.label} ({e})")
            try:
                export(model, np.load(reference)["x"], onnx_path, e)
            except Exception as error:  # noqa: BLE001 - the table records why an export failed
                message = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
                error_path.write_text(message[:300])
                for leftover in folder.glob(f"{e}.onnx*"):
                    leftover.unlink()
        paths[e] = onnx_path if onnx_path.exists() else error_path.read_text()
    return paths


def default_mirage() -> str:
    for candidate in (os.environ.get("MIRAGE_BIN"), ROOT / ".build/release/mirage", ROOT / ".build/debug/mirage"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit("no mirage binary: run `swift build` or pass --mirage")


def run_mirage(mirage: str, model: Path, x: np.ndarray, timeout: float = 900) -> tuple[np.ndarray, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/x.npy", x)
        r = subprocess.run([mirage, "model", "run", str(model), "--input", f"{tmp}/x.npy", "--out", f"{tmp}/y.npy",
                            "--grad", f"{tmp}/g.npy"], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError((r.stderr.strip() or r.stdout.strip() or f"exit status {r.returncode}").splitlines()[-1])
        return np.load(f"{tmp}/y.npy"), np.load(f"{tmp}/g.npy")


def check(spec: Spec, exporter: str, path, reference: Path, mirage: str) -> Result:
    result = Result(spec.label, spec.family, spec.size, exporter, "error")
    if not isinstance(path, Path):
        result.status, result.note = "export failed", str(path)
        return result
    ref = np.load(reference)
    result.torch_f32_error = relative(ref["g32"], ref["g64"])
    result.tolerance = max(GRADIENT_TOLERANCE, NOISE_FACTOR * result.torch_f32_error)
    started = time.monotonic()
    try:
        y, g = run_mirage(mirage, path, ref["x"])
    except Exception as error:  # noqa: BLE001
        text = str(error)
        result.status = "refused" if "unsupported" in text or "not supported" in text else "error"
        result.note = text[:300]
        return result
    finally:
        result.seconds = time.monotonic() - started
    if y.shape != ref["y64"].shape or g.shape != ref["x"].shape:
        result.note = f"shape {list(y.shape)} vs {list(ref['y64'].shape)}"
        return result
    if "autograd_fd" in ref.files and float(ref["autograd_fd"]) > 1e-3:
        result.note = f"PyTorch's float64 autograd disagrees with its own central differences by {float(ref['autograd_fd']):.1e}"
    if not np.any(ref["g64"]):
        result.status, result.note = "error", "vacuous: PyTorch's gradient is exactly 0"
        return result
    result.forward_error = relative(y, ref["y64"])
    result.gradient_error = relative(g, ref["g64"])
    if not result.forward_error <= FORWARD_TOLERANCE:
        result.status = "forward mismatch"
    elif not result.gradient_error <= result.tolerance:
        result.status = "gradient mismatch"
        match = nearby_match(build(spec).double(), ref["x"], g, result.tolerance)
        if match:
            result.status = "pass (kink)"
            result.note = (f"the batch is within float32 rounding of a kink: the gradient is float64's at x + {match[0]:.0e}·rms(x)·v "
                           f"to {match[1]:.1e}" + (f"; {result.note}" if result.note else ""))
    else:
        result.status = "pass"
    return result


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.1e}"


def table(results: list[Result]) -> str:
    lines = ["| model | family | input | exporter | status | forward err | gradient err | PyTorch f32 gradient err | tolerance | note |",
             "|---|---|---:|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        note = r.note.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.model} | {r.family} | {r.size}² | {r.exporter} | {r.status} | {fmt(r.forward_error)} | "
                     f"{fmt(r.gradient_error)} | {fmt(r.torch_f32_error)} | {fmt(r.tolerance)} | {note} |")
    return "\n".join(lines)


def write_docs(path: Path, results: list[Result], command: str) -> None:
    begin, end = "<!-- zoo table begin -->", "<!-- zoo table end -->"
    passed = sum(r.status in ("pass", "pass (kink)") for r in results)
    exported = sum(r.status != "export failed" for r in results)
    body = (f"{begin}\n\nGenerated by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())}: "
            f"{passed} of {exported} exports that exist load and match ({len(results)} model × exporter pairs run).\n\n"
            f"{table(results)}\n\n{end}")
    text = path.read_text() if path.exists() else f"# Model zoo\n\n{begin}\n{end}\n"
    if begin in text and end in text:
        text = text[:text.index(begin)] + body + text[text.index(end) + len(end):]
    else:
        text += "\n" + body + "\n"
    path.write_text(text)


def selected(filters: list[str], ci: bool) -> list[Spec]:
    specs = [s for s in ZOO if (not ci or s.ci)]
    if filters:
        specs = [s for s in specs if any(re.search(f, s.label) for f in filters)]
    return specs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("filters", nargs="*", help="regular expressions selecting models by name")
    parser.add_argument("--exporters", nargs="+", choices=EXPORTERS, default=list(EXPORTERS))
    parser.add_argument("--mirage", help="the mirage binary (default: $MIRAGE_BIN, .build/release, .build/debug)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".zoo-cache")
    parser.add_argument("--docs", type=Path, help="rewrite the table in this markdown file (docs/model-zoo.md)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--ci", action="store_true", help="only the fast subset CI runs")
    parser.add_argument("--list", action="store_true", help="list the selected models and exit")
    args = parser.parse_args()
    specs = selected(args.filters, args.ci)
    if args.list:
        for s in specs:
            print(f"{s.label:36s} {s.family:16s} {s.size}²{'  ci' if s.ci else ''}")
        return 0
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    mirage = args.mirage or default_mirage()
    results: list[Result] = []
    for spec in specs:
        print(f"{spec.label} ({spec.family}, {spec.size}²)", flush=True)
        try:
            paths = prepare(spec, args.exporters, args.cache)
        except Exception as error:  # noqa: BLE001 - a model timm cannot build is recorded, not fatal
            traceback.print_exc()
            for e in args.exporters:
                results.append(Result(spec.label, spec.family, spec.size, e, "export failed", note=f"build: {type(error).__name__}: {error}"[:300]))
            continue
        reference = args.cache / f"{spec.label.replace('/', '_')}-{spec.size}" / "reference.npz"
        for e in args.exporters:
            r = check(spec, e, paths[e], reference, mirage)
            results.append(r)
            (reference.parent / f"{e}.result.json").write_text(json.dumps(asdict(r)))
            print(f"  {e:11s} {r.status:17s} forward {fmt(r.forward_error)}  gradient {fmt(r.gradient_error)}  "
                  f"(PyTorch f32 {fmt(r.torch_f32_error)}, tolerance {fmt(r.tolerance)})  {r.seconds:.1f}s  {r.note}", flush=True)
    failures = [r for r in results if not r.ok]
    print(f"\n{sum(r.status in ('pass', 'pass (kink)') for r in results)} pass, {len(failures)} fail, "
          f"{sum(r.status == 'export failed' for r in results)} export failed")
    if args.docs:
        # The table holds the latest result of every model and exporter in the cache, not only this run's.
        everything = []
        for spec in ZOO:
            for e in EXPORTERS:
                stored = args.cache / f"{spec.label.replace('/', '_')}-{spec.size}" / f"{e}.result.json"
                if stored.exists():
                    everything.append(Result(**json.loads(stored.read_text())))
        write_docs(args.docs, everything, "python scripts/engine/zoo_check.py --docs docs/model-zoo.md [FILTER ...]")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
