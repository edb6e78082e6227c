#!/usr/bin/env python3
"""Exports torchvision's ResNet-18 with random, seeded weights (no weight download) to ONNX for
Mirage's engine benchmarks. The file is ~45 MB: write it where the caller says, never into the tree.

Graph: input `input` float32 [batch,3,224,224]; outputs `features` [batch,512] (global average
pool, flattened, i.e. what the final Linear reads) and `logits` [batch,1000]. Opset 17, eval mode
(BatchNorm uses its running statistics: mean 0, var 1 at initialisation).

Usage:  python scripts/model/export_resnet18.py OUT.onnx [--seed N]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402

from common import SEED, ResNet18Encoder, check_against_onnxruntime, export_onnx, seed_everything  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    args = ap.parse_args()

    seed_everything(args.seed, threads=2)
    model = ResNet18Encoder(args.seed).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, torch.zeros(2, 3, 224, 224), args.out)

    import onnx

    proto = onnx.load(str(args.out))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["features", "logits"]
    ops = sorted({n.op_type for n in proto.graph.node})
    sha = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.out}  {args.out.stat().st_size} bytes  sha256 {sha}")
    print(f"ops {ops}  opset {[(o.domain or 'ai.onnx', o.version) for o in proto.opset_import]}")

    if not args.no_verify:
        x = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(args.seed))
        check_against_onnxruntime(args.out, model, x)

if __name__ == "__main__":
    main()
