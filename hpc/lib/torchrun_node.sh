#!/usr/bin/env bash
# One per node, started by `srun --ntasks-per-node=1` from train.sbatch / evaluate.sbatch:
#   hpc/lib/torchrun_node.sh COMMAND ARGS...      (e.g. python -m alexnet_nb.train --run-dir RUN)
# Runs torchrun for this node's NPROC_PER_NODE processes. On USR1/TERM (sent to this script's PID,
# which it records in $ALEXNET_PID_DIR/<host>.pid for forward_signal.sh) it passes the signal to
# the processes torchrun started, never to torchrun itself: torchrun's agent treats a signal it
# handles as a death signal and kills its workers. Exits 75 when any local process exited 75
# (preempted, checkpoint written), otherwise with torchrun's status.
#
# Sizing is decided here, on each node, from what SLURM gave that node (nodes may differ):
#   processes: NPROC_PER_NODE, else SLURM_GPUS_ON_NODE, else the GPUs in CUDA_VISIBLE_DEVICES, else 1;
#   with ALEXNET_SIZE_WORKERS=1 (train.sbatch, evaluate.sbatch) and no --workers among the arguments:
#     --workers WORKERS, else (SLURM_CPUS_PER_TASK, or the CPUs here) / processes - 1 (one CPU for
#     the trainer itself), at least 0.
# Environment: SLURM_NNODES, SLURM_JOB_ID, MASTER_ADDR/MASTER_PORT (rendezvous, needed when
#   SLURM_NNODES > 1; train.sbatch sets them), NUMA_BINDING (torchrun --numa-binding: node, socket,
#   exclusive or core-complex), ALEXNET_PID_DIR (optional: where to record this script's PID).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${NPROC_PER_NODE:-}" ]; then
  if [ -n "${SLURM_GPUS_ON_NODE:-}" ] && [ "${SLURM_GPUS_ON_NODE}" -gt 0 ] 2>/dev/null; then NPROC_PER_NODE=$SLURM_GPUS_ON_NODE
  elif [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then NPROC_PER_NODE=$(echo "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c .)
  else NPROC_PER_NODE=1; fi
fi
args=("$@")
if [ "${ALEXNET_SIZE_WORKERS:-}" = 1 ]; then
  given=
  for a in "${args[@]}"; do case "$a" in --workers|--workers=*) given=1;; esac; done
  if [ -z "$given" ]; then
    w=${WORKERS:-$(( ${SLURM_CPUS_PER_TASK:-$(nproc)} / NPROC_PER_NODE - 1 ))}
    [ "$w" -ge 0 ] || w=0
    args+=(--workers "$w")
  fi
fi
echo "torchrun_node.sh: $(hostname -s): $NPROC_PER_NODE process(es)${w:+, $w data worker(s) each}" >&2

source "$here/proc.sh"   # children PID: PIDs whose parent is PID, from /proc
agent= pending=
forward() {  # to the rank shims torchrun started (its children), which pass it to the trainers
  local c kids=
  if [ -n "$agent" ]; then kids=$(children "$agent"); fi
  if [ -z "$kids" ]; then pending=$1; return; fi   # torchrun has not started them yet: the loop below retries
  pending=
  for c in $kids; do kill -"$1" "$c" 2>/dev/null; done
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
if [ -n "${ALEXNET_PID_DIR:-}" ]; then mkdir -p "$ALEXNET_PID_DIR" && echo $$ > "$ALEXNET_PID_DIR/$(hostname -s).pid"; fi

ALEXNET_EXIT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/alexnet-exit.XXXXXX"); export ALEXNET_EXIT_DIR
if [ "${SLURM_NNODES:-1}" -gt 1 ]; then
  : "${MASTER_ADDR:?set MASTER_ADDR}" "${MASTER_PORT:?set MASTER_PORT}"
  # The first node of the step (SLURM_NODEID 0, where MASTER_ADDR points) hosts the rendezvous store:
  # said explicitly, because torchrun's own guess compares host names, which fails where node
  # names do not resolve.
  host=false; [ "${SLURM_NODEID:-}" = 0 ] && host=true
  rdzv=(--nnodes="$SLURM_NNODES" --rdzv-backend=c10d --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT"
        --rdzv-id="${SLURM_JOB_ID:-alexnet}" --rdzv-conf="is_host=$host"
        --local-addr="${LOCAL_ADDR:-$("$here/node_address.sh")}")   # what the other nodes connect to (rank 0's becomes the trainers' MASTER_ADDR)
else
  # the trainers' MASTER_ADDR: this host by address (torchrun would use the host name, which may not resolve)
  rdzv=(--standalone --nnodes=1 --local-addr="${LOCAL_ADDR:-127.0.0.1}")
fi
numa=(); [ -n "${NUMA_BINDING:-}" ] && numa=(--numa-binding="$NUMA_BINDING")
torchrun "${rdzv[@]}" --nproc-per-node="$NPROC_PER_NODE" --max-restarts=0 "${numa[@]}" \
  --no-python "$here/trainer_rank.sh" "${args[@]}" &
agent=$!
while kill -0 "$agent" 2>/dev/null; do
  if [ -n "$pending" ]; then forward "$pending"; fi
  sleep 0.5 & wait $!                     # short sleeps, so that a pending signal is retried
done
wait "$agent"; rc=$?
if grep -qx 75 "$ALEXNET_EXIT_DIR"/rank* 2>/dev/null; then
  rc=75; echo "torchrun_node.sh: a trainer exited 75 (preempted after writing a checkpoint); torchrun reports that as a failure above" >&2
fi
rm -rf "$ALEXNET_EXIT_DIR"
exit "$rc"
