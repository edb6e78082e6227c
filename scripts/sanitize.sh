#!/usr/bin/env bash
# The Swift suite under a sanitizer, in its own scratch directory (.build-address, .build-thread):
#
#   scripts/sanitize.sh address [swift test options…]     AddressSanitizer (+ LeakSanitizer)
#   scripts/sanitize.sh thread  [swift test options…]     ThreadSanitizer
#
# e.g. scripts/sanitize.sh thread --filter JupyterKernelTests. Suppressions (system libraries that are not
# instrumented: libgomp, oneDNN, libzmq) are in Tests/Sanitizers/; Mirage's own code is never suppressed.
# Exits non-zero on any report: halt_on_error stops at the first one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
kind="${1:-}"; shift || true
case "$kind" in
  address)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_stack_use_after_return=0}"
    export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/Tests/Sanitizers/asan.supp:print_suppressions=0}" ;;
  thread)
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/Tests/Sanitizers/tsan.supp}"
    # One OpenMP thread: oneDNN's kernels then run on the calling thread, which TSan sees.
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" ;;
  *) echo "usage: scripts/sanitize.sh address|thread [swift test options…]" >&2; exit 2 ;;
esac
exec swift test -j "${MIRAGE_SANITIZE_JOBS:-2}" --sanitize="$kind" --scratch-path "$ROOT/.build-$kind" "$@"
