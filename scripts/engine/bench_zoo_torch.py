#!/usr/bin/env python3
"""PyTorch peer of scripts/engine/bench_zoo.sh: one attack step (common.OODAttack: forward to
`features`, Σ(f(x) − z)², gradient to the input, per-sample L2 normalisation, Adamax, projection,
ε = 10, lr 0.1) on a torchvision architecture with the weights export_zoo.py exported (same seed),
eager float32 on the CPU with 2 threads. x_in and x′ are seeded uniform noise.
Prints one line: median ms per step and peak RSS, plus the RSS right after `import torch`.

Usage: python scripts/engine/bench_zoo_torch.py ARCH --batch B --steps N [--warmup W] [--threads T]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "model"))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("arch")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    rss_import = rss_mib()
    from common import SEED, OODAttack
    sys.path.insert(0, str(REPO / "scripts" / "engine"))
    from export_zoo import zoo_model
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = zoo_model(args.arch)
    g = torch.Generator().manual_seed(SEED)
    x_in = torch.rand(args.batch, 3, 224, 224, generator=g)
    x_start = torch.rand(args.batch, 3, 224, 224, generator=g)
    attack = OODAttack(lambda x: model(x)[0], x_in, x_start, eps=10.0, lr=0.1, init="zero")
    for _ in range(args.warmup):
        attack.step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        attack.step()
        times.append((time.perf_counter() - t) * 1000.0)
    print(f"{args.arch} batch {args.batch}: median {statistics.median(times):.2f} ms/step "
          f"(min {min(times):.2f}) over {args.steps} steps; peak RSS {rss_mib():.0f} MiB "
          f"(import torch {rss_import:.0f} MiB); load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
