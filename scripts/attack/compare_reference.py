#!/usr/bin/env python3
"""Mirage's attack loop vs the PyTorch reference (scripts/model/reference_attack.py) on the bundled MNIST
encoder's `features`, step by step. A dev script, not CI.

For each case: the same inputs (.npy, written once here), the same ONNX weights, zero δ₀, the same norm, ε, lr and
step count. The reference runs in PyTorch (float32, 1 thread); Mirage runs the `ReferenceCurveTests` test with
MIRAGE_REFERENCE_CASE set (debug build unless --release). Per step t (loss at the iterate step t started from):
  total      rel_t = |Σ_i L_mirage,t,i − Σ_i L_torch,t,i| / Σ_i L_torch,t,i
  per sample rel_t,i = |L_mirage,t,i − L_torch,t,i| / L_torch,t,i
Prints, per case, the largest relative differences over step ranges, the first step whose total (and whose worst
sample) exceeds 1e-3, and writes everything to OUT.json. With --baselines the same figures are also computed for
two PyTorch-only variants against the float32 reference — float64, and float32 with g / ‖g‖ instead of
g · (1/‖g‖) (one rounding per element) — which show how fast the loop itself amplifies rounding differences.

Inputs: x_in = test digits (indices 1, 3, 5, … of Examples/data/mnist/test_images.npy, one per class);
starts = uniform noise (numpy default_rng(20200917)) or spirals (the picture of Imaging's `spiral`, drawn here in
numpy with numpy draws for the turns, phase, direction and centre).

Usage: .venv/bin/python scripts/attack/compare_reference.py OUT.json [--batch 4] [--steps 200]
       [--cases l2-noise,l2-spiral,linf-noise,linf-spiral] [--baselines] [--release] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable

# name → (norm, eps, lr, start kind)
CASES = {
    "l2-noise": ("L2", 10.0, 0.1, "noise"),
    "l2-spiral": ("L2", 10.0, 0.1, "spiral"),
    "l2-noise-lr0.01": ("L2", 10.0, 0.01, "noise"),
    "linf-noise": ("Linf", 0.3, 0.01, "noise"),
    "linf-spiral": ("Linf", 0.3, 0.01, "spiral"),
}


def spiral(rng: np.random.Generator, h: int = 28, w: int = 28) -> np.ndarray:
    """Imaging.Generators.spiral's picture (one channel), with numpy's draws."""
    turns = 2 + 2.5 * rng.random()
    phase = 2 * math.pi * rng.random()
    direction = 1.0 if rng.random() < 0.5 else -1.0
    short = min(h, w)
    cx = (w - 1) / 2 + (rng.random() - 0.5) * 0.1 * w
    cy = (h - 1) / 2 + (rng.random() - 0.5) * 0.1 * h
    theta_max, theta_min = turns * 2 * math.pi, 0.25 * 2 * math.pi
    b = 0.45 * short / theta_max
    half = min(max(0.6, short / 28), 0.3 * 2 * math.pi * b)

    def point(t: float) -> tuple[float, float]:
        a = direction * t + phase
        return cx + b * t * math.cos(a), cy + b * t * math.sin(a)

    ends = [point(theta_min), point(theta_max)]
    out = np.zeros((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            dx, dy = x - cx, y - cy
            r = math.hypot(dx, dy)
            base = math.fmod(direction * (math.atan2(dy, dx) - phase), 2 * math.pi)
            if base < 0:
                base += 2 * math.pi
            dist, k = math.inf, 0
            while base + 2 * math.pi * k <= theta_max:
                t = base + 2 * math.pi * k
                if t >= theta_min:
                    dist = min(dist, abs(r - b * t) * r / math.sqrt(r * r + b * b))
                k += 1
            for ex, ey in ends:
                dist = min(dist, math.hypot(x - ex, y - ey))
            out[y, x] = min(1.0, max(0.0, half + 0.5 - dist))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--cases", default="l2-noise,l2-spiral,linf-noise,linf-spiral")
    ap.add_argument("--normalise", choices=["reciprocal", "divide"], default="reciprocal")
    ap.add_argument("--release", action="store_true", help="run Mirage's side with swift test -c release")
    ap.add_argument("--baselines", action="store_true", help="also compare torch float64 and torch g/‖g‖ with torch float32")
    ap.add_argument("--keep", type=Path, help="keep the inputs and both curves in this folder")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="mirage-ref-"))
    work.mkdir(parents=True, exist_ok=True)
    digits = np.load(REPO / "Examples/data/mnist/test_images.npy")
    x_in = np.ascontiguousarray(digits[[(k % 10) * 100 + 2 * (k // 10) + 1 for k in range(args.batch)]], np.float32)
    np.save(work / "x_in.npy", x_in)
    rng = np.random.default_rng(20200917)
    starts = {"noise": rng.random((args.batch, 1, 28, 28), dtype=np.float32),
              "spiral": np.stack([spiral(rng)[None] for _ in range(args.batch)]).astype(np.float32)}
    for kind, arr in starts.items():
        np.save(work / f"start_{kind}.npy", arr)

    results = {}
    for name in args.cases.split(","):
        norm, eps, lr, kind = CASES[name]
        ref_json, mir_json = work / f"{name}_torch.json", work / f"{name}_mirage.json"

        def reference(out: Path, *extra: str) -> None:
            subprocess.run([PY, str(REPO / "scripts/model/reference_attack.py"), str(out),
                            "--in-npy", str(work / "x_in.npy"), "--start-npy", str(work / f"start_{kind}.npy"),
                            "--norm", norm, "--eps", str(eps), "--lr", str(lr),
                            "--steps", str(args.steps), "--init", "zero", *extra], check=True, stdout=subprocess.DEVNULL)

        reference(ref_json, "--normalise", args.normalise)
        case = {"x_in": str(work / "x_in.npy"), "x_start": str(work / f"start_{kind}.npy"), "norm": norm,
                "eps": eps, "lr": lr, "steps": args.steps, "out": str(mir_json)}
        (work / f"{name}_case.json").write_text(json.dumps(case))
        cmd = ["swift", "test", "--filter", "ReferenceCurveTests"] + (["-c", "release"] if args.release else ["--skip-build"])
        env = dict(os.environ, MIRAGE_REFERENCE_CASE=str(work / f"{name}_case.json"))
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not mir_json.exists():
            sys.exit(f"{name}: Mirage's run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        torch_ps = np.array(json.loads(ref_json.read_text())["loss_per_sample"], np.float64)     # [steps, B]
        mir_ps = np.array(json.loads(mir_json.read_text())["loss_per_sample"], np.float64)
        results[name] = compare(mir_ps, torch_ps, args.steps)
        results[name].update({"norm": norm, "eps": eps, "lr": lr, "start": kind, "batch": args.batch, "steps": args.steps})
        report(name + " mirage vs torch", results[name])
        if args.baselines:
            variants = [("torch float64", ["--normalise", args.normalise, "--dtype", "float64"])]
            if norm == "L2":
                other = "divide" if args.normalise == "reciprocal" else "reciprocal"
                variants.append((f"torch {other}", ["--normalise", other]))
            for label, extra in variants:
                path = work / f"{name}_{label.replace(' ', '_')}.json"
                reference(path, *extra)
                alt = np.array(json.loads(path.read_text())["loss_per_sample"], np.float64)
                results[name][label + " vs torch"] = compare(alt, torch_ps, args.steps)
                report(f"{name} {label} vs torch", results[name][label + " vs torch"])
    args.out.write_text(json.dumps({"normalise": args.normalise, "cases": results}, indent=1) + "\n")


def compare(mir_ps: np.ndarray, torch_ps: np.ndarray, steps: int) -> dict:
    tot_t, tot_m = torch_ps.sum(1), mir_ps.sum(1)
    rel_tot = np.abs(tot_m - tot_t) / np.abs(tot_t)
    rel_ps = np.abs(mir_ps - torch_ps) / np.abs(torch_ps)
    worst = rel_ps.max(1)
    ranges = {}
    for lo, hi in [(1, 10), (11, 50), (51, 100), (101, 150), (151, steps)]:
        if lo <= steps:
            hi = min(hi, steps)
            ranges[f"{lo}-{hi}"] = {"total": float(rel_tot[lo - 1:hi].max()), "worst_sample": float(worst[lo - 1:hi].max())}
    first = lambda v: int(np.argmax(v > 1e-3)) + 1 if (v > 1e-3).any() else None  # noqa: E731
    return {"loss_first": float(tot_t[0]), "loss_last_torch": float(tot_t[-1]), "loss_last_other": float(tot_m[-1]),
            "max_rel_total": float(rel_tot.max()), "max_rel_sample": float(worst.max()),
            "first_step_total_above_1e-3": first(rel_tot), "first_step_sample_above_1e-3": first(worst), "ranges": ranges}


def report(label: str, r: dict) -> None:
    print(f"{label}: loss {r['loss_first']:.5g} → torch {r['loss_last_torch']:.5g} / other {r['loss_last_other']:.5g}; "
          f"max rel (total) {r['max_rel_total']:.2e}, (worst sample) {r['max_rel_sample']:.2e}; "
          f"first step > 1e-3: total {r['first_step_total_above_1e-3']}, sample {r['first_step_sample_above_1e-3']}")
    print("    " + "; ".join(f"steps {k}: {v['total']:.1e} / {v['worst_sample']:.1e}" for k, v in r["ranges"].items()))


if __name__ == "__main__":
    main()
