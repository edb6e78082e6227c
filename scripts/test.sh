#!/usr/bin/env bash
# The full test run: set-up, the source checks (doc comments, declared imports), `swift build`, `swift test`
# (Swift Testing + XCTest), every fuzz target for 30 s (scripts/fuzz.sh), then the Python suites in
# Tests/python (real Jupyter clients driving the debug `mirage` kernel; test_soak.py at its short scale).
# Exits non-zero if anything fails. Extra arguments are passed to pytest, e.g.
#   scripts/test.sh -k conformance        scripts/test.sh Tests/python/test_protocol.py -x
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The toolchain lives in /opt/swift on our machines; use it if swift is not on PATH.
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

bash scripts/setup.sh || { echo "[test] setup failed" >&2; exit 1; }

section() { printf '\n===== %s =====\n' "$*"; }
status=0

section "source checks (doc comments on public declarations; every import declared in Package.swift)"
if ! "$ROOT/.venv/bin/python" scripts/check_docs.py; then
  echo "[test] documentation check FAILED" >&2
  status=1
fi
if ! "$ROOT/.venv/bin/python" scripts/check_imports.py; then
  echo "[test] import check FAILED" >&2
  status=1
fi

section "swift build"
if ! swift build; then
  echo "[test] swift build FAILED" >&2
  exit 1
fi

section "ONNX backend test data (for the engine's conformance suite in swift test)"
export MIRAGE_ONNX_NODE_TESTS="${MIRAGE_ONNX_NODE_TESTS:-$ROOT/.build/onnx-node-tests}"
export MIRAGE_ONNX_LIGHT_TESTS="${MIRAGE_ONNX_LIGHT_TESTS:-$ROOT/.build/onnx-light-tests}"
export MIRAGE_CONFORMANCE_REPORT="${MIRAGE_CONFORMANCE_REPORT:-$ROOT/.build/conformance-report.md}"
[ -f "$MIRAGE_ONNX_NODE_TESTS/manifest.json" ] || "$ROOT/.venv/bin/python" scripts/onnx/export_node_tests.py "$MIRAGE_ONNX_NODE_TESTS" >/dev/null
[ -f "$MIRAGE_ONNX_LIGHT_TESTS/manifest.json" ] || "$ROOT/.venv/bin/python" scripts/onnx/run_conformance.py export-light "$MIRAGE_ONNX_LIGHT_TESTS" >/dev/null

section "swift test"
if ! swift test; then
  echo "[test] swift test FAILED" >&2
  status=1
fi

section "fuzz targets (libFuzzer + ASan, ${MIRAGE_FUZZ_SECONDS:-30}s each on the committed corpus)"
# MIRAGE_FUZZ_SECONDS=0 skips this; scripts/fuzz.sh TARGET SECONDS runs one target for longer.
if [[ "${MIRAGE_FUZZ_SECONDS:-30}" != 0 ]]; then
  # A fixed seed from the committed seeds alone: every run explores the same inputs, so a red run is a regression
  # in the code, not the luck of the draw (a longer local run with the same seed covers what CI's 30 s explore).
  if ! MIRAGE_FUZZ_FRESH=1 bash scripts/fuzz.sh all "${MIRAGE_FUZZ_SECONDS:-30}" -seed=1; then
    echo "[test] fuzzing FAILED (inputs in .build-fuzz/findings/)" >&2
    status=1
  fi
fi

section "Python suites (Tests/python)"
export MIRAGE_BIN="${MIRAGE_BIN:-$ROOT/.build/debug/mirage}"
export PYTHONDONTWRITEBYTECODE=1
# A hard ceiling for the whole pytest run, on top of pytest-timeout's per-test limit.
if ! timeout --signal=INT --kill-after=30s 20m \
     "$ROOT/.venv/bin/python" -m pytest Tests/python -ra -p no:cacheprovider "$@" </dev/null; then
  echo "[test] Python suites FAILED" >&2
  status=1
fi

if ((status)); then echo "[test] FAILED"; else echo "[test] all passed"; fi
exit "$status"
