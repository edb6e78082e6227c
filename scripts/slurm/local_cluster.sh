#!/usr/bin/env bash
# Starts (or stops) a real single-node Slurm cluster on localhost, without systemd or cgroups:
# munged as the munge user, slurmctld and slurmd with a generated slurm.conf in a state folder.
#   scripts/slurm/local_cluster.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm/local_cluster.sh stop DIR    # stops the daemons it started, by the PIDs in their pid files
# Needs Debian's slurm-wlm and munge (scripts/setup.sh installs them) and root.
set -euo pipefail

cmd="${1:-}"; dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
log() { printf '[slurm] %s\n' "$*" >&2; }

stop_pidfile() {
  local file="$1" pid
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

case "$cmd" in
start)
  for tool in munged slurmctld slurmd sbatch; do
    command -v "$tool" >/dev/null || { log "$tool not found: install slurm-wlm and munge (scripts/setup.sh)"; exit 1; }
  done
  mkdir -p "$dir"/{state,spool,log}
  dir="$(cd "$dir" && pwd)"
  # munge: its socket folder is not created without systemd; the key comes with the package.
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  if [[ ! -S /run/munge/munge.socket.2 ]] || ! munge -n </dev/null >/dev/null 2>&1; then
    # munged runs as munge: its pid file goes in /run/munge, which munge owns (the state folder may be private).
    su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid --socket=/run/munge/munge.socket.2" \
      || { log "munged failed to start"; exit 1; }
    echo /run/munge/munged.pid > "$dir/munged.ours"
  fi
  cpus="$(nproc)"
  mem="$(free -m | awk '/^Mem:/ { printf "%d", $7 * 0.9 }')"
  cat > "$dir/slurm.conf" <<CONF
ClusterName=mirage-local
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF" -N localhost
  for _ in $(seq 100); do
    state="$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)"
    [[ "$state" == idle* || "$state" == mixed* ]] && break
    sleep 0.1
  done
  [[ "$state" == idle* || "$state" == mixed* ]] || { log "node not idle (state: ${state:-none}); see $dir/log"; exit 1; }
  log "cluster up: 1 node, $cpus CPUs, ${mem} MB (SLURM_CONF=$SLURM_CONF)"
  echo "export SLURM_CONF=$SLURM_CONF"
  ;;
stop)
  dir="$(cd "$dir" 2>/dev/null && pwd)" || exit 0
  stop_pidfile "$dir/slurmd.pid"
  stop_pidfile "$dir/slurmctld.pid"
  if [[ -f "$dir/munged.ours" ]]; then stop_pidfile "$(cat "$dir/munged.ours")"; rm -f "$dir/munged.ours"; fi
  log "cluster stopped"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
