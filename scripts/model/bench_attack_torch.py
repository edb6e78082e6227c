#!/usr/bin/env python3
"""PyTorch reference timing of one step of the OOD attack (paper README, "The algorithm", L2):
forward x → features, loss = Σ(f(x) − z_in)², ∂loss/∂x (parameters frozen: requires_grad False,
no weight gradients), per-sample L2 normalisation of the gradient, torch.optim.Adamax step on δ,
per-sample projection onto the L2 ε-ball, x = clamp(x′ + δ, 0, 1), δ = x − x′.

Eager PyTorch, float32, CPU, 2 intra-op threads (--threads), NCHW. Models:
  resnet18  torchvision resnet18, random weights seeded as export_resnet18.py (same seed → same
            weights), features = 512-d pooled activations; x_in and x′ uniform noise, 3×224×224
  mnist     the bundled Examples/models/mnist_cnn.onnx weights in common.MnistCNN,
            features = 128-d; x_in = the test digits, x′ = Examples/data/ood/china_28.png
  glow      train_glow.Glow with the weights train_glow.py saved in /tmp/glow_mnist.pt (the ones it
            exported to Examples/models/glow_mnist.onnx; seeded random weights if the file is missing,
            which cost the same), log-determinant constants folded as in the export, f = bits/dim;
            x_in and x′ as for mnist
Prints the median (and min, mean) wall time per step over --steps steps after --warmup steps,
the median process CPU time per step (all threads; less sensitive to other load on the machine),
the 1-minute load average before/after, and the process's peak RSS
(resource.getrusage(RUSAGE_SELF).ru_maxrss).

On a machine whose cores are busy with other work (1-minute load above the core count), PyTorch's
OpenMP threads wait on each other at every parallel region and the 2-thread median can be several
times the idle figure; the minimum and the CPU time per step then tell more (compare --threads 1).

Usage:  python scripts/model/bench_attack_torch.py --model {resnet18,mnist} --batch B --steps N
        [--warmup W] [--threads 2] [--eps E] [--lr A] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402

from common import (DATA_DIR, MNIST_ONNX, SEED, OODAttack, ResNet18Encoder,  # noqa: E402
                    load_mnist_from_onnx)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def setup(model: str, batch: int):
    g = torch.Generator().manual_seed(SEED)
    if model == "resnet18":
        net = ResNet18Encoder(SEED).eval()
        for p in net.parameters():
            p.requires_grad_(False)
        x_in = torch.rand(batch, 3, 224, 224, generator=g)
        x_start = torch.rand(batch, 3, 224, 224, generator=g)
        return net.features, x_in, x_start, 10.0, 0.1
    if model == "mnist":
        from PIL import Image

        net = load_mnist_from_onnx(MNIST_ONNX)
        digits = torch.from_numpy(np.load(DATA_DIR / "mnist" / "test_images.npy"))
        x_in = digits[torch.arange(batch) % len(digits)].clone()
        start = np.asarray(Image.open(DATA_DIR / "ood" / "china_28.png"), dtype=np.float32) / 255.0
        x_start = torch.from_numpy(start).view(1, 1, 28, 28).repeat(batch, 1, 1, 1)
        return net.features, x_in, x_start, 3.0, 0.01
    if model == "glow":
        from PIL import Image

        from train_glow import Glow, load_glow

        weights = Path("/tmp/glow_mnist.pt")
        if weights.exists():
            net = load_glow(weights)
        else:
            print(f"note: {weights} missing (run scripts/model/train_glow.py); seeded random weights", file=sys.stderr)
            net = Glow().eval()
            net.fold()
            for p in net.parameters():
                p.requires_grad_(False)
        digits = torch.from_numpy(np.load(DATA_DIR / "mnist" / "test_images.npy"))
        x_in = digits[torch.arange(batch) % len(digits)].clone()
        start = np.asarray(Image.open(DATA_DIR / "ood" / "china_28.png"), dtype=np.float32) / 255.0
        x_start = torch.from_numpy(start).view(1, 1, 28, 28).repeat(batch, 1, 1, 1)
        return net, x_in, x_start, 3.0, 0.01
    raise ValueError(model)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", choices=["resnet18", "mnist", "glow"], required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eps", type=float, help="L2 budget (default resnet18 10, mnist 3)")
    ap.add_argument("--lr", type=float, help="Adamax learning rate (default resnet18 0.1, mnist 0.01)")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = ap.parse_args()

    rss_import = rss_mib()  # torch (PyPI's Linux wheel maps its CUDA libraries) is imported
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(SEED)
    encoder, x_in, x_start, eps, lr = setup(args.model, args.batch)
    eps = args.eps if args.eps is not None else eps
    lr = args.lr if args.lr is not None else lr
    rss_setup = rss_mib()

    attack = OODAttack(encoder, x_in, x_start, eps=eps, lr=lr, init="zero")
    for _ in range(args.warmup):
        attack.step()
    times, cpu, losses = [], [], []
    load_before = os.getloadavg()[0]
    for _ in range(args.steps):
        t, c = time.perf_counter(), time.process_time()
        losses.append(attack.step())
        times.append((time.perf_counter() - t) * 1000.0)
        cpu.append((time.process_time() - c) * 1000.0)
    load_after = os.getloadavg()[0]
    med = statistics.median(times)
    res = {
        "model": args.model, "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "ms_per_step_median": round(med, 3), "ms_per_step_min": round(min(times), 3),
        "ms_per_step_mean": round(statistics.fmean(times), 3),
        "ms_per_sample_median": round(med / args.batch, 3),
        "cpu_ms_per_step_median": round(statistics.median(cpu), 3),
        "loadavg_1min": [round(load_before, 2), round(load_after, 2)], "cores": os.cpu_count(),
        "peak_rss_mib": round(rss_mib(), 1), "rss_after_setup_mib": round(rss_setup, 1),
        "rss_after_import_torch_mib": round(rss_import, 1),
        "eps": eps, "lr": lr, "loss_first": losses[0], "loss_last": losses[-1],
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(f"{args.model} batch {args.batch}: {med:.2f} ms/step median "
              f"(min {min(times):.2f}, mean {res['ms_per_step_mean']:.2f}) over {args.steps} steps "
              f"after {args.warmup} warm-up, {res['threads']} threads, torch {torch.__version__}; "
              f"CPU {res['cpu_ms_per_step_median']:.2f} ms/step; load {load_before:.1f}/{load_after:.1f} "
              f"on {os.cpu_count()} cores; "
              f"peak RSS {res['peak_rss_mib']:.0f} MiB (after import torch {rss_import:.0f}, "
              f"after set-up {rss_setup:.0f} MiB); "
              f"loss {losses[0]:.4g} → {losses[-1]:.4g}")


if __name__ == "__main__":
    main()
