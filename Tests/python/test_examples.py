"""Every script in Examples/ runs headless (`mirage run SCRIPT --out DIR` from the repository root): exit
status 0, every picture it shows written as a valid PNG, and the facts each example exists to show hold
(accuracy, attack error, detector AUROC before and after the attack)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pngcheck import parse_png

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "Examples").glob("*.mirage"))


def run_example(path: Path, out: Path) -> str:
    r = subprocess.run([os.environ["MIRAGE_BIN"], "run", str(path), "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"{path.name} failed:\nstdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-3000:]}"
    pngs = sorted(out.glob("*.png"))
    assert pngs, f"{path.name} showed no picture"
    for png in pngs:
        parse_png(png.read_bytes())
    return r.stdout


def numbers_after(label: str, text: str) -> list[float]:
    """The numbers on the line that starts with `label`, after it."""
    line = next((l for l in text.splitlines() if l.startswith(label)), None)
    assert line is not None, f"no line starting with {label!r} in:\n{text[-2000:]}"
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", line[len(label):])]


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"hello.mirage", "quickstart.mirage", "detectors.mirage", "dimensionality.mirage"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_headless(path, tmp_path):
    if path.name == "audit_dataset.mirage":
        # Its store lives in runs/ of the working directory; a store of an older version of the script is refused.
        shutil.rmtree(ROOT / "runs" / "audit_dataset", ignore_errors=True)
    out = run_example(path, tmp_path)
    if path.name == "quickstart.mirage":
        (mape,) = numbers_after("feature MAPE:", out)
        assert mape < 0.05
    elif path.name == "detectors.mirage":
        (accuracy,) = numbers_after("test accuracy:", out)
        assert accuracy >= 0.97
        # Table rows: "<detector>  <raw|attacked> OOD  AUROC  AUPR-In  AUPR-Out  FPR95".
        rows = [m.groups() for m in re.finditer(r"^(\S.*?)\s{2,}(raw|attacked) OOD\s+([\d.]+)", out, re.M)]
        raw = {name: float(auroc) for name, kind, auroc in rows if kind == "raw"}
        attacked = {name: float(auroc) for name, kind, auroc in rows if kind == "attacked"}
        assert set(raw) == set(attacked) and len(raw) == 6, rows
        # Before the attack the feature-based detectors see noise and spirals; after it, nothing does.
        assert raw["Mahalanobis"] > 0.95
        for name, auroc in attacked.items():
            assert auroc <= 0.6, f"{name}: AUROC {auroc} after the attack"
            assert auroc < raw[name], f"{name}: the attack did not lower AUROC ({raw[name]} → {auroc})"
    elif path.name == "audit_dataset.mirage":
        rows = [m.groups() for m in re.finditer(r"^(\S.*?)\s{2,}(raw|attacked) OOD\s+([\d.]+)", out, re.M)]
        raw = {name: float(auroc) for name, kind, auroc in rows if kind == "raw"}
        attacked = {name: float(auroc) for name, kind, auroc in rows if kind == "attacked"}
        assert set(raw) == set(attacked) and len(raw) == 6, rows
        assert raw["Mahalanobis"] > 0.95 and max(attacked.values()) <= 0.6, rows
        assert "all 13 chunks" in out
        merged = subprocess.run([os.environ["MIRAGE_BIN"], "merge", "runs/audit_dataset"], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert merged.returncode == 0, merged.stderr
        assert "Mahalanobis              attacked OOD" in merged.stdout and "13/13 chunks" in merged.stderr
    elif path.name == "dimensionality.mirage":
        rank, local = numbers_after("rank:", out)
        assert rank <= 128 and rank + local == 784
        mapes = numbers_after("MAPE per image:", out)
        assert len(mapes) == 5 and max(mapes) < 0.05
