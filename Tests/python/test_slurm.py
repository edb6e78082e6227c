"""A dataset audit on a real single-node Slurm cluster (Debian's slurm-wlm and munge, started by
scripts/slurm/local_cluster.sh and stopped by its PIDs): a 4-task job array, one task killed mid-run and
resubmitted, then `mirage merge`; the merged metrics and per-sample scores equal the unsharded run's, byte for byte."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from test_audit import per_sample, run, tiny_script, write_script

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "scripts" / "slurm" / "local_cluster.sh"
SBATCH = ROOT / "scripts" / "slurm" / "audit.sbatch"

pytestmark = pytest.mark.skipif(shutil.which("slurmctld") is None or os.geteuid() != 0,
                                reason="needs root and Debian's slurm-wlm and munge (scripts/setup.sh installs them)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm")
    r = subprocess.run(["bash", str(CLUSTER), "start", str(state)], capture_output=True, text=True, timeout=120)
    try:
        assert r.returncode == 0, r.stderr
        env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
        yield env
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], capture_output=True, text=True, timeout=60)


def chunks_in(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_job_array_with_a_killed_task_matches_the_unsharded_run(cluster, tmp_path):
    ood = tmp_path / "ood.npy"
    np.save(ood, np.random.default_rng(11).random((48, 1, 28, 28), dtype=np.float32))
    # 64 test digits + 48 OOD images in chunks of 8: 14 chunks, 3-4 per task. Task 2 gets chunks 2 and 6 (test digits,
    # scored only) and 10 (OOD images, attacked): 1,500 steps keep chunk 10 running for seconds, so the kill lands
    # between its first commit and its last however fast the engine gets (with 30 steps, after a speed-up, task 2
    # finished all three chunks before scancel landed).
    text = tiny_script(tmp_path / "OUT", f'"{ood}"', steps=1500, chunk=8, n_test=64)
    reference = tmp_path / "unsharded"
    script = write_script(tmp_path, "ref.mirage", text.replace(str(tmp_path / "OUT"), str(reference)))
    assert run(["run", str(script)]).returncode == 0
    assert run(["merge", str(reference)]).returncode == 0

    out = tmp_path / "array"
    script = write_script(tmp_path, "array.mirage", text.replace(str(tmp_path / "OUT"), str(out)))
    env = {**cluster, "MIRAGE_BIN": os.environ["MIRAGE_BIN"]}
    submit = subprocess.run(["sbatch", "--parsable", "--array=0-3", f"--chdir={tmp_path}", str(SBATCH), str(script)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert submit.returncode == 0, submit.stderr
    job = submit.stdout.strip().split(";")[0]
    # Kill task 2 once it has committed a chunk and before it finishes its 3 (chunks 2, 6, 10).
    victim = out / "shard-2-of-4.sqlite"
    deadline = time.time() + 300
    while time.time() < deadline and chunks_in(victim) < 1:
        time.sleep(0.02)
    assert chunks_in(victim) >= 1, "task 2 never committed a chunk"
    subprocess.run(["scancel", "--signal=KILL", "--full", f"{job}_2"], env=env, check=True, timeout=30)
    while time.time() < deadline:
        q = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True, env=env, timeout=30)
        if not q.stdout.strip():
            break
        time.sleep(0.2)
    killed_at = chunks_in(victim)
    assert 1 <= killed_at < 3, f"task 2 was not killed mid-run ({killed_at} chunks)"
    merge = run(["merge", str(out)])
    assert merge.returncode == 1 and "shard 2/4: chunks" in merge.stderr, merge.stderr

    # Resubmit the killed task alone; MIRAGE_SHARD_TOTAL keeps the array's size. It resumes after its chunks.
    again = subprocess.run(["sbatch", "--wait", "--array=2", f"--chdir={tmp_path}", "--export=ALL,MIRAGE_SHARD_TOTAL=4",
                            str(SBATCH), str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    logs = sorted(tmp_path.glob("slurm-mirage-audit-*_2.out"))
    assert any(f"chunks {killed_at}/" in p.read_text() for p in logs), [p.read_text()[-500:] for p in logs]

    merge = run(["merge", str(out)])
    assert merge.returncode == 0, merge.stderr
    for i in range(4):
        assert f"shard {i}/4 (shard-{i}-of-4.sqlite)" in merge.stderr
    assert (out / "metrics.csv").read_bytes() == (reference / "metrics.csv").read_bytes()
    assert per_sample(out / "merged.sqlite") == per_sample(reference / "merged.sqlite")
