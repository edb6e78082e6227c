#!/usr/bin/env python3
"""Draws the plot gallery with matplotlib's defaults on the same data as Mirage's renderer, for docs/plots.md.

First write Mirage's side (PNGs and the data as .npy):
    MIRAGE_WRITE_PLOTS=1 swift test --filter PlotGalleryTests
then:
    python scripts/imaging/compare_plots.py          # writes docs/plots/<name>_matplotlib.png
Same logical sizes as Mirage (640x400 etc.) at dpi 200 (2x of matplotlib's 100 dpi), Agg backend, default style."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PLOTS = os.path.join(ROOT, "docs", "plots")
DATA = os.path.join(PLOTS, "data")


def load(name):
    return np.load(os.path.join(DATA, name + ".npy"))


def roc(pos, neg):
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    order = np.argsort(-scores, kind="mergesort")
    s, l = scores[order], labels[order]
    distinct = np.r_[np.where(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(l)[distinct]
    fps = (1 + distinct) - tps
    fpr = np.r_[0, fps / len(neg)]
    tpr = np.r_[0, tps / len(pos)]
    return fpr, tpr, np.trapezoid(tpr, fpr)


def save(fig, name):
    fig.savefig(os.path.join(PLOTS, name + "_matplotlib.png"), dpi=200)
    plt.close(fig)


def line(ax):
    steps = np.arange(200)
    ax.plot(steps, load("loss_attack"), label="attack loss")
    ax.plot(steps, load("loss_detector"), "--", label="detector loss")
    ax.set_yscale("log"); ax.set_xlabel("Step"); ax.set_ylabel("Loss"); ax.set_title("Attack progress"); ax.legend()


def histogram(ax):
    values = [load("scores_in"), load("scores_out"), load("scores_adv")]
    edges = np.histogram_bin_edges(np.concatenate(values), bins=33)
    for v, name in zip(values, ["in-distribution", "OOD", "adversarial OOD"]):
        ax.hist(v, bins=edges, density=True, alpha=0.5, label=name)
    ax.set_xlabel("Score"); ax.set_ylabel("Density"); ax.set_title("Detector scores"); ax.legend()


def roc_plot(ax):
    s_in = load("scores_in")
    for name, key in [("OOD", "scores_out"), ("adversarial OOD", "scores_adv")]:
        fpr, tpr, auc = roc(load(key), s_in)
        ax.plot(fpr, tpr, label=f"{name} (AUROC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="chance")
    ax.set_aspect("equal"); ax.set_xlabel("False positive rate"); ax.set_ylabel("True positive rate")
    ax.set_title("Detection"); ax.legend(loc="lower right")


def scatter(ax):
    z_in, z_adv = load("z_in"), load("z_adv")
    lo = min(z_in.min(), z_adv.min(), load("z_out_x").min(), load("z_out_y").min())
    hi = max(z_in.max(), z_adv.max(), load("z_out_x").max(), load("z_out_y").max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.scatter(z_in, z_adv, s=12, alpha=0.65, label="z_in → z_adv")
    ax.scatter(load("z_out_x"), load("z_out_y"), s=12, alpha=0.65, marker="^", label="z_out")
    ax.set_xlabel("z_in (feature 0)"); ax.set_ylabel("z_adv (feature 0)"); ax.set_title("Features"); ax.legend()


def main():
    for name, draw, size in [("line", line, (6.4, 4)), ("histogram", histogram, (6.4, 4)),
                             ("roc", roc_plot, (4.8, 4.4)), ("scatter", scatter, (6.4, 4))]:
        fig, ax = plt.subplots(figsize=size, layout="tight")
        draw(ax)
        save(fig, name)
    fig, ax = plt.subplots(figsize=(6.4, 4), layout="tight")
    x = np.arange(5)
    ax.bar(x - 0.2, [0.97, 0.81, 0.62, 0.55, 0.58], 0.4, label="AUROC")
    ax.bar(x + 0.2, [0.88, 0.52, 0.21, 0.12, 0.17], 0.4, label="TPR@5%")
    ax.set_xticks(x, ["clean", "FGSM", "PGD-10", "PGD-100", "CW"]); ax.set_ylim(0, 1)
    ax.set_ylabel("Score"); ax.set_title("Detector under attack"); ax.legend()
    save(fig, "bar")
    fig, ax = plt.subplots(figsize=(5.2, 4.4), layout="tight")
    delta = load("delta").mean(axis=0)
    m = np.abs(delta).max()
    im = ax.imshow(delta, cmap="RdBu_r", vmin=-m, vmax=m)
    fig.colorbar(im, ax=ax, label="δ"); ax.set_title("Perturbation δ (channel mean)")
    save(fig, "heatmap")
    fig, axes = plt.subplots(1, 4, figsize=(6.5, 2.05), layout="tight")
    x_out, x_adv, x_in = load("x_out"), load("x_adv"), load("x_in")
    pics = [(x_out, "x_out"), (x_adv, "x_adv"), (x_in, "x_in"), (np.clip(np.abs(x_adv - x_out) * 10, 0, 1), "|δ| ×10")]
    for ax, (p, caption) in zip(axes, pics):
        ax.imshow(np.clip(p.transpose(1, 2, 0), 0, 1), interpolation="nearest"); ax.set_title(caption, fontsize=10)
        ax.set_xticks([]); ax.set_yticks([])
    fig.suptitle("Attack result")
    save(fig, "imagegrid")
    fig, axes = plt.subplots(2, 2, figsize=(9.6, 7.2), layout="tight")
    line(axes[0, 0]); histogram(axes[0, 1]); roc_plot(axes[1, 0]); scatter(axes[1, 1])
    fig.suptitle("Run summary")
    save(fig, "figure")
    print("matplotlib", matplotlib.__version__, "plots written to", os.path.abspath(PLOTS))


if __name__ == "__main__":
    main()
