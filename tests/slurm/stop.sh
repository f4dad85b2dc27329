#!/usr/bin/env bash
# Stop what tests/slurm/start.sh DIR (or start2.sh DIR) started: cancel its jobs, then end the slurmd(s),
# slurmctld and munged by the PIDs it recorded, and any job step (slurmstepd + its processes) still
# running under DIR/slurm.conf; then remove the network namespaces start2.sh created (DIR/netns).
set -u
PATH=$PATH:/usr/sbin:/sbin
DIR=${1:?usage: stop.sh DIR}
DIR=$(cd "$DIR" 2>/dev/null && pwd) || exit 0
CONF="$DIR/slurm.conf"
ns=(); [ -s "$DIR/netns" ] && read -r -a ns < "$DIR/netns"
in_ctl=(); [ "${#ns[@]}" -gt 0 ] && ip netns list 2>/dev/null | grep -qw "${ns[0]}" && in_ctl=(nsenter --net=/run/netns/"${ns[0]}")
if [ -f "$CONF" ] && [ -f "$DIR/slurmctld.pid" ] && command -v scancel >/dev/null; then
  export SLURM_CONF="$CONF"
  timeout 10 "${in_ctl[@]}" scancel --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 100); do  # up to 10 s for the steps to end
    [ -z "$(timeout 5 "${in_ctl[@]}" squeue -h -t RUNNING,COMPLETING,CONFIGURING -o %i 2>/dev/null)" ] && break
    sleep 0.1
  done
fi
# children PID: from /proc only (no procps in minimal containers)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../hpc/lib" && pwd)/proc.sh"
tree() { local c; for c in $(children "$1"); do tree "$c"; done; echo "$1"; }   # deepest first
# job steps of THIS cluster: slurmstepd processes whose environment names our slurm.conf
steps() {
  local f p c
  for f in /proc/[0-9]*/comm; do
    read -r c 2>/dev/null < "$f" || continue
    [ "$c" = slurmstepd ] || continue
    p=${f#/proc/}; p=${p%/comm}
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$CONF" && echo "$p"
  done
}
for d in slurmd slurmd-node1 slurmd-node2 slurmctld; do
  f="$DIR/$d.pid"; [ -f "$f" ] || continue
  pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null; rm -f "$f"
done
for s in $(steps); do for p in $(tree "$s"); do kill -KILL "$p" 2>/dev/null; done; done
f="$DIR/munged.pid"
if [ -f "$f" ]; then
  pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null; rm -f "$f"
fi
for n in "${ns[@]}"; do   # start2.sh's namespaces (and with them their veth pairs and bridge)
  ip netns pids "$n" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$n" 2>/dev/null
done
rm -f "$DIR/netns"
exit 0
