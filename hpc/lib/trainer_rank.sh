#!/usr/bin/env bash
# One trainer process (one rank). torchrun starts this with --no-python:
#   torchrun ... --no-python hpc/lib/trainer_rank.sh python -m alexnet_nb.train ARGS...
# It runs the command, passes USR1 and TERM on to it, and records its exit status in
# $ALEXNET_EXIT_DIR/rank$RANK, because torchrun reports every failed worker as exit status 1 and
# so would hide the trainer's preemption code (75).
set -u
pid= sent=
on_signal() { sent=$1; if [ -n "$pid" ]; then kill -"$1" "$pid" 2>/dev/null; fi; }
trap 'on_signal USR1' USR1
trap 'on_signal TERM' TERM
"$@" &
pid=$!
if [ -n "$sent" ]; then kill -"$sent" "$pid" 2>/dev/null; fi   # a signal that came before the start
while :; do
  wait "$pid"; rc=$?
  kill -0 "$pid" 2>/dev/null || break   # a trapped signal ended `wait` early: keep waiting
done
wait "$pid"; last=$?                     # its own status: it may have ended while a trap ran
[ "$last" -ne 127 ] && rc=$last
# A signal that arrives while Python is still starting (before the trainer installs its handlers)
# kills it outright (status 128+10 or 128+15). The rerun resumes from the latest checkpoint all the
# same (at start-up nothing has been trained since it), so report that as a preemption too.
if [ -n "$sent" ] && { [ "$rc" -eq 138 ] || [ "$rc" -eq 143 ]; }; then rc=75; fi
[ -n "${ALEXNET_EXIT_DIR:-}" ] && echo "$rc" > "$ALEXNET_EXIT_DIR/rank${RANK:-0}"
exit "$rc"
