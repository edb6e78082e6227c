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
  # torch's Linux wheels bring their CUDA libraries: the installed tools take about 6 GiB. No pip cache, so the
  # downloaded wheels are not kept beside them (that doubled the peak and filled a CI disk).
  free_kib="$(df -Pk "$VENV" | awk 'NR==2 {print $4}')"
  if ((free_kib < 7 * 1024 * 1024)); then
    log "warning: $((free_kib / 1024)) MiB free under $VENV; the test tools need about 6.5 GiB"
  fi
  log "installing Python test tools into $VENV"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_CACHE_DIR=1
  if ! "$VENV/bin/python" -m pip install -q -r "$REQUIREMENTS" </dev/null; then
    log "pip failed; free space now: $(df -Ph "$VENV" | awk 'NR==2 {print $4}') under $VENV"
    exit 1
  fi
  printf '%s\n' "$want" >"$STAMP"
else
  log "virtualenv up to date ($VENV)"
fi

# --- 3. The papermill translator for Mirage (python/mirage_papermill), from this checkout --------------
PM_STAMP="$VENV/.mirage-papermill.stamp"
pm_want="$(cat "$ROOT"/python/mirage_papermill/pyproject.toml "$ROOT"/python/mirage_papermill/mirage_papermill/*.py | sha256sum | cut -d' ' -f1)"
if [[ "$pm_want" != "$(cat "$PM_STAMP" 2>/dev/null || true)" ]]; then
  log "installing python/mirage_papermill into $VENV"
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$VENV/bin/python" -m pip install -q --no-deps "$ROOT/python/mirage_papermill" </dev/null
  rm -rf "$ROOT/python/mirage_papermill/build" "$ROOT"/python/mirage_papermill/*.egg-info
  printf '%s\n' "$pm_want" >"$PM_STAMP"
fi
