#!/usr/bin/env python3
"""Reference values for the Attack tests, computed once and committed as JSON fixtures.

    python3 -m venv /tmp/attackvenv && /tmp/attackvenv/bin/pip install numpy scikit-learn
    /tmp/attackvenv/bin/python scripts/attack/make_fixtures.py

Writes scripts/attack/fixtures/detection_metrics.json (scikit-learn's roc_auc_score, average_precision_score,
roc_curve(drop_intermediate=False) and FPR@95%TPR in both conventions on seeded score sets with ties) and
scripts/attack/fixtures/adamax.json (PyTorch's Adamax/Adam update replayed in float32 NumPy, following
torch/optim/adamax.py `_single_tensor_adamax`: exp_avg.lerp_(g, 1-b1); exp_inf = max(exp_inf*b2, |g|+eps);
clr = lr/(1-b1**t); p.addcdiv_(exp_avg, exp_inf, value=-clr)).
"""
import json, os
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, roc_curve

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


def fpr_at(labels, scores, tpr_th=0.95):
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    i = int(np.argmax(tpr >= tpr_th))
    return float(fpr[i]), float(thr[i])


def score_sets():
    rng = np.random.default_rng(20240601)
    sets = []
    # 1: continuous Gaussians
    sets.append(("gaussian", rng.normal(0, 1, 200), rng.normal(1, 1, 150)))
    # 2: heavy ties (integers)
    sets.append(("ties", rng.integers(0, 6, 120).astype(float), rng.integers(2, 9, 80).astype(float)))
    # 3: all equal
    sets.append(("constant", np.full(10, 0.5), np.full(7, 0.5)))
    # 4: perfect separation
    sets.append(("separated", rng.uniform(0, 1, 40), rng.uniform(2, 3, 25)))
    # 5: reversed, small, rounded
    sets.append(("reversed", np.round(rng.normal(2, 1, 33), 1), np.round(rng.normal(0, 1, 21), 1)))
    # 6: float32-representable scores
    sets.append(("float32", rng.normal(0, 1, 64).astype(np.float32).astype(float),
                 rng.normal(0.5, 1, 64).astype(np.float32).astype(float)))
    return sets


def detection_fixture():
    cases = []
    for name, s_in, s_out in score_sets():
        scores = np.concatenate([s_in, s_out])
        ood = np.concatenate([np.zeros(len(s_in)), np.ones(len(s_out))])
        fpr, tpr, thr = roc_curve(ood, scores, drop_intermediate=False)
        f_ood, t_ood = fpr_at(ood, scores)
        f_id, t_id = fpr_at(1 - ood, -scores)
        cases.append({
            "name": name,
            "in": s_in.tolist(), "out": s_out.tolist(),
            "auroc": float(roc_auc_score(ood, scores)),
            "aupr_out": float(average_precision_score(ood, scores)),
            "aupr_in": float(average_precision_score(1 - ood, -scores)),
            "fpr95_ood_positive": f_ood, "fpr95_ood_positive_threshold": t_ood,
            "fpr95_id_positive": f_id, "fpr95_id_positive_threshold": -t_id,
            "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(),
            "roc_thresholds": [("inf" if not np.isfinite(t) else float(t)) for t in thr],
        })
    return {"generator": "scripts/attack/make_fixtures.py", "cases": cases}


def adamax_fixture():
    f = np.float32
    grads = [np.array(g, dtype=f) for g in ([0.5, -2.0, 0.0, 1e-3], [0.25, 1.0, -3.0, 1e-3], [-1.0, 0.5, 0.5, -0.2],
                                             [0.0, 0.0, 0.0, 0.0], [2.0, -2.0, 1.0, 0.1])]
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    out = {}
    # Adamax
    p = np.array([0.1, 0.2, 0.3, 0.4], dtype=f); m = np.zeros(4, f); u = np.zeros(4, f)
    seq = []
    for t, g in enumerate(grads, 1):
        m = (m + f(1 - b1) * (g - m)).astype(f)             # lerp, weight 0.1 < 0.5
        u = np.maximum((u * f(b2)).astype(f), (np.abs(g) + f(eps)).astype(f))
        clr = lr / (1 - b1 ** t)
        p = (p + (f(-clr) * m).astype(f) / u).astype(f)
        seq.append({"param": [float(v) for v in p], "exp_avg": [float(v) for v in m], "exp_inf": [float(v) for v in u]})
    out["adamax"] = {"lr": lr, "start": [0.1, 0.2, 0.3, 0.4], "grads": [g.tolist() for g in grads], "steps": seq}
    # Adam
    p = np.array([0.1, 0.2, 0.3, 0.4], dtype=f); m = np.zeros(4, f); v = np.zeros(4, f)
    seq = []
    for t, g in enumerate(grads, 1):
        m = (m + f(1 - b1) * (g - m)).astype(f)
        v = ((v * f(b2)).astype(f) + (f(1 - b2) * g).astype(f) * g).astype(f)
        bc1 = 1 - b1 ** t; bc2s = f(np.sqrt(1 - b2 ** t))
        denom = (np.sqrt(v) / bc2s + f(eps)).astype(f)
        p = (p + (f(-(lr / bc1)) * m).astype(f) / denom).astype(f)
        seq.append({"param": [float(x) for x in p]})
    out["adam"] = {"lr": lr, "start": [0.1, 0.2, 0.3, 0.4], "grads": [g.tolist() for g in grads], "steps": seq}
    return out


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "detection_metrics.json"), "w") as fh:
        json.dump(detection_fixture(), fh, indent=1)
    with open(os.path.join(OUT, "adamax.json"), "w") as fh:
        json.dump(adamax_fixture(), fh, indent=1)
    print("wrote", OUT)
