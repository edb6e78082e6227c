#!/usr/bin/env bash
# The full verification of issue #5 on the bundled encoder: 100 sources (50 uniform noise, 50 spirals) attacked
# towards 100 distinct held-out test digits (L2, ε = 15, Adamax, lr = 0.1, uniform δ₀, 200 iterations, one batch),
# then MAPE and every detector's AUROC/FPR95, in-distribution vs raw OOD and vs attacked OOD. It is the test
# MNISTVerificationTests at full size (plain `swift test` runs 10 sources).
# Usage: scripts/attack/verify_mnist.sh [REPORT.json] [--release]
#   REPORT.json  per-sample MAPE and ‖δ‖₂ and the detector table (default /tmp/mirage-verify-mnist.json)
#   --release    build and run the tests in release mode (a full release build of the tests takes a while;
#                the debug build needs about 4–5 minutes for the 100 sources on a busy 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPORT=/tmp/mirage-verify-mnist.json
CONFIG=()
for a in "$@"; do
  case "$a" in
    --release) CONFIG=(-c release) ;;
    *) REPORT="$a" ;;
  esac
done
echo "load: $(uptime | sed 's/.*load average: //')"
MIRAGE_VERIFY_SOURCES=${MIRAGE_VERIFY_SOURCES:-100} MIRAGE_VERIFY_REPORT="$REPORT" \
  swift test "${CONFIG[@]}" --filter MNISTVerificationTests 2>&1 | grep -v "^\[" | sed -n '/MNIST verification/,/Test run/p'
echo "report: $REPORT"
