#!/usr/bin/env bash
# Submit the preprocessing array (hpc/preprocess.sbatch) and its merge (hpc/preprocess_merge.sbatch)
# after it:
#   SRC=/data/imagenet DST=/scratch/imagenet/pre SHARDS=32 hpc/submit_preprocess.sh [extra sbatch options for both jobs]
# Environment: SRC and DST (required), SHARDS (array size, default 16; passed to the tasks as
#   NUM_SHARDS), AFTER (a job id the array must wait for), plus those of preprocess.sbatch.
# The merge is submitted with --kill-on-invalid-dep=yes: if a task fails, it is cancelled instead
# of waiting forever; rerun the failed task alone (NUM_SHARDS=<SHARDS> sbatch --array=<i> ...) and
# the merge by hand (sbatch hpc/preprocess_merge.sbatch).
# Prints "array <id> merge <id>" on stderr and the merge job's id on stdout (for --dependency).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${SRC:?set SRC, ImageNet as downloaded}" "${DST:?set DST, the preprocessed root to write}"
export ALEXNET_REPO=${ALEXNET_REPO:-$(dirname "$here")}
export NUM_SHARDS=${SHARDS:-16}
dep=(); [ -n "${AFTER:-}" ] && dep=(--dependency=afterok:"$AFTER" --kill-on-invalid-dep=yes)
arr=$(sbatch --parsable "${dep[@]}" --array=0-$((NUM_SHARDS - 1)) "$@" "$here/preprocess.sbatch")
arr=${arr%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$arr" --kill-on-invalid-dep=yes "$@" "$here/preprocess_merge.sbatch")
echo "preprocessing: array $arr merge ${merge%%;*}" >&2
echo "${merge%%;*}"
