"""Dataset-scale audits through `mirage run` and `mirage merge`: sharded runs merge to exactly the unsharded
results, a SIGKILLed run resumes to the same results, and bad input (empty or corrupt folders, a bad --shard,
stores of different scripts or of a newer schema, missing chunks) gets a clear error naming the file or chunk."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT / "Examples" / "data" / "mnist"
MODEL = ROOT / "Examples" / "models" / "mnist_cnn.onnx"


def tiny_script(out: Path, ood: str, steps: int = 5, chunk: int = 16, n_test: int = 48, extra: str = "", audit_args: str = "") -> str:
    """A small audit: n_test test digits and an OOD set, three detectors, `steps` attack steps."""
    return f"""
enc = load("{MODEL}")
feat = layer(enc, "features")
logits = layer(enc, "logits")
x_train = npy("{MNIST}/train_images_u8.npy") / 255
y_train = npy("{MNIST}/train_labels.npy")
dets = [detector("msp", logits), detector("energy", logits), detector("mahalanobis", feat, fit=x_train, labels=y_train)]
test = dataset("{MNIST}/test_images.npy", limit={n_test}, chunk={chunk})
ood = dataset({ood})
atk = ood_attack(feat, source=ood, target=test, eps=15, lr=0.1, seed=3)
r = audit(dets, test, ood, attacked=atk, steps={steps}, out="{out}", show=false{audit_args})
print("complete:", r.complete)
{extra}
"""


def run(args: list[str], cwd: Path = ROOT, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([os.environ["MIRAGE_BIN"], *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


def write_script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def per_sample(store: Path) -> list[tuple]:
    """Every sample row and score of a store, in index order (floats as stored, bit for bit)."""
    with sqlite3.connect(store) as db:
        samples = db.execute("SELECT idx, chunk, split, source, target, loss, mape, delta_l2, error FROM samples ORDER BY idx").fetchall()
        scores = db.execute("SELECT idx, detector, raw, attacked FROM scores ORDER BY idx, detector").fetchall()
    return samples + scores


@pytest.fixture(scope="module")
def ood_npy(tmp_path_factory) -> Path:
    """48 seeded OOD images (uniform noise), 28×28 gray, as a .npy file."""
    path = tmp_path_factory.mktemp("ood") / "ood.npy"
    np.save(path, np.random.default_rng(7).random((40, 1, 28, 28), dtype=np.float32))
    return path


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory, ood_npy) -> Path:
    """The reference: the tiny audit in one process, merged."""
    work = tmp_path_factory.mktemp("unsharded")
    out = work / "store"
    script = write_script(work, "a.mirage", tiny_script(out, f'"{ood_npy}"'))
    r = run(["run", str(script)])
    assert r.returncode == 0, r.stderr
    assert "complete: true" in r.stdout
    assert "chunks 6/6" in r.stderr, r.stderr  # progress on stderr: (48 + 40) / 16 → 6 chunks
    m = run(["merge", str(out)])
    assert m.returncode == 0, m.stderr
    return out


def test_unsharded_store_is_readable_without_mirage(unsharded):
    with sqlite3.connect(unsharded / "merged.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone() == (6,)
        assert db.execute("SELECT COUNT(*) FROM samples WHERE split='in'").fetchone() == (48,)
        ood = db.execute("SELECT target, mape, loss, delta_l2 FROM samples WHERE split='ood' ORDER BY idx").fetchall()
        assert len(ood) == 40 and [t for t, *_ in ood] == [j % 48 for j in range(40)]
        assert all(m is not None and m >= 0 and d <= 15 + 1e-4 for _, m, _, d in ood)
        dets = [d for (d,) in db.execute("SELECT DISTINCT detector FROM scores ORDER BY detector")]
        assert dets == ["Energy", "MSP", "Mahalanobis"]
        assert db.execute("SELECT COUNT(*) FROM scores WHERE raw IS NULL").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM scores WHERE attacked IS NOT NULL").fetchone() == (120,)
    csv = (unsharded / "metrics.csv").read_text().splitlines()
    assert csv[0] == "detector,set,n_in,n_ood,auroc,aupr_in,aupr_out,fpr95" and len(csv) == 7
    assert "## Metrics" in (unsharded / "report.md").read_text()


def test_three_shards_merge_to_the_unsharded_results(unsharded, tmp_path, ood_npy):
    out = tmp_path / "store"
    script = write_script(tmp_path, "a.mirage", tiny_script(out, f'"{ood_npy}"'))
    procs = [subprocess.Popen([os.environ["MIRAGE_BIN"], "run", str(script), "--shard", f"{i}/3"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
             for i in range(3)]
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr
    # Before the merge a shard's results are partial and say so.
    assert sorted(f.name for f in out.glob("*.sqlite")) == [f"shard-{i}-of-3.sqlite" for i in range(3)]
    m = run(["merge", str(out)])
    assert m.returncode == 0, m.stderr
    assert "shard 0/3 (shard-0-of-3.sqlite): 2/2 chunks" in m.stderr
    assert (out / "metrics.csv").read_bytes() == (unsharded / "metrics.csv").read_bytes()
    assert per_sample(out / "merged.sqlite") == per_sample(unsharded / "merged.sqlite")
    assert "Mahalanobis" in m.stdout and "attacked OOD" in m.stdout


def test_sigkilled_run_resumes_to_the_same_results(unsharded, tmp_path, ood_npy):
    out = tmp_path / "store"
    script = write_script(tmp_path, "a.mirage", tiny_script(out, f'"{ood_npy}"'))
    p = subprocess.Popen([os.environ["MIRAGE_BIN"], "run", str(script)], cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    store = out / "shard-0-of-1.sqlite"
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and p.poll() is None:
        if store.exists():
            try:
                with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
                    done = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 2:
                break
        time.sleep(0.02)
    assert p.poll() is None, "the run finished before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait()
    with sqlite3.connect(store) as db:
        killed_at = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert 2 <= killed_at < 6
    # An incomplete run cannot be merged; the error lists the missing chunks.
    m = run(["merge", str(out)])
    assert m.returncode == 1 and "chunks are missing" in m.stderr and f"{killed_at}-5" in m.stderr, m.stderr
    r = run(["run", str(script)])
    assert r.returncode == 0, r.stderr
    assert f"chunks {killed_at}/6" in r.stderr  # resumed after the committed chunks
    assert run(["merge", str(out)]).returncode == 0
    assert (out / "metrics.csv").read_bytes() == (unsharded / "metrics.csv").read_bytes()
    assert per_sample(out / "merged.sqlite") == per_sample(unsharded / "merged.sqlite")


def test_corrupt_images_are_skipped_and_recorded(tmp_path):
    import PIL.Image
    folder = tmp_path / "ood" / "nested"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(10):
        PIL.Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8)).save(folder / f"img{i:02d}.png")
    (folder / "img03.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "ood" / "broken.jpg").write_bytes(b"")
    out = tmp_path / "store"
    script = write_script(tmp_path, "a.mirage", tiny_script(out, f'"{tmp_path / "ood"}", size=28, gray=true', n_test=16,
                                                             audit_args=", images=true"))
    r = run(["run", str(script)])
    assert r.returncode == 0, r.stderr
    m = run(["merge", str(out)])
    assert m.returncode == 0, m.stderr
    assert "2 unreadable images skipped" in m.stdout
    report = (out / "report.md").read_text()
    assert "broken.jpg: broken.jpg: the file is empty" in report
    assert "img03.png" in report
    with sqlite3.connect(out / "merged.sqlite") as db:
        errors = db.execute("SELECT source, error FROM samples WHERE error IS NOT NULL ORDER BY idx").fetchall()
        assert [Path(s).name for s, _ in errors] == ["broken.jpg", "img03.png"]
        assert db.execute("SELECT COUNT(*) FROM samples WHERE split='ood' AND error IS NULL AND mape IS NOT NULL").fetchone() == (9,)
        # images=true stores each attacked image as float32 C·H·W bytes.
        blobs = db.execute("SELECT image FROM samples WHERE split='ood' AND error IS NULL").fetchall()
        images = np.stack([np.frombuffer(b, dtype=np.float32) for (b,) in blobs])
        assert images.shape == (9, 784) and images.min() >= 0 and images.max() <= 1


def test_bad_input_errors_name_the_problem(tmp_path, unsharded, ood_npy):
    empty = tmp_path / "empty"
    empty.mkdir()
    script = write_script(tmp_path, "e.mirage", f'dataset("{empty}")\n')
    r = run(["run", str(script)])
    assert r.returncode == 1 and f"no .png, .jpg or .jpeg files in {empty}" in r.stderr, r.stderr

    script = write_script(tmp_path, "s.mirage", 'print(1)\n')
    r = run(["run", str(script), "--shard", "3/3"])
    assert r.returncode != 0 and "shard 3/3 is outside 0..2" in r.stderr, r.stderr
    r = run(["run", str(script)], env={**os.environ, "SLURM_ARRAY_TASK_ID": "1"})
    assert r.returncode != 0 and "SLURM_ARRAY_TASK_COUNT is not" in r.stderr, r.stderr

    # Shards of two different scripts (here: other attack steps) in one folder.
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(unsharded / "shard-0-of-1.sqlite", mixed / "shard-0-of-2.sqlite")
    other = tmp_path / "other"
    script = write_script(tmp_path, "o.mirage", tiny_script(other, f'"{ood_npy}"', steps=2))
    assert run(["run", str(script), "--shard", "1/2"]).returncode == 0
    shutil.copy(other / "shard-1-of-2.sqlite", mixed / "shard-1-of-2.sqlite")
    m = run(["merge", str(mixed)])
    assert m.returncode == 1 and "shard-1-of-2.sqlite comes from a different script or settings" in m.stderr, m.stderr
    # Resuming into a store of another script is refused too.
    r = run(["run", str(script)], env={**os.environ, "MIRAGE_SHARD_COUNT": "1", "JOB_COMPLETION_INDEX": "0"})
    assert r.returncode == 0, r.stderr  # a fresh shard file: fine
    shutil.copy(unsharded / "shard-0-of-1.sqlite", other / "shard-0-of-1.sqlite")
    r = run(["run", str(script)])
    assert r.returncode == 1 and "shard-0-of-1.sqlite holds results of a different script or settings" in r.stderr, r.stderr

    # A store from a newer schema.
    newer = tmp_path / "newer"
    newer.mkdir()
    shutil.copy(unsharded / "shard-0-of-1.sqlite", newer / "shard-0-of-1.sqlite")
    with sqlite3.connect(newer / "shard-0-of-1.sqlite") as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    m = run(["merge", str(newer)])
    assert m.returncode == 1 and "shard-0-of-1.sqlite was written with store schema version 99" in m.stderr, m.stderr

    m = run(["merge", str(tmp_path / "nothing")])
    assert m.returncode == 1 and "no results folder" in m.stderr


def test_results_reads_a_run_back(unsharded, tmp_path):
    script = write_script(tmp_path, "r.mirage", f"""
