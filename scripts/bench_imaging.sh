#!/usr/bin/env bash
# Mirage's imaging against matplotlib (Agg) and Pillow, same data, one run. Prints a table of median milliseconds.
# Usage: scripts/bench_imaging.sh [python]   (python defaults to $PYTHON or python3; needs numpy, pillow, matplotlib)
# MIRAGE_SCRATCH=<dir> builds in another scratch directory (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-${PYTHON:-python3}}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
scratch=(--scratch-path "${MIRAGE_SCRATCH:-.build}")
echo "building (release)..." >&2
swift build -c release --build-tests -Xswiftc -enable-testing "${scratch[@]}" >/dev/null 2>&1 || swift build -c release --build-tests -Xswiftc -enable-testing "${scratch[@]}"
MIRAGE_BENCH=1 swift test -c release -Xswiftc -enable-testing "${scratch[@]}" --skip-build --filter BenchmarkTests 2>/dev/null | grep '^BENCH' | sed 's/^BENCH /mirage_/' >>"$out"
"$PY" scripts/bench_imaging.py | sed 's/^BENCH //' >>"$out"
"$PY" - "$out" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, ms, size = line.split()
    rows[name] = (float(ms), int(size))
pairs = [("10,000-point line plot → PNG (1280x800)", "mirage_line10k_png", "matplotlib_line10k_png"),
         ("224x224 RGB picture → PNG", "mirage_image224_png", "pillow_image224_png"),
         ("64-picture grid with captions (plot)", "mirage_grid64_plot", "matplotlib_grid64_plot"),
         ("64-picture tiles (PictureDisplay)", "mirage_grid64_tiles", "pillow_grid64_tiles")]
print(f"{'task':44} {'Mirage ms':>10} {'other ms':>10} {'other':>11} {'speed-up':>9}")
for title, ours, theirs in pairs:
    if ours in rows and theirs in rows:
        a, b = rows[ours][0], rows[theirs][0]
        who = theirs.split("_")[0]
        print(f"{title:44} {a:10.2f} {b:10.2f} {who:>11} {b / a:8.1f}x")
PY
