#!/usr/bin/env bash
# Submit the statistics array (hpc/stats.sbatch) and its merge (hpc/stats_merge.sbatch) after it.
#   DATA=/scratch/imagenet/pre SHARDS=16 hpc/submit_stats.sh [extra sbatch options for both jobs]
# Environment: DATA (required), SHARDS (array size, default 8; passed to the tasks as NUM_SHARDS),
#   AFTER (a job id the array must wait for, e.g. the preprocessing merge), plus those of stats.sbatch.
# Dependent jobs are submitted with --kill-on-invalid-dep=yes: a failure upstream cancels them.
# Prints "array <id> merge <id>" on stderr and the merge job's id on stdout (for --dependency).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${DATA:?set DATA, the preprocessed root}"
export ALEXNET_REPO=${ALEXNET_REPO:-$(dirname "$here")}
export NUM_SHARDS=${SHARDS:-8}
dep=(); [ -n "${AFTER:-}" ] && dep=(--dependency=afterok:"$AFTER" --kill-on-invalid-dep=yes)
arr=$(sbatch --parsable "${dep[@]}" --array=0-$((NUM_SHARDS - 1)) "$@" "$here/stats.sbatch")
arr=${arr%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$arr" --kill-on-invalid-dep=yes "$@" "$here/stats_merge.sbatch")
echo "statistics: array $arr merge ${merge%%;*}" >&2
echo "${merge%%;*}"
