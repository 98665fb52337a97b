#!/usr/bin/env bash
# Start a one-node SLURM cluster on localhost for the tests marked `slurm` (run as root on Debian 12).
#
# Installs Debian's slurm-wlm and munge if missing, writes /etc/slurm/slurm.conf and gres.conf for a
# cluster named "bnlab-test" (partitions `cpu` and `gpu`, as in workflow/profiles/slurm/partitions.yaml;
# two fake GPUs over /dev/null and /dev/zero, so GPU jobs run on this CPU node), starts munged, slurmctld
# and slurmd by hand (no systemd here) and waits until sinfo shows the node idle. stop-cluster.sh stops them.
# No accounting database: jobs stay visible to `squeue --states=all` for MinJobAge (1 h), which is what
# the tests and the executor's status checks (`--slurm-status-command squeue`) read.
set -euo pipefail

STATE_DIR=${BNLAB_SLURM_DIR:-/tmp/bnlab-slurm}
CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
MARKER="# written by bnlab tests/slurm/start-cluster.sh"

if [[ $(id -u) -ne 0 ]]; then
  echo "start-cluster.sh: run as root (it installs packages and starts daemons)" >&2
  exit 1
fi
for file in "$CONF" "$GRES_CONF"; do
  if [[ -e $file ]] && ! grep -qF "$MARKER" "$file"; then
    echo "start-cluster.sh: $file exists and is not ours; refusing to replace a real cluster's configuration" >&2
    exit 1
  fi
done
if [[ -e $STATE_DIR/pids ]]; then
  echo "start-cluster.sh: a test cluster seems to be running ($STATE_DIR/pids); run stop-cluster.sh first" >&2
  exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

rm -rf "$STATE_DIR"
mkdir -p "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd" /run/munge
chown munge:munge /run/munge
chmod 0755 /run/munge

# The node as slurmd sees it (CPUs, sockets, cores, memory), renamed to localhost.
node=$(slurmd -C | head -n 1 | sed -E 's/^NodeName=[^ ]+/NodeName=localhost NodeAddr=127.0.0.1/')

cat >"$CONF" <<EOF
$MARKER
ClusterName=bnlab-test
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
# No cgroups here. task/none breaks the executor's in-job \`srun --cpu-bind\`; task/affinity works. proctrack/pgid
# kills a job's whole process group at its end: with linuxproc, the job's Snakemake can outlive a job cut at its
# time limit (reparented to init once the batch shell is gone).
ProctrackType=proctrack/pgid
TaskPlugin=task/affinity
# Memory is a consumable resource and a step over its --mem is killed (what the memory-failure test relies on).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
JobAcctGatherParams=UsePss,OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=3600
# A job over its time limit gets SIGTERM, then SIGKILL 5 s later (default 30 s).
KillWait=5
ReturnToService=2
MpiDefault=none
GresTypes=gpu
$node Gres=gpu:fake:2 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF

cat >"$GRES_CONF" <<EOF
$MARKER
# Two fake GPUs: SLURM hands a device that is none to jobs that ask for --gpus, so the GPU request path runs on
# a CPU node. Two, so that a long GPU job (the time-limit test's) does not hold up the others.
AutoDetect=off
NodeName=localhost Name=gpu Type=fake File=/dev/null
NodeName=localhost Name=gpu Type=fake File=/dev/zero
EOF

# Record each daemon as it starts, so stop-cluster.sh stops exactly these even if a later step fails.
started() {
  local name=$1 pid_file=$2
  for _ in $(seq 50); do
    if [[ -s $pid_file ]]; then
      echo "$name $(cat "$pid_file")" >>"$STATE_DIR/pids"
      return
    fi
    sleep 0.2
  done
  echo "start-cluster.sh: $name did not start; see $STATE_DIR/*.log" >&2
  exit 1
}
# A munged that is already running (started by the package's install, say) is used, and left running.
if [[ $(cat "/proc/$(cat /run/munge/munged.pid 2>/dev/null)/comm" 2>/dev/null) != munged ]]; then
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  started munged /run/munge/munged.pid
fi
slurmctld -c
started slurmctld "$STATE_DIR/slurmctld.pid"
slurmd -N localhost
started slurmd "$STATE_DIR/slurmd.pid"

for _ in $(seq 60); do
  if [[ $(sinfo --noheader --nodes localhost --format %t 2>/dev/null) == idle ]]; then
    sinfo
    exit 0
  fi
  sleep 1
done
echo "start-cluster.sh: the node did not become idle within 60 s; see $STATE_DIR/*.log" >&2
sinfo --long --Node >&2 || true
exit 1
