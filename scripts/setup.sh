#!/usr/bin/env bash
# Idempotent set-up for building and testing Mirage.
#  1. Debian packages the Swift targets link against (apt only when something is missing).
#  2. A git-ignored virtualenv `.venv` at the repo root with the pinned test tools from
#     requirements-test.txt (pip only when the requirements changed since the last run).
# No user input; safe to run repeatedly and on CI (CI=true, clean clone, no stdin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# libgcc-12-dev: libgomp.so, which CDNNL links to run small oneDNN primitives on one OpenMP thread.
# slurm-wlm, munge: the real single-node Slurm cluster of Tests/python/test_slurm.py (scripts/slurm/local_cluster.sh).
APT_PACKAGES=(libzmq3-dev libpng-dev libjpeg-dev libdnnl-dev libgcc-12-dev libcairo2-dev zlib1g-dev libedit-dev fonts-dejavu-core pkg-config protobuf-compiler slurm-wlm munge)
REQUIREMENTS="$ROOT/requirements-test.txt"
VENV="${MIRAGE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*" >&2; }

# --- 1. Debian packages ---------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg -s "$pkg" >/dev/null 2>&1 \
     || ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
      log "need root (or sudo) to install: ${missing[*]}"; exit 1; fi
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq </dev/null
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
else
  log "Debian packages present"
fi

# --- 2. Python virtualenv with the pinned test tools --------------------------------------
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "python3 not found (set PYTHON=...)"; exit 1
fi
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "creating virtualenv $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.mirage-requirements.stamp"
want="$( { sha256sum "$REQUIREMENTS" | cut -d' ' -f1; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
  log "installing Python test tools into $VENV"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  "$VENV/bin/python" -m pip install -q -r "$REQUIREMENTS" </dev/null
  printf '%s\n' "$want" >"$STAMP"
else
  log "virtualenv up to date ($VENV)"
fi
