#!/usr/bin/env bash
# Attack steps per second, Mirage (release build) vs PyTorch eager, in one run on the same machine:
# the bundled MNIST CNN at batch 1 and 128 (features), the bundled Glow at batch 1 and 128 (bits/dim), ResNet-18 (random weights, /tmp/resnet18.onnx) at batch 1 and 8,
# attacking `features`. Prints `uptime` before each pair: other processes on the machine change the figures.
# Usage: scripts/attack/bench_attack.sh [steps_mnist=200] [steps_resnet=10]
# Needs: swift build -c release; the test venv `.venv` (bash scripts/setup.sh: torch, onnx);
#        /tmp/resnet18.onnx (made here with scripts/model/export_resnet18.py if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
MIRAGE=.build/release/mirage
SM=${1:-200}
SR=${2:-10}
export OMP_WAIT_POLICY=PASSIVE
[ -f /tmp/resnet18.onnx ] || "$PY" scripts/model/export_resnet18.py /tmp/resnet18.onnx
run() {  # model-file torch-name batch steps
  echo "== $1 batch $3, $4 steps; load: $(uptime | sed 's/.*load average: //')"
  "$MIRAGE" bench attack "$1" --output features --batch "$3" --steps "$4"
  "$PY" scripts/model/bench_attack_torch.py --model "$2" --batch "$3" --steps "$4"
}
run Examples/models/mnist_cnn.onnx mnist 1 "$SM"
run Examples/models/mnist_cnn.onnx mnist 128 "$((SM / 4))"
run_glow() {  # batch steps: the bundled Glow's bits/dim (PyTorch: the weights train_glow.py left in /tmp/glow_mnist.pt)
  echo "== glow_mnist.onnx batch $1, $2 steps; load: $(uptime | sed 's/.*load average: //')"
  "$MIRAGE" bench attack Examples/models/glow_mnist.onnx --output bpd --batch "$1" --steps "$2"
  "$PY" scripts/model/bench_attack_torch.py --model glow --batch "$1" --steps "$2"
}
run_glow 1 "$SM"
run_glow 128 "$((SM / 10 > 3 ? SM / 10 : 3))"
[ "${GLOW_ONLY:-0}" = 1 ] && exit 0
run /tmp/resnet18.onnx resnet18 1 "$SR"
run /tmp/resnet18.onnx resnet18 8 "$((SR / 2 > 2 ? SR / 2 : 3))"
echo "== done; load: $(uptime | sed 's/.*load average: //')"
