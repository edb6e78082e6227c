#!/usr/bin/env python3
"""matplotlib (Agg) and Pillow on the same data as Tests/ImagingTests/BenchmarkTests.swift.
Prints `BENCH <name> <median ms> <bytes>` lines like the Swift side."""
import io
import statistics
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def median_ms(runs, body):
    body()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        body()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def report(name, runs, body):
    out = {}

    def run():
        out["bytes"] = body()
    print(f"BENCH {name} {median_ms(runs, run):.3f} {out['bytes']}", flush=True)


def line_plot():
    x = np.arange(10_000, dtype=np.float64)
    y = np.sin(x / 50) + 0.1 * np.sin(x * 1.3)
    fig, ax = plt.subplots(figsize=(6.4, 4), layout="tight")
    ax.plot(x, y, label="signal"); ax.set_title("10,000 points"); ax.set_xlabel("x"); ax.set_ylabel("y"); ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200)
    plt.close(fig)
    return buf.tell()


def picture224():
    y, x = np.mgrid[0:224, 0:224].astype(np.float32)
    return np.stack([x / 223, y / 223, 0.5 + 0.5 * np.sin(x * y / 500)], -1)


def grid64():
    y, x = np.mgrid[0:28, 0:28].astype(np.float32)
    return [np.stack([0.5 + 0.5 * np.sin((x * (k + 1) + y * (c + 1) * 0.7) / 5) for c in range(3)], -1) for k in range(64)]


def pillow_png(array):
    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.tell()


def matplotlib_grid(pictures):
    fig, axes = plt.subplots(8, 8, figsize=(8 * 1.58 + 0.16, 8 * 1.78 + 0.3))
    for k, (ax, p) in enumerate(zip(axes.flat, pictures)):
        ax.imshow(p, interpolation="nearest"); ax.set_title(f"#{k}", fontsize=8); ax.set_xticks([]); ax.set_yticks([])
    fig.suptitle("64 pictures")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200)
    plt.close(fig)
    return buf.tell()


def pillow_tiles(pictures):
    # Like PictureDisplay: 8x8 tiles, 2 px grey gaps, magnified 4x (nearest).
    cell, gap, k = 28, 2, 4
    side = 8 * cell + 7 * gap
    canvas = np.full((side, side, 3), 128, np.uint8)
    for i, p in enumerate(pictures):
        r, c = divmod(i, 8)
        canvas[r * (cell + gap):r * (cell + gap) + cell, c * (cell + gap):c * (cell + gap) + cell] = np.round(p * 255)
    im = Image.fromarray(canvas).resize((side * k, side * k), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.tell()


if __name__ == "__main__":
    picture, pictures = picture224(), grid64()
    report("matplotlib_line10k_png", 21, line_plot)
    report("pillow_image224_png", 51, lambda: pillow_png(picture))
    report("matplotlib_grid64_plot", 5, lambda: matplotlib_grid(pictures))
    report("pillow_grid64_tiles", 21, lambda: pillow_tiles(pictures))
