#!/usr/bin/env bash
# One trainer process (one rank). torchrun starts this with --no-python:
#   torchrun ... --no-python hpc/lib/trainer_rank.sh python -m alexnet_nb.train ARGS...
# It runs the command, passes USR1 and TERM on to it, and records its exit status in
# $ALEXNET_EXIT_DIR/rank$RANK, because torchrun reports every failed worker as exit status 1 and
# so would hide the trainer's preemption code (75).
set -u
"$@" &
pid=$!
trap 'kill -USR1 "$pid" 2>/dev/null' USR1
trap 'kill -TERM "$pid" 2>/dev/null' TERM
while :; do
  wait "$pid"; rc=$?
  kill -0 "$pid" 2>/dev/null || break   # a trapped signal ended `wait` early: keep waiting
done
[ -n "${ALEXNET_EXIT_DIR:-}" ] && echo "$rc" > "$ALEXNET_EXIT_DIR/rank${RANK:-0}"
exit "$rc"
