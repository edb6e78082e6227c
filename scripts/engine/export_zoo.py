#!/usr/bin/env python3
"""Exports the benchmark zoo of scripts/engine/bench_zoo.sh to ONNX: torchvision architectures with
random weights seeded as scripts/model/export_torchvision.py builds them, with BatchNorm statistics
calibrated on CALIBRATE batches of synthetic pictures (PyTorch's initial statistics let a random
EfficientNet's activations shrink to ~1e-13, where denormal arithmetic would distort the timings;
the PyTorch peer rebuilds the very same weights), dynamic batch, output `features`, opset 20 (its Gelu operator: at 18 the exporter spells
GELU out as Div, Erf, Add, Mul, Mul). Files go to .zoo/ARCH.onnx (git-ignored); existing
files are kept unless --force.

Usage: python scripts/engine/export_zoo.py [--force] [ARCH …]   (default: the whole zoo)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "model"))

import torch  # noqa: E402

from common import SEED, seed_everything  # noqa: E402
from export_torchvision import ClassifierEncoder, calibrate_batchnorm, export  # noqa: E402

ZOO = ["resnet18", "resnet50", "densenet121", "mobilenet_v3_large", "efficientnet_b0",
       "convnext_tiny", "vit_b_16", "swin_t"]
ZOO_DIR = REPO / ".zoo"
CALIBRATE = 2  # batches of 16 synthetic pictures for the BatchNorm statistics (and the head)


def zoo_model(arch: str) -> ClassifierEncoder:
    """The benchmark's network for `arch`: seeded random weights, BatchNorm statistics calibrated
    (export_torchvision.build without its head re-centring, which `features` does not read and
    which divides by zero on ViT's zero-initialised head)."""
    import torchvision

    torch.manual_seed(SEED)
    net = torchvision.models.get_model(arch, weights=None)
    calibrate_batchnorm(net, CALIBRATE, 16, SEED)
    model = ClassifierEncoder(net).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("arch", nargs="*", default=ZOO)
    ap.add_argument("--force", action="store_true", help="re-export files that exist")
    args = ap.parse_args()
    ZOO_DIR.mkdir(exist_ok=True)
    for arch in args.arch:
        out = ZOO_DIR / f"{arch}.onnx"
        if out.exists() and not args.force:
            print(f"{out} exists")
            continue
        seed_everything(SEED, threads=2)
        with torch.no_grad():
            export(zoo_model(arch), out, opset=20)
        print(f"{out}  {out.stat().st_size >> 20} MB")


if __name__ == "__main__":
    main()
