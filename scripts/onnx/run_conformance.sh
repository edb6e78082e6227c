#!/usr/bin/env bash
# Runs ONNX's backend node tests and light models through the engine and writes docs/operators.md.
#
#     scripts/onnx/run_conformance.sh            # all claimed operators
#     MIRAGE_CONFORMANCE_OPS=Conv,Pad scripts/onnx/run_conformance.sh   # a few operators (docs not rewritten)
#
# Environment (defaults): PYTHON (/tmp/onnx-venv/bin/python), MIRAGE_ONNX_NODE_TESTS
# (/tmp/onnx-node-tests, exported by export_node_tests.py when missing), MIRAGE_ONNX_LIGHT_TESTS
# (/tmp/onnx-light-tests, prepared by run_conformance.py when missing), MIRAGE_CONFORMANCE_REPORT
# (/tmp/mirage-conformance-report.md). Exit status: the test's (non-zero if any case failed or errored).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/tmp/onnx-venv/bin/python}
NODE=${MIRAGE_ONNX_NODE_TESTS:-/tmp/onnx-node-tests}
LIGHT=${MIRAGE_ONNX_LIGHT_TESTS:-/tmp/onnx-light-tests}
REPORT=${MIRAGE_CONFORMANCE_REPORT:-/tmp/mirage-conformance-report.md}
[ -f "$NODE/manifest.json" ] || "$PY" scripts/onnx/export_node_tests.py "$NODE"
[ -f "$LIGHT/manifest.json" ] || "$PY" scripts/onnx/run_conformance.py export-light "$LIGHT"
status=0
MIRAGE_ONNX_NODE_TESTS="$NODE" MIRAGE_ONNX_LIGHT_TESTS="$LIGHT" MIRAGE_CONFORMANCE_REPORT="$REPORT" \
    swift test --filter ConformanceTests || status=$?
if [ -z "${MIRAGE_CONFORMANCE_OPS:-}" ] && [ -f "$REPORT" ]; then
    "$PY" scripts/onnx/run_conformance.py docs "$REPORT" docs/operators.md
    echo "wrote docs/operators.md"
fi
exit $status
