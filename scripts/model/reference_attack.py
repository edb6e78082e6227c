#!/usr/bin/env python3
"""Reference OOD attack on the bundled MNIST encoder, for checking Mirage's attack step by step.

The weights are read from Examples/models/mnist_cnn.onnx into common.MnistCNN (the ONNX file is
the only committed copy). Encoder f = the graph output `features` (128-d, after ReLU).
Loop (paper README, "The algorithm", L2; common.OODAttack):
  z_in = f(x_in);  δ = 0 (zero init);  x = clamp(x′ + δ, 0, 1)
  repeat --steps times:
     loss = Σ (f(x) − z_in)²             (sum over features and batch)
     g = ∂loss/∂x;  g ← g / max(‖g‖₂, 1e-12) per sample
     torch.optim.Adamax([δ], lr, betas=(0.9, 0.999), eps=1e-8) step with gradient g
     δ ← δ · min(1, ε/‖δ‖₂) per sample;  x = clamp(x′ + δ, 0, 1);  δ = x − x′
Defaults: x_in = Examples/data/mnist/7.png and 2.png, x′ = Examples/data/ood/china_28.png and
flower_28.png (a batch of 2: sample i pairs in[i] with start[i]), ε = 10, α = 0.03, 50 steps,
float32, 1 thread, deterministic algorithms, seed 20200917 (used only by --init uniform).

Output JSON (to the path given): settings, "loss" = the loss at each of the --steps iterates the
gradient was taken at (loss[0] at x = clamp(x′), before any update), "loss_per_sample" (the same
split by sample), "final_loss" (after the last update), "final_mape" per sample, and the final
x's per-sample sum and L2 norm of δ. PNG files are read as 8-bit grey, pixel / 255.

Options beyond the default loop (used by scripts/attack/compare_reference.py):
  --in-npy / --start-npy  [B,1,28,28] float32 arrays instead of the PNG lists
  --norm Linf             the L∞ variant: g ← sign(g), δ ← clamp(δ, −ε, ε) (then the same clamp to [0, 1])
  --normalise divide      g / max(‖g‖₂, 1e-12) as common.OODAttack writes it; the default `reciprocal` is
                          g · (1 / max(‖g‖₂, 1e-12)), the authors' normalize_grad_ (g *= 1/norm) and Mirage's
                          (the two differ by one rounding per element)

Usage:  python scripts/model/reference_attack.py OUT.json [--in A.png,B.png] [--start C.png,D.png]
        [--in-npy A.npy --start-npy B.npy] [--norm L2|Linf] [--normalise reciprocal|divide]
        [--eps 10] [--lr 0.03] [--steps 50] [--init zero|uniform] [--dtype float32|float64]
        [--save-x X.npy]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402

from common import DATA_DIR, MNIST_ONNX, REPO, SEED, OODAttack, load_mnist_from_onnx, seed_everything  # noqa: E402,E501


class ReferenceAttack(OODAttack):
    """common.OODAttack with the norm and the form of the L2 normalisation selectable (see the docstring)."""

    def __init__(self, *args, norm: str = "L2", normalise: str = "reciprocal", **kwargs) -> None:
        self.norm, self.normalise = norm, normalise
        super().__init__(*args, **kwargs)

    def _project_and_clamp(self) -> None:
        if self.norm == "L2":
            return super()._project_and_clamp()
        self.delta.clamp_(-self.eps, self.eps)
        self.x = (self.x0 + self.delta).clamp_(0.0, 1.0)
        self.delta.copy_(self.x - self.x0)

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        if self.norm == "Linf":
            return g.sign()
        if self.normalise == "reciprocal":
            return g * (1.0 / self._per_sample_norm(g).clamp_min(1e-12))
        return super()._direction(g)


def load_grey(path: Path) -> torch.Tensor:
    from PIL import Image

    img = Image.open(path)
    if img.mode != "L":
        img = img.convert("L")
    arr = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    return torch.from_numpy(arr).view(1, 1, *arr.shape)


def rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path, help="JSON file to write")
    ap.add_argument("--model", type=Path, default=MNIST_ONNX)
    ap.add_argument("--in", dest="x_in", default=f"{DATA_DIR}/mnist/7.png,{DATA_DIR}/mnist/2.png")
    ap.add_argument("--start", default=f"{DATA_DIR}/ood/china_28.png,{DATA_DIR}/ood/flower_28.png")
    ap.add_argument("--in-npy", type=Path, help="in-distribution batch [B,1,28,28] (.npy), replaces --in")
    ap.add_argument("--start-npy", type=Path, help="OOD start batch [B,1,28,28] (.npy), replaces --start")
    ap.add_argument("--norm", choices=["L2", "Linf"], default="L2")
    ap.add_argument("--normalise", choices=["reciprocal", "divide"], default="reciprocal")
    ap.add_argument("--eps", type=float, default=10.0)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--init", choices=["zero", "uniform"], default="zero")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--save-x", type=Path, help="also save the final x as .npy")
    args = ap.parse_args()

    seed_everything(args.seed, threads=1)
    dtype = getattr(torch, args.dtype)
    ins = [args.in_npy] if args.in_npy else [Path(p) for p in args.x_in.split(",")]
    starts = [args.start_npy] if args.start_npy else [Path(p) for p in args.start.split(",")]
    model = load_mnist_from_onnx(args.model).to(dtype)
    if args.in_npy:
        x_in = torch.from_numpy(np.load(args.in_npy).astype(np.float32)).to(dtype)
    else:
        x_in = torch.cat([load_grey(p) for p in ins]).to(dtype)
    if args.start_npy:
        x_start = torch.from_numpy(np.load(args.start_npy).astype(np.float32)).to(dtype)
    else:
        x_start = torch.cat([load_grey(p) for p in starts]).to(dtype)
    if x_in.shape != x_start.shape:
        sys.exit(f"in-distribution batch {tuple(x_in.shape)} and start batch {tuple(x_start.shape)} differ")

    attack = ReferenceAttack(model.features, x_in, x_start, eps=args.eps, lr=args.lr,
                             init=args.init, seed=args.seed, norm=args.norm, normalise=args.normalise)

    def per_sample_loss() -> list[float]:
        with torch.no_grad():
            return ((model.features(attack.x) - attack.z_in) ** 2).flatten(1).sum(1).tolist()

    losses, per_sample = [], []
    for _ in range(args.steps):
        per_sample.append(per_sample_loss())
        losses.append(attack.step())
    delta = attack.x - attack.x0
    result = {
        "description": "OOD attack reference (Adamax) on the bundled MNIST encoder's features",
        "model": rel(args.model),
        "model_sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
        "encoder_output": "features",
        "x_in": [rel(p) for p in ins], "x_start": [rel(p) for p in starts],
        "norm": args.norm, "eps": args.eps, "lr": args.lr, "steps": args.steps, "init": args.init,
        "seed": args.seed, "adamax": {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0},
        "grad_normalisation": ("sign(g)" if args.norm == "Linf" else
                               "per-sample g * (1 / max(||g||_2, 1e-12))" if args.normalise == "reciprocal" else
                               "per-sample g / max(||g||_2, 1e-12)"),
        "loss_definition": "sum over batch and features of (f(x) - z_in)^2",
        "loss_index": "loss[k] is at the iterate after k updates (loss[0]: x = clamp(x_start))",
        "dtype": args.dtype, "threads": 1, "torch": torch.__version__,
        "loss": losses, "loss_per_sample": per_sample,
        "final_loss": attack.loss(), "final_loss_per_sample": per_sample_loss(),
        "final_mape": attack.mape().tolist(),
        "final_x_sum": attack.x.flatten(1).sum(1).tolist(),
        "final_delta_l2": delta.flatten(1).norm(dim=1).tolist(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.save_x:
        np.save(args.save_x, attack.x.detach().to(torch.float32).numpy())
    print(f"loss {losses[0]:.6g} → {losses[-1]:.6g} (final {result['final_loss']:.6g}) over "
          f"{args.steps} steps; MAPE {['%.4f' % m for m in result['final_mape']]}; "
          f"‖δ‖₂ {['%.3f' % d for d in result['final_delta_l2']]} → {args.out}")


if __name__ == "__main__":
    main()
