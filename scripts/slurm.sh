#!/usr/bin/env bash
# Makes a single-node Slurm cluster available for govern's dask-jobqueue test, idempotently, and prints the
# path of its slurm.conf on stdout (messages go to stderr; point SLURM_CONF at it to use it):
#
#     /var/tmp/repropack-slurm/slurm.conf
#
# Installs Debian's slurm-wlm and munge when their binaries are missing, writes a private configuration (this
# machine as the controller and the one compute node, one partition "debug") in $REPROPACK_SLURM_HOME (default
# /var/tmp/repropack-slurm), and starts munged, slurmctld and slurmd (there is no systemd here). It never
# touches /etc/slurm. When the controller already answers with that configuration it does nothing. It is for
# tests on this machine: jobs run as whoever submits them, with no accounting. Needs root.
set -euo pipefail

home="${REPROPACK_SLURM_HOME:-/var/tmp/repropack-slurm}"
conf="$home/slurm.conf"

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm: needs root (it starts munged, slurmctld and slurmd)" >&2
  exit 3
fi

answers() {
  [ -f "$conf" ] && SLURM_CONF="$conf" timeout 10 scontrol ping 2>/dev/null | grep -q "is UP" &&
    SLURM_CONF="$conf" timeout 10 sinfo -h -o %t 2>/dev/null | grep -Eq "^(idle|mix|alloc)"
}

if command -v scontrol >/dev/null 2>&1 && answers; then
  echo "$conf"
  exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm: installing slurm-wlm and munge" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

node="$(hostname -s)"
cpus="$(nproc)"
# What slurmd will find, less a margin: a node configured with more than it has is drained.
memory_mb="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)"

mkdir -p "$home/spool/ctld" "$home/spool/d" "$home/log"
chown -R slurm: "$home/spool/ctld" "$home/log"
cat > "$conf" <<EOF
# Written by scripts/slurm.sh: a throwaway single-node cluster for tests on this machine.
ClusterName=repropack-test
SlurmctldHost=${node}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmUser=slurm
SlurmctldPort=56817
SlurmdPort=56818
SlurmctldPidFile=${home}/slurmctld.pid
SlurmdPidFile=${home}/slurmd.pid
StateSaveLocation=${home}/spool/ctld
SlurmdSpoolDir=${home}/spool/d
SlurmctldLogFile=${home}/log/slurmctld.log
SlurmdLogFile=${home}/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
NodeName=${node} CPUs=${cpus} RealMemory=${memory_mb} State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP
EOF

if [ ! -S /run/munge/munge.socket.2 ] || ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  echo "slurm: starting munged" >&2
  mkdir -p /run/munge && chown munge: /run/munge
  [ -f /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || create-munge-key -f; }
  runuser -u munge -- /usr/sbin/munged --force
fi

# Whatever answered before (another configuration, or a daemon half-started) goes first.
for pidfile in "$home/slurmctld.pid" "$home/slurmd.pid"; do
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
  fi
done
sleep 1
echo "slurm: starting slurmctld and slurmd ($node, $cpus CPUs, ${memory_mb} MB)" >&2
SLURM_CONF="$conf" slurmctld -c
SLURM_CONF="$conf" slurmd -c

for _ in $(seq 1 30); do
  if answers; then
    echo "$conf"
    exit 0
  fi
  sleep 1
done
echo "slurm: the controller did not come up; see $home/log/slurmctld.log and slurmd.log" >&2
exit 3
