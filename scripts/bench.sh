#!/usr/bin/env bash
# Build the release `mirage` and run the kernel benchmark against ipykernel.
# Arguments go to scripts/bench_kernel.py (e.g. --starts 10 --roundtrips 1000 --check).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The toolchain lives in /opt/swift on our machines; use it if swift is not on PATH.
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
bash scripts/setup.sh
swift build -c release --static-swift-stdlib --product mirage
exec "$ROOT/.venv/bin/python" scripts/bench_kernel.py --mirage-bin "$ROOT/.build/release/mirage" "$@"
