#!/usr/bin/env python3
"""Exports a torchvision classifier to ONNX as an encoder Mirage can attack: input `input` float32
[batch,3,224,224] (ImageNet-normalised pixels, as torchvision models expect; Mirage's
`load(path, mean="imagenet")` does the normalisation), outputs `features` (the pooled vector the
final Linear reads) and `logits` (that Linear's output), dynamic batch, opset 18 (the exporter's
own: onnx has no down-converter for Split-18, which ShuffleNet uses), eval mode, tensors named after
the torchvision modules. The result is checked against PyTorch with onnxruntime.

Weights: by default random and seeded (no download: the repository must build offline), with the
BatchNorm running statistics re-estimated on seeded synthetic pictures so every layer's activations
are standardised, and the head re-centred so pictures get different classes, as in a trained
network (see --calibrate and Examples/models/README.md). With internet access,
`--weights DEFAULT` exports torchvision's pretrained ImageNet weights instead (downloaded into
torch's cache on first use; no calibration).

Usage:
    python scripts/model/export_torchvision.py                        # → Examples/models/shufflenet_v2_x0_5.onnx
    python scripts/model/export_torchvision.py --arch resnet18 OUT.onnx
    python scripts/model/export_torchvision.py --weights DEFAULT OUT.onnx

Any torchvision classifier whose last module is a Linear works (resnet*, shufflenet*, mobilenet*,
mnasnet*, efficientnet*, regnet*, …): that Linear is split off, so `features` is its input.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import REPO, SEED, check_against_onnxruntime, seed_everything  # noqa: E402

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ClassifierEncoder(nn.Module):
    """A torchvision classifier returning (features, logits): its last nn.Linear is taken out and
    replaced by Identity, so the network's own forward (pooling, flatten, dropout = identity in
    eval mode) ends at the Linear's input."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        name, last = None, None
        for n, m in net.named_modules():
            if isinstance(m, nn.Linear):
                name, last = n, m
        if last is None:
            raise SystemExit(f"{type(net).__name__} has no nn.Linear: pick a classifier that ends in one")
        parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
        setattr(parent, name.rpartition(".")[2], nn.Identity())
        self.net, self.head, self.head_name = net, last, name

    def forward(self, x: torch.Tensor):
        f = torch.flatten(self.net(x), 1)
        return f, self.head(f)


