#!/usr/bin/env python3
"""Dataset audit benchmark: peak RSS as the dataset grows (streamed `dataset()` vs the same audit on a batch
loaded whole with `npy()`, interleaved), and throughput with 1 and 2 shards (interleaved). Prints the load
average beside the figures.  Usage: scripts/bench_audit.py [--bin .build/release/mirage] [--steps 10]"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "Examples" / "data" / "mnist"
MODEL = ROOT / "Examples" / "models" / "mnist_cnn.onnx"


def script(ood: Path, out: Path, steps: int, streamed: bool) -> str:
    load = f'dataset("{ood}", chunk=100)' if streamed else f'npy("{ood}")'
    head = f"""
enc = load("{MODEL}")
feat = layer(enc, "features")
logits = layer(enc, "logits")
x_train = npy("{MNIST}/train_images_u8.npy") / 255
y_train = npy("{MNIST}/train_labels.npy")
dets = [detector("msp", logits), detector("energy", logits), detector("mahalanobis", feat, fit=x_train, labels=y_train)]
ood = {load}
"""
    if streamed:
        return head + f"""test = dataset("{MNIST}/test_images.npy", limit=100, chunk=100)
r = audit(dets, test, ood, attacked=ood_attack(feat, source=ood, target=test, eps=15, lr=0.1, seed=0), steps={steps}, out="{out}", show=false)
"""
    return head + f"""test = npy("{MNIST}/test_images.npy")[0:100]
print(audit(dets, test, ood, show=false))
"""


def peak_rss(binary: str, args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    p = subprocess.Popen([binary, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, p.stderr.read()[-2000:]
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / ".build" / "release" / "mirage"))
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mirage-bench-audit-"))
    try:
        rng = np.random.default_rng(0)
        sets = {}
        for n in (1000, 10000):
            path = work / f"ood{n}.npy"
            np.save(path, rng.random((n, 1, 28, 28), dtype=np.float32))
            sets[n] = path
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print("peak RSS (MiB), attack steps 0 for the in-memory peer:")
        for n, path in sets.items():
            s = work / f"s{n}.mirage"
            s.write_text(script(path, work / f"store{n}", a.steps, True))
            m = work / f"m{n}.mirage"
            m.write_text(script(path, work / "unused", a.steps, False))
            _, rss_stream = peak_rss(a.bin, ["run", str(s)])
            _, rss_memory = peak_rss(a.bin, ["run", str(m)])
            print(f"  {n:6d} images: streamed dataset() audit {rss_stream:7.1f}   |   npy() in memory (scores only) {rss_memory:7.1f}")
        print(f"throughput, 1,000 OOD + 100 in-distribution images, {a.steps} attack steps per OOD image:")
        path = sets[1000]
        for rep in range(2):
            for shards in (1, 2):
                out = work / f"tp{rep}-{shards}"
                s = work / f"tp{rep}-{shards}.mirage"
                s.write_text(script(path, out, a.steps, True))
                start = time.perf_counter()
                procs = [subprocess.Popen([a.bin, "run", str(s), "--shard", f"{i}/{shards}"], cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(shards)]
                assert all(p.wait() == 0 for p in procs)
                seconds = time.perf_counter() - start
                print(f"  run {rep + 1}, {shards} shard(s): {1100 / seconds:7.1f} images/s ({seconds:.1f} s incl. start-up and fitting)")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
