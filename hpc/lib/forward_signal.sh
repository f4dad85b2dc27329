#!/usr/bin/env bash
# Pass a signal to the trainers on THIS node: hpc/lib/forward_signal.sh USR1
# train.sbatch runs it on the first node (and with `srun --overlap` on the others) when SLURM sends
# the batch shell USR1. It signals only torchrun_node.sh, by the PID that script recorded in
# $ALEXNET_PID_DIR/<host>.pid; torchrun_node.sh passes it to the rank shims, they to the trainers.
# (Signalling the job step instead would reach every process in it, torchrun included, and
# torchrun's agent treats USR1 as a death signal.)
set -u
sig=${1:-USR1}
f="${ALEXNET_PID_DIR:?set ALEXNET_PID_DIR}/$(hostname -s).pid"
for _ in $(seq 60); do [ -f "$f" ] && break; sleep 0.5; done   # the job may still be starting
if [ -f "$f" ]; then kill -"$sig" "$(cat "$f")" 2>/dev/null || true
else echo "forward_signal.sh: no $f: no trainer running on $(hostname -s)" >&2; fi