def synthetic_pictures(n: int, seed: int) -> torch.Tensor:
    """n seeded [3,224,224] pictures in [0,1] with photo-like structure at several scales: sums of
    bilinearly upsampled uniform noise from 4×4 to 112×112, per-picture contrast and brightness."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, 224, 224)
    for size, weight in ((4, 1.0), (14, 0.6), (56, 0.35), (112, 0.2)):
        coarse = torch.rand(n, 3, size, size, generator=g) - 0.5
        x += weight * F.interpolate(coarse, size=(224, 224), mode="bilinear", align_corners=False)
    contrast = 0.5 + torch.rand(n, 1, 1, 1, generator=g)
    bright = 0.3 + 0.4 * torch.rand(n, 1, 1, 1, generator=g)
    return (bright + contrast * x).clamp(0, 1)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def calibrate_batchnorm(net: nn.Module, batches: int, batch_size: int, seed: int) -> None:
    """Re-estimates every BatchNorm's running mean and variance (cumulative average, no parameter
    changes) from seeded synthetic pictures. At initialisation they are 0 and 1, which with
    PyTorch's default convolution initialisation lets the activations shrink layer after layer
    (a random ShuffleNet's logits are ~0.03); afterwards each channel is standardised."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all calibration batches
    net.train()
    for b in range(batches):
        net(normalise(synthetic_pictures(batch_size, seed + 1 + b)))
    net.eval()


def export(model: ClassifierEncoder, out: Path, opset: int = 18) -> None:
    """torch.onnx.export (dynamo, optimised) like common.export_onnx, plus readable tensor names:
    the exporter names tensors after aten ops (`relu_36`, `getitem_191`); here the last tensor each
    torchvision module down to three levels computes is renamed after that module (`conv1`,
    `stage2.0.branch1`, `stage2.0`, `stage3`, `conv5`, …: the shallowest module wins when a tensor
    ends several), using the name scopes the exporter records in each node's metadata. Deeper
    tensors keep the exporter's names (short enough for the tables Mirage prints). Graph inputs and outputs keep their names. Then the
    metadata (stack traces with local paths) and doc strings are dropped so the bytes do not depend
    on where the script and the venv live. Opset 18 is the exporter's own: onnx's version
    converter has no adapter from Split-18 down to 17."""
    import ast

    import onnx

    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    prog = torch.onnx.export(
        model, (torch.zeros(2, 3, 224, 224),), dynamo=True, opset_version=opset,
        input_names=["input"], output_names=["features", "logits"], dynamic_shapes=({0: batch},),
        external_data=False, optimize=True, verbose=False)
    proto = prog.model_proto
    graph = proto.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    last: dict[str, str] = {}  # module path (without the wrapper's `net.`) → its last tensor
    depth: dict[str, int] = {}
    for node in graph.node:
        scopes = next((ast.literal_eval(p.value) for p in node.metadata_props
                       if p.key == "pkg.torch.onnx.name_scopes"), [])
        for scope in scopes:
            if scope.startswith("net.") and scope.count(".") <= 3:  # down to `stage2.0.branch1`
                last[scope[4:]] = node.output[0]
                depth[scope[4:]] = scope.count(".")
    names = keep | {t for n in graph.node for t in n.output} | {t.name for t in graph.initializer}
    rename: dict[str, str] = {}
    for module in sorted(last, key=lambda m: -depth[m]):  # deepest first: shallower names overwrite
        # a module called like an existing tensor (MobileNet's `features` module) keeps the
        # exporter's name for its tensor
        if last[module] not in keep and module not in names:
            rename[last[module]] = module
    for node in graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
        del node.metadata_props[:]
        node.doc_string = ""
    for info in graph.value_info:
        info.name = rename.get(info.name, info.name)
    del proto.metadata_props[:]
    graph.doc_string = ""
    proto.doc_string = ""
    onnx.checker.check_model(proto, full_check=True)
    out.write_bytes(proto.SerializeToString())


@torch.no_grad()
def calibrate_head(model: ClassifierEncoder, pictures: int, seed: int, spread: float = 2.0) -> None:
    """Re-centres and scales a random head: b = −W·μ and W scaled so the logits have standard
    deviation `spread` over seeded synthetic pictures (μ: their mean feature vector). Random
    features share a large common part (every ReLU output is positive), so an untouched random
    head gives every picture the same class with max softmax ≈ 1/1000; after this, different
    pictures get different classes and confidences, as with a trained classifier."""
    feats = torch.flatten(model.net(normalise(synthetic_pictures(pictures, seed + 500))), 1)
    mu = feats.mean(0)
    w = model.head.weight
    w.mul_(spread / float(((feats - mu) @ w.T).std()))
    model.head.bias.copy_(-(w @ mu))


def build(arch: str, weights: str | None, seed: int, calibrate: int) -> ClassifierEncoder:
    import torchvision

    torch.manual_seed(seed)
    net = torchvision.models.get_model(arch, weights=weights)
    if weights is None and calibrate > 0:
        calibrate_batchnorm(net, calibrate, 16, seed)
    model = ClassifierEncoder(net).eval()
    if weights is None and calibrate > 0:
        calibrate_head(model, 64, seed)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path, nargs="?", help="default: Examples/models/ARCH.onnx")
    ap.add_argument("--arch", default="shufflenet_v2_x0_5", help="a torchvision.models name")
    ap.add_argument("--weights", default=None,
                    help="torchvision weights name, e.g. DEFAULT (downloads); default: random, seeded")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--calibrate", type=int, default=8, metavar="BATCHES",
                    help="batches of 16 synthetic pictures for the BatchNorm statistics of random "
                         "weights, then 64 more to re-centre the head (0: neither; PyTorch's "
                         "initial statistics and head)")
    ap.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    args = ap.parse_args()
    out = args.out or REPO / "Examples" / "models" / f"{args.arch}.onnx"

    seed_everything(args.seed, threads=2)
    model = build(args.arch, args.weights, args.seed, args.calibrate)
    out.parent.mkdir(parents=True, exist_ok=True)
    export(model, out)

    import onnx

    proto = onnx.load(str(out))
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["features", "logits"]
    ops = sorted({n.op_type for n in proto.graph.node})
    params = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}  {out.stat().st_size} bytes  sha256 {sha}")
    print(f"{len(proto.graph.node)} nodes, {params} stored numbers, head `{model.head_name}` "
          f"{model.head.in_features}→{model.head.out_features}")
    print(f"ops {ops}  opset {[(o.domain or 'ai.onnx', o.version) for o in proto.opset_import]}")

    if not args.no_verify:
        f_pt, l_pt = check_against_onnxruntime(out, model, normalise(synthetic_pictures(3, args.seed + 1000)))
        print(f"features: mean {f_pt.mean():.3f}, max {f_pt.abs().max():.3f}; logits: std {l_pt.std():.3f}, "
              f"max softmax {torch.softmax(l_pt, 1).amax(1).numpy().round(4).tolist()}")

if __name__ == "__main__":
    main()
