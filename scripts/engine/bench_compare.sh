#!/usr/bin/env bash
# Mirage's attack step against PyTorch's on the same weights, interleaved in one run (the machine's
# load changes from minute to minute, so only same-run pairs compare), OMP_WAIT_POLICY=PASSIVE for
# both. Usage: scripts/engine/bench_compare.sh [repetitions] [configs…]; a config is
# model:batch:steps with model mnist or resnet18 (default: mnist:1:200 mnist:128:30 resnet18:1:20 resnet18:8:5).
# Needs .build/release/mirage, /tmp/resnet18.onnx (scripts/model/export_resnet18.py) and a Python
# with torch ($PYTHON, default the test venv .venv/bin/python from scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}"
repetitions="${1:-3}"; shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(mnist:1:200 mnist:128:30 resnet18:1:20 resnet18:8:5)
export OMP_WAIT_POLICY=PASSIVE
for config in "${configs[@]}"; do
  IFS=: read -r model batch steps <<<"$config"
  case "$model" in
    mnist) onnx=Examples/models/mnist_cnn.onnx ;;
    resnet18) onnx=/tmp/resnet18.onnx ;;
  esac
  for ((r = 1; r <= repetitions; r++)); do
    mirage=$(.build/release/mirage bench attack "$onnx" --output features --batch "$batch" --steps "$steps")
    torch=$("$PYTHON" scripts/model/bench_attack_torch.py --model "$model" --batch "$batch" --steps "$steps")
    m_ms=$(sed -E 's/.*median ([0-9.]+) ms.*/\1/' <<<"$mirage"); m_rss=$(sed -E 's/.*peak RSS ([0-9.]+) MB.*/\1/' <<<"$mirage")
    t_ms=$(sed -E 's/.*: ([0-9.]+) ms\/step median.*/\1/' <<<"$torch"); t_rss=$(sed -E 's/.*peak RSS ([0-9.]+) MiB.*/\1/' <<<"$torch")
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '%-9s batch %-4s rep %d: mirage %8.2f ms  torch %8.2f ms  ratio %.2f  RSS %s MB / %s MiB  load %s\n' \
      "$model" "$batch" "$r" "$m_ms" "$t_ms" "$(echo "$m_ms / $t_ms" | bc -l)" "$m_rss" "$t_rss" "$load"
  done
done
