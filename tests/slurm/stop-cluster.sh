#!/usr/bin/env bash
# Stop the test cluster that tests/slurm/start-cluster.sh started: cancel its jobs, stop exactly the daemons
# it recorded (slurmd, slurmctld, munged, in that order) and remove the configuration it wrote. Its logs stay
# in the state folder. Safe to run when nothing (or only part of the cluster) was started.
set -uo pipefail

STATE_DIR=${BNLAB_SLURM_DIR:-/tmp/bnlab-slurm}
MARKER="# written by bnlab tests/slurm/start-cluster.sh"
PIDS=$STATE_DIR/pids

if [[ ! -e $PIDS ]]; then
  echo "stop-cluster.sh: no test cluster recorded in $PIDS; nothing to stop"
  exit 0
fi

# Jobs still running would outlive slurmd (their slurmstepd keeps going).
if grep -q '^slurmctld ' "$PIDS"; then
  scancel --full --quiet --user "$(id -un)" 2>/dev/null
  for _ in $(seq 20); do
    [[ -z $(squeue --noheader --states=PENDING,RUNNING,COMPLETING 2>/dev/null) ]] && break
    sleep 0.5
  done
fi

for name in slurmd slurmctld munged; do
  read -r _ pid < <(grep "^$name " "$PIDS") || continue
  # Only the recorded process, and only if that pid still belongs to the daemon (not a recycled pid).
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || continue
  kill "$pid"
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop-cluster.sh: $name ($pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid"
  fi
done
rm -f "$PIDS"

for file in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
  if [[ -e $file ]] && grep -qF "$MARKER" "$file"; then
    rm -f "$file"
  fi
done
echo "stop-cluster.sh: stopped; logs are in $STATE_DIR"
