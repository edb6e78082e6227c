#!/usr/bin/env bash
# The main demo: build `mirage` (release), install its kernelspec into .venv, run
# Examples/quickstart.mirage (the demo attack on the bundled encoder) headless and through the kernel with jupyter_client, then print how to
# use it interactively. No user input.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The toolchain lives in /opt/swift on our machines; use it if swift is not on PATH.
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
EXAMPLE="${1:-Examples/quickstart.mirage}"

bash scripts/setup.sh

echo "== swift build -c release"
swift build -c release --static-swift-stdlib --product mirage
MIRAGE="$ROOT/.build/release/mirage"

echo "== install the kernelspec into .venv"
VIRTUAL_ENV="$ROOT/.venv" "$MIRAGE" install --sys-prefix
export JUPYTER_PATH="$ROOT/.venv/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
"$ROOT/.venv/bin/jupyter" kernelspec list

echo
echo "== mirage run $EXAMPLE --out out/  (headless)"
"$MIRAGE" run "$EXAMPLE" --out out/
echo "(files in out/: $(ls out 2>/dev/null | tr '\n' ' '))"

echo
echo "== the same script through the kernel (jupyter_client)"
"$ROOT/.venv/bin/python" scripts/run_notebook_cells.py --kernel mirage "$EXAMPLE"

cat <<MSG

== next steps
  Console:     .venv/bin/pip install jupyter_console && .venv/bin/jupyter console --kernel mirage
  JupyterLab:  .venv/bin/pip install jupyterlab && .venv/bin/jupyter lab   (pick the "Mirage" kernel)
  Headless:    .build/release/mirage run SCRIPT.mirage --out out/
  (The kernelspec is in .venv/share/jupyter/kernels/mirage; jupyter finds it when run from .venv/bin.)
MSG
