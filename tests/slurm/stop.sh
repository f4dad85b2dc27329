#!/usr/bin/env bash
# Stop what tests/slurm/start.sh DIR started: cancel its jobs, then end slurmd, slurmctld and munged by the
# PIDs it recorded, and any job step (slurmstepd + its processes) still running under DIR/slurm.conf.
set -u
DIR=${1:?usage: stop.sh DIR}
DIR=$(cd "$DIR" 2>/dev/null && pwd) || exit 0
CONF="$DIR/slurm.conf"
if [ -f "$CONF" ] && [ -f "$DIR/slurmctld.pid" ] && command -v scancel >/dev/null; then
  export SLURM_CONF="$CONF"
  timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 100); do  # up to 10 s for the steps to end
    [ -z "$(timeout 5 squeue -h -t RUNNING,COMPLETING,CONFIGURING -o %i 2>/dev/null)" ] && break
    sleep 0.1
  done
fi
# the process tree below PID, deepest first
tree() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; done; echo "$1"; }
# job steps of THIS cluster: slurmstepd processes whose environment names our slurm.conf
steps() {
  local p
  for p in $(pgrep -x slurmstepd 2>/dev/null; ps -eo pid=,args= | awk '$2 ~ /^slurmstepd:/ {print $1}'); do
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$CONF" && echo "$p"
  done | sort -u
}
for d in slurmd slurmctld; do
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
exit 0
