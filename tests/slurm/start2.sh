#!/usr/bin/env bash
# Start a throw-away TWO-node SLURM on one machine, everything under one directory:
#
#   tests/slurm/start2.sh DIR      -> prints the lines of DIR/env.sh (SLURM_CONF=..., ALEXNET_TEST_NETNS=...)
#   tests/slurm/stop.sh   DIR      -> stops the daemons (by PID) and removes the network namespaces
#
# Three network namespaces, named after this script's PID: <p>c holds a bridge (10.77.0.1/24) and
# slurmctld (host name "anctl"); <p>1 and <p>2 are the nodes node1 (10.77.0.11) and node2
# (10.77.0.12), each joined to the bridge by a veth pair and running its own slurmd under its own
# host name (unshare --uts). No interface or address is added to the host's own namespace: all
# traffic stays inside these namespaces. Client commands run in the controller's namespace:
#   nsenter --net=/run/netns/<p>c sbatch ...   (tests/slurm/harness.py's Slurm2 does this; not `ip netns
#   exec`, which remounts /sys without the cgroup file system slurmd looks for)
# File system and munge (a Unix socket under DIR) are shared. Two partitions: `low` (default,
# preempted with PreemptMode=REQUEUE) and `high` (preempts `low`: preempt/partition_prio).
# Needs root, iproute2 (ip netns), util-linux (unshare) and
#   apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
# Exit status 3 (with the reason on stderr) when namespaces or SLURM cannot be had here.
set -euo pipefail
DIR=${1:?usage: start2.sh DIR}
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
chmod 700 "$DIR"
PATH=$PATH:/usr/sbin:/sbin
for b in munged slurmctld slurmd sbatch scontrol ip unshare; do
  command -v "$b" >/dev/null || { echo "start2.sh: '$b' not found (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge iproute2)" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "start2.sh: network namespaces need root" >&2; exit 3; }
P=an$$
C=${P}c N1=${P}1 N2=${P}2
echo "$C $N1 $N2" > "$DIR/netns"                 # for stop.sh, before anything is created
ip netns add "$C" 2>"$DIR/netns.err" || { echo "start2.sh: cannot create a network namespace here: $(cat "$DIR/netns.err")" >&2; rm -f "$DIR/netns"; exit 3; }
ip netns add "$N1"; ip netns add "$N2"
ip -n "$C" link set lo up
ip -n "$C" link add br0 type bridge 2>"$DIR/netns.err" || { echo "start2.sh: cannot create a bridge: $(cat "$DIR/netns.err")" >&2; exit 3; }
ip -n "$C" addr add 10.77.0.1/24 dev br0
ip -n "$C" link set br0 up
i=0
for N in "$N1" "$N2"; do
  i=$((i + 1))
  ip -n "$C" link add "n$i" type veth peer name eth0 netns "$N"
  ip -n "$C" link set "n$i" master br0 up
  ip -n "$N" link set lo up
  ip -n "$N" addr add "10.77.0.1$i/24" dev eth0
  ip -n "$N" link set eth0 up
done

mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
. "$(dirname "$0")/common.sh"                     # start_munge, write_slurm_conf: shared with start.sh
start_munge "$DIR" start2.sh

write_slurm_conf "$DIR" alexnettest2 "anctl(10.77.0.1)" 6817 6818 <<CONF
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pidfile
SlurmdPidFile=$DIR/run/slurmd-%n.pidfile
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmdParameters=config_overrides
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
KillWait=30
NodeName=node[1-2] NodeAddr=10.77.0.[11-12] CPUs=4 State=UNKNOWN
PartitionName=low Nodes=node[1-2] Default=YES PriorityTier=1 PreemptMode=REQUEUE MaxTime=INFINITE State=UP
PartitionName=high Nodes=node[1-2] PriorityTier=2 PreemptMode=OFF MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"
mkdir -p "$DIR/spool/node1" "$DIR/spool/node2"
nsenter --net=/run/netns/"$C" unshare --uts sh -c 'hostname anctl && exec slurmctld -D -c -i -f "$SLURM_CONF"' \
  >>"$DIR/log/slurmctld.out" 2>&1 &
echo $! > "$DIR/slurmctld.pid"
i=0
for N in "$N1" "$N2"; do
  i=$((i + 1))
  nsenter --net=/run/netns/"$N" unshare --uts sh -c "hostname node$i && exec slurmd -D -c -f \"\$SLURM_CONF\" -N node$i" \
    >>"$DIR/log/slurmd-node$i.out" 2>&1 &
  echo $! > "$DIR/slurmd-node$i.pid"
done

cat > "$DIR/env.sh" <<ENV
export SLURM_CONF=$SLURM_CONF
export ALEXNET_TEST_NETNS=$C
ENV
st=
for _ in $(seq 300); do
  st=$(nsenter --net=/run/netns/"$C" sinfo -h -N -p low -o %t 2>/dev/null | sort -u | tr '\n' ' ' || true)
  case "$st" in "idle ") break;; esac
  sleep 0.1
done
case "$st" in
  "idle ") cat "$DIR/env.sh";;
  *) echo "start2.sh: nodes not ready (states '$st'); logs in $DIR/log" >&2; tail -n 20 "$DIR"/log/* >&2 || true; exit 1;;
esac
