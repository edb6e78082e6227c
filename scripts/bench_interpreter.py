"""The interpreter's overhead against CPython's: a loop of 1,000,000 scalar additions (and a few other loops),
run by `mirage run` and by `python3`, interleaved in the same run, best and median of N each, with the load average.

    .venv/bin/python scripts/bench_interpreter.py [--mirage .build/release/mirage] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, Mirage source, Python source): the same program in both languages.
CASES = [
    ("1,000,000 additions", "x = 0\nfor i in range(1000000):\n    x = x + 1\nprint(x)\n",
     "x = 0\nfor i in range(1000000):\n    x = x + 1\nprint(x)\n"),
    ("function calls (200,000)", "def f(a, b):\n    return a * b + 1\ns = 0\nfor i in range(200000):\n    s = f(i, 2)\nprint(s)\n",
     "def f(a, b):\n    return a * b + 1\ns = 0\nfor i in range(200000):\n    s = f(i, 2)\nprint(s)\n"),
    ("list comprehension (1,000,000)", "xs = [i * 2 for i in range(1000000) if i % 3 == 0]\nprint(len(xs))\n",
     "xs = [i * 2 for i in range(1000000) if i % 3 == 0]\nprint(len(xs))\n"),
    ("list appends (1,000,000)", "xs = []\nfor i in range(1000000):\n    xs.append(i)\nprint(len(xs))\n",
     "xs = []\nfor i in range(1000000):\n    xs.append(i)\nprint(len(xs))\n"),
    ("while loop in a function (1,000,000)",
     "def count(n):\n    i = 0\n    total = 0\n    while i < n:\n        total += i\n        i += 1\n    return total\nprint(count(1000000))\n",
     "def count(n):\n    i = 0\n    total = 0\n    while i < n:\n        total += i\n        i += 1\n    return total\nprint(count(1000000))\n"),
]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mirage", default=str(ROOT / ".build" / "release" / "mirage"))
    parser.add_argument("--python", default="python3")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env_note = f"load average {os.getloadavg()[0]:.2f} at start"
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'program':38} {'mirage (s)':>11} {'python3 (s)':>12} {'ratio':>6} {'median ratio':>13}")
        for name, mirage_source, python_source in CASES:
            m_path, p_path = Path(tmp) / "bench.mirage", Path(tmp) / "bench.py"
            m_path.write_text(mirage_source)
            p_path.write_text(python_source)
            m_times, p_times = [], []
            for _ in range(args.repeat):  # interleaved, so both see the same load
                m_times.append(timed([args.mirage, "run", str(m_path)]))
                p_times.append(timed([args.python, str(p_path)]))
            m, p = min(m_times), min(p_times)
            ratio = statistics.median(m_times) / statistics.median(p_times)
            print(f"{name:38} {m:11.3f} {p:12.3f} {m / p:6.2f} {ratio:13.2f}", flush=True)
    print(f"best of {args.repeat} (and the ratio of the medians), process start-up included; "
          f"{env_note}, {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    sys.exit(main())
