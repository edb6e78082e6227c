#!/usr/bin/env bash
# Coverage-guided fuzzing of one parser with libFuzzer and AddressSanitizer.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options…]     TARGET: language onnx png jpeg npy attack wire, or all
#   scripts/fuzz.sh --build                                  only build .build-fuzz/debug/mirage-fuzz
#
# Builds `mirage-fuzz` with -sanitize=fuzzer,address -DFUZZING into the git-ignored .build-fuzz (once), then
# runs TARGET for SECONDS from the committed seeds (Tests/Fuzz/corpus/TARGET) plus a working corpus
# (.build-fuzz/corpus/TARGET, kept between runs), with the target's dictionary when there is one, a 2 GB
# memory limit (-rss_limit_mb=2048; MIRAGE_MEMORY_LIMIT=1G so Mirage's own limit answers first) and a
# per-input time limit (MIRAGE_FUZZ_TIMEOUT, default 10 s). A crash, hang or out-of-memory input is written to
# .build-fuzz/findings/TARGET/ and the run fails; fix it, then keep the input in Tests/Fuzz/regressions/TARGET/
# (`swift test --filter FuzzRegressionTests` replays it). The last lines of each run (executions, coverage)
# are appended to .build-fuzz/fuzz-log.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

SCRATCH="$ROOT/.build-fuzz"
BIN="$SCRATCH/debug/mirage-fuzz"
build() {
  echo "[fuzz] building mirage-fuzz with -sanitize=fuzzer,address into .build-fuzz" >&2
  # lld: ld.gold crashes (internal error in format_file_lineno) when it reports a link error of these objects.
  swift build -j "${MIRAGE_FUZZ_JOBS:-2}" --scratch-path "$SCRATCH" --product mirage-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld 2>&1 \
    | grep -v "Cannot export local symbol" >&2
  [[ -x "$BIN" ]]
}

if [[ "${1:-}" == "--build" ]]; then build; exit; fi
if [[ $# -lt 2 ]]; then
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
TARGET="$1"; SECONDS_PER_TARGET="$2"; shift 2
build

# The registry's names (Sources/FuzzTargets/FuzzTarget.swift; FuzzRegressionTests checks this list matches).
TARGETS="language onnx png jpeg npy attack wire"
if [[ "$TARGET" == all ]]; then
  status=0
  for name in $TARGETS; do
    "$ROOT/scripts/fuzz.sh" "$name" "$SECONDS_PER_TARGET" "$@" || status=1
  done
  exit "$status"
fi

SEEDS="$ROOT/Tests/Fuzz/corpus/$TARGET"
WORK="$SCRATCH/corpus/$TARGET"
# MIRAGE_FUZZ_FRESH=1 (what scripts/test.sh sets, with -seed=1): start from the committed seeds alone, so a run with a
# fixed seed explores the same inputs on every machine — CI's 30 s are a prefix of what a longer local run explored.
# The run counts cap it at what was checked here with that seed (about 30 s each on this machine).
if [[ "${MIRAGE_FUZZ_FRESH:-0}" == 1 ]]; then
  WORK="$SCRATCH/fresh-corpus/$TARGET"; rm -rf "$WORK"
  case "$TARGET" in
    language) runs=15000 ;;
    onnx|attack|jpeg) runs=100000 ;;
    *) runs=200000 ;;
  esac
  set -- -runs="${MIRAGE_FUZZ_RUNS:-$runs}" "$@"
fi
FINDINGS="$SCRATCH/findings/$TARGET"
mkdir -p "$WORK" "$FINDINGS"
[[ -d "$SEEDS" ]] || { echo "[fuzz] no seed corpus $SEEDS" >&2; exit 2; }
options=(
  -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout="${MIRAGE_FUZZ_TIMEOUT:-10}"
  -artifact_prefix="$FINDINGS/" -print_final_stats=1 -reload=0
)
for dictionary in "$ROOT/Tests/Fuzz/dictionaries/$TARGET.dict"; do
  if [[ -f "$dictionary" ]]; then options+=(-dict="$dictionary"); break; fi
done
case "$TARGET" in
  onnx|png|jpeg|attack) options+=(-max_len=65536) ;;
  *) options+=(-max_len=8192) ;;
esac

export MIRAGE_MEMORY_LIMIT="${MIRAGE_MEMORY_LIMIT:-1G}"
# oneDNN and OpenMP keep one thread pool; leaks at exit are not findings (libFuzzer's -detect_leaks stays on per input).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:handle_abort=1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# A Swift trap goes to libFuzzer's deadly-signal handler: Swift's own backtracer reads memory ASan reports.
export SWIFT_BACKTRACE=enable=no
echo "[fuzz] $TARGET for ${SECONDS_PER_TARGET}s: seeds $SEEDS, working corpus $WORK" >&2
log="$SCRATCH/last-$TARGET.log"
set +e
MIRAGE_FUZZ_TARGET="$TARGET" "$BIN" "${options[@]}" "$@" "$WORK" "$SEEDS" 2>&1 | tee "$log" | grep -E "^#[0-9]+.*(DONE|pulse)|^(stat::|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)|INITED|Done [0-9]+ runs" >&2
status=${PIPESTATUS[0]}
set -e
{
  printf '%s %s %ss exit %s (load %s): ' "$(date -u +%FT%TZ)" "$TARGET" "$SECONDS_PER_TARGET" "$status" "$(cut -d' ' -f1-3 /proc/loadavg)"
  grep -E "^#[0-9]+.*DONE" "$log" | tail -1 | tr -s ' '
  grep -E "^stat::number_of_executed_units" "$log" | tr '\n' ' '
  echo
} >> "$SCRATCH/fuzz-log.txt"
tail -1 "$SCRATCH/fuzz-log.txt" >&2
exit "$status"
