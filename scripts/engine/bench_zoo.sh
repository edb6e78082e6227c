#!/usr/bin/env bash
# Mirage's attack step against PyTorch's on the benchmark zoo (torchvision architectures, seeded
# random weights), interleaved in one run (the machine's load changes from minute to minute, so
# only same-run pairs compare), 2 threads and OMP_WAIT_POLICY=PASSIVE for both. Prints median ms per
# step, the ratio Mirage/PyTorch, peak RSS (PyTorch's with and without the RSS `import torch`
# costs) and the 1-minute load average. Models are exported first if missing (export_zoo.py → .zoo/).
# Usage: [ROUNDS=R] scripts/engine/bench_zoo.sh [configs…]; a config is arch:batch:steps
#        (default: every zoo model at batch 1 and 8, few steps: see below). With ROUNDS=R (default 1) each
#        config runs R Mirage/PyTorch pairs back to back; the row gives the medians of the times and of
#        the pairs' ratios, and the pairs' lowest and highest ratio (the machine's spread, seen in one row).
# Needs .build/release/mirage (swift build -c release) and a Python with torch and torchvision
# ($PYTHON, default the test venv .venv/bin/python from scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}"
MIRAGE="${MIRAGE:-.build/release/mirage}"
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=(resnet18:8:5 resnet50:1:5 resnet50:8:3 densenet121:1:5 densenet121:8:3 mobilenet_v3_large:1:10 mobilenet_v3_large:8:5
           efficientnet_b0:1:10 efficientnet_b0:8:3 convnext_tiny:1:5 convnext_tiny:8:3 vit_b_16:1:5 vit_b_16:8:3 swin_t:1:5 swin_t:8:3)
fi
archs=$(for c in "${configs[@]}"; do echo "${c%%:*}"; done | sort -u)
# shellcheck disable=SC2086
"$PYTHON" scripts/engine/export_zoo.py $archs >/dev/null
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2
ROUNDS="${ROUNDS:-1}"
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '%-19s %5s %10s %10s %6s %11s %10s %16s %6s\n' model batch mirage_ms torch_ms ratio ratio_range mirage_MB torch_MiB load
for config in "${configs[@]}"; do
  IFS=: read -r arch batch steps <<<"$config"
  m_all=(); t_all=(); r_all=(); m_rss=0; t_rss=0; t_import=0; failed=""
  for ((round = 0; round < ROUNDS; round++)); do
    mirage=$("$MIRAGE" bench attack ".zoo/$arch.onnx" --output features --batch "$batch" --steps "$steps" 2>&1) || { failed="$mirage"; break; }
    torch=$("$PYTHON" scripts/engine/bench_zoo_torch.py "$arch" --batch "$batch" --steps "$steps" 2>&1 | tail -1)
    m=$(sed -nE 's/.*median ([0-9.]+) ms.*/\1/p' <<<"$mirage"); t=$(sed -nE 's/.*median ([0-9.]+) ms.*/\1/p' <<<"$torch")
    m_all+=("$m"); t_all+=("$t"); r_all+=("$(echo "$m / $t" | bc -l)")
    m_rss=$(printf '%s\n%s\n' "$m_rss" "$(sed -nE 's/.*peak RSS ([0-9.]+) MB.*/\1/p' <<<"$mirage")" | sort -g | tail -1)
    t_rss=$(printf '%s\n%s\n' "$t_rss" "$(sed -nE 's/.*peak RSS ([0-9.]+) MiB.*/\1/p' <<<"$torch")" | sort -g | tail -1)
    t_import=$(sed -nE 's/.*import torch ([0-9.]+) MiB.*/\1/p' <<<"$torch")
  done
  if [ -n "$failed" ]; then echo "$arch: mirage failed: $failed"; continue; fi
  ratios=$(printf '%s\n' "${r_all[@]}" | sort -g)
  printf '%-19s %5s %10.1f %10.1f %6.2f %5.2f–%-5.2f %10.0f %9.0f (%4.0f) %6s\n' "$arch" "$batch" \
    "$(printf '%s\n' "${m_all[@]}" | median)" "$(printf '%s\n' "${t_all[@]}" | median)" "$(median <<<"$ratios")" \
    "$(head -1 <<<"$ratios")" "$(tail -1 <<<"$ratios")" "$m_rss" "$t_rss" "$(echo "$t_rss - $t_import" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
done
