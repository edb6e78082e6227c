"""Every notebook in Notebooks/ re-executes top to bottom under the `mirage` kernelspec, with no
error, every image decoding as PNG, and its text outputs equal to the committed ones (numbers within
1e-3 relative: the same machine gives bit-identical results, another CPU may round differently).
On a CPU of another kind than the one the outputs came from (`metadata.mirage.cpu`: AVX2 against
AVX-512, where oneDNN runs other kernels and long attacks end visibly apart), the comparison is with
the texts recorded on that kind (`metadata.mirage.texts`, by `scripts/notebooks.py --texts`)."""

from __future__ import annotations

import base64
import copy
import re
import struct
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from notebooks import cpu_kind, texts  # noqa: E402  (the recorder's own definitions: one CPU naming, one text list)

NOTEBOOKS = sorted((ROOT / "Notebooks").glob("*.ipynb"))
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def same_text(a: str, b: str, tolerance: float = 1e-3) -> bool:
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return False
    for x, y in zip(NUMBER.findall(a), NUMBER.findall(b)):
        fx, fy = float(x), float(y)
        if abs(fx - fy) > tolerance * max(1.0, abs(fx), abs(fy)):
            return False
    return True


def tolerance(cell) -> float:
    """1e-3, or what scripts/notebooks.py set for cells whose numbers come out of long optimisations."""
    return float(cell.get("metadata", {}).get("mirage", {}).get("tolerance", 1e-3))


def check_png(data: str) -> None:
    png = base64.b64decode(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 0 and height > 0


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


# A notebook runs whole attacks (06 drives 100 sources through a Glow for 600 steps): more than the suite's
# 180 s per test on a loaded machine, so the bound here is the whole notebook's, 15 minutes.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_reruns_to_the_same_results(path):
    committed = nbformat.read(path, as_version=4)
    fresh = copy.deepcopy(committed)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    # In the notebook's own folder, as JupyterLab runs it (the paths in the notebooks are found from there).
    NotebookClient(fresh, kernel_name="mirage", timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
    images = 0
    for cell in fresh.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{path.name}: {out.get('ename')}: {out.get('evalue')}"
            if "data" in out and "image/png" in out.data:
                check_png(out.data["image/png"])
                images += 1
    assert images >= 1
    old, new = texts(committed), texts(fresh)
    made_on = committed.metadata.get("mirage", {}).get("cpu", "avx512_core")
    if cpu_kind() != made_on:
        recorded = committed.metadata.get("mirage", {}).get("texts", {}).get(cpu_kind())
        assert recorded is not None, f"{path.name}: outputs from {made_on}, none recorded for {cpu_kind()} (scripts/notebooks.py --texts)"
        old = recorded
    assert [(i, k) for i, k, _ in old] == [(i, k) for i, k, _ in new], "the outputs changed shape"
    for (i, kind, a), (_, _, b) in zip(old, new):
        assert same_text(a, b, tolerance(committed.cells[i])), f"{path.name} cell {i} ({kind}):\ncommitted: {a!r}\nnow:       {b!r}"
