#!/usr/bin/env bash
# Submit the statistics array (hpc/stats.sbatch) and its merge (hpc/stats_merge.sbatch) after it.
#   DATA=/scratch/imagenet/pre SHARDS=16 hpc/submit_stats.sh [extra sbatch options for both jobs]
# Environment: DATA (required), SHARDS (array size, default 8), AFTER (a job id the array must wait
#   for, e.g. the preprocessing merge), plus those of stats.sbatch.
# Prints "array <id> merge <id>" on stderr and the merge job's id on stdout (for --dependency).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${DATA:?set DATA, the preprocessed root}"
export ALEXNET_REPO=${ALEXNET_REPO:-$(dirname "$here")}
dep=${AFTER:+--dependency=afterok:$AFTER}
arr=$(sbatch --parsable ${dep:-} --array=0-$((${SHARDS:-8} - 1)) "$@" "$here/stats.sbatch")
arr=${arr%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$arr" "$@" "$here/stats_merge.sbatch")
echo "statistics: array $arr merge ${merge%%;*}" >&2
echo "${merge%%;*}"