r = results("{unsharded}")
print("complete:", r.complete, "missing:", len(r.missing), "skipped:", len(r.skipped))
print("mape count:", len(r.mape))
print("detectors:", r.detectors)
s = r.scores[0]
print("scores:", s[0], len(s[1]), len(s[2]), len(s[3]))
r.table
""")
    r = run(["run", str(script)])
    assert r.returncode == 0, r.stderr
    assert "complete: true missing: 0 skipped: 0" in r.stdout
    assert "mape count: 40" in r.stdout
    assert "scores: MSP 48 40 40" in r.stdout
    assert "AUROC" in r.stdout and "attacked OOD" in r.stdout


def test_notebook_shows_live_progress_updated_in_place(tmp_path, ood_npy):
    """In Jupyter the progress is one display, updated in place (update_display_data with its display_id)."""
    import mirage_testing as mt
    km, kc = mt.start_kernel()
    try:
        out = tmp_path / "store"
        reply, iopub = mt.execute(kc, tiny_script(out, f'"{ood_npy}"', steps=2), timeout=300)
        assert reply["content"]["status"] == "ok", reply["content"]
        shown = [m for m in iopub if m["msg_type"] == "display_data" and "chunks 0/6" in m["content"]["data"]["text/plain"]]
        updates = [m for m in iopub if m["msg_type"] == "update_display_data"]
        assert len(shown) == 1 and len(updates) == 6
        display_id = shown[0]["content"]["transient"]["display_id"]
        assert all(m["content"]["transient"]["display_id"] == display_id for m in updates)
        assert "chunks 6/6" in updates[-1]["content"]["data"]["text/plain"]
        # The kernel keeps serving and results() reads the store back.
        reply, iopub = mt.execute(kc, f'print(results("{out}").complete)')
        assert mt.stdout_text(iopub).strip() == "true"
    finally:
        mt.stop_kernel(km, kc)


def test_encode_score_predict_take_datasets(tmp_path):
    """Chunk by chunk over a dataset, the same numbers as on the batch in memory."""
    script = write_script(tmp_path, "b.mirage", f"""
enc = load("{MODEL}")
feat = layer(enc, "features")
logits = layer(enc, "logits")
x = npy("{MNIST}/test_images.npy")[0:70]
d = dataset("{MNIST}/test_images.npy", limit=70, chunk=16)
print("chunks:", d.chunks, "count:", d.count)
print("encode:", shape(encode(feat, d)), sum(abs(encode(feat, d) - encode(feat, x))))
print("score:", sum(abs(score(detector("energy", logits), d) - score(detector("energy", logits), x))))
print("predict:", predict(logits, d) == predict(logits, x))
""")
    r = run(["run", str(script)])
    assert r.returncode == 0, r.stderr
    assert "chunks: 5 count: 70" in r.stdout
    assert "encode: [70, 128] 0" in r.stdout
    assert "score: 0" in r.stdout
    assert "predict: true" in r.stdout
