#!/usr/bin/env bash
# Start a throw-away single-node SLURM (munged + slurmctld + slurmd) under one directory.
#
#   tests/slurm/start.sh DIR      -> prints the lines of DIR/env.sh (source it: SLURM_CONF=...)
#   tests/slurm/stop.sh  DIR      -> stops the daemons started here (by their PIDs) and nothing else
#
# Needs (Debian 12, as root): apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
# Nothing is started by apt; everything here (key, socket, state, logs, PIDs) lives under DIR.
# The node is this host at 127.0.0.1 with CPUs=$(nproc), one partition `debug`, no accounting.
set -euo pipefail
DIR=${1:?usage: start.sh DIR}
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
chmod 700 "$DIR"
for b in munged mungekey slurmctld slurmd sbatch scontrol; do
  command -v "$b" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
  command -v "$b" >/dev/null || { echo "start.sh: '$b' not found; install: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge" >&2; exit 3; }
done
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
. "$(dirname "$0")/common.sh"                     # start_munge, write_slurm_conf: shared with start2.sh
start_munge "$DIR" start.sh

# --- slurm.conf ------------------------------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
free_port() {  # a port nothing listens on (bash's /dev/tcp: no python needed)
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "start.sh: no free port found" >&2; exit 1
}
CTLD_PORT=${SLURM_TEST_CTLD_PORT:-$(free_port)}
D_PORT=${SLURM_TEST_SLURMD_PORT:-$(free_port)}
while [ "$D_PORT" = "$CTLD_PORT" ]; do D_PORT=$(free_port); done
write_slurm_conf "$DIR" alexnettest "$HOST(127.0.0.1)" "$CTLD_PORT" "$D_PORT" <<CONF
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pidfile
SlurmdPidFile=$DIR/slurmd.pidfile
SlurmdLogFile=$DIR/log/slurmd.log
KillWait=10
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"

# --- daemons, in the foreground (-D) of background jobs; their PIDs are kept for stop.sh -----------
slurmctld -D -c -i -f "$SLURM_CONF" >>"$DIR/log/slurmctld.out" 2>&1 &
echo $! > "$DIR/slurmctld.pid"
slurmd -D -c -f "$SLURM_CONF" -N "$HOST" >>"$DIR/log/slurmd.out" 2>&1 &
echo $! > "$DIR/slurmd.pid"

cat > "$DIR/env.sh" <<ENV
export SLURM_CONF=$SLURM_CONF
ENV
# wait until the node is idle (normally about 2 s)
for _ in $(seq 300); do
  st=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
  case "$st" in idle*|mix*|alloc*) break;; esac
  sleep 0.1
done
case "$st" in
  idle*|mix*|alloc*) cat "$DIR/env.sh";;
  *) echo "start.sh: node not ready (state '$st'); logs in $DIR/log" >&2; tail -n 20 "$DIR"/log/*.log "$DIR"/log/*.out >&2 || true; exit 1;;
esac
