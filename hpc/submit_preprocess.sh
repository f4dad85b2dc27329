#!/usr/bin/env bash
# Submit the preprocessing array (hpc/preprocess.sbatch) and its merge (hpc/preprocess_merge.sbatch)
# after it:
#   SRC=/data/imagenet DST=/scratch/imagenet/pre SHARDS=32 hpc/submit_preprocess.sh [extra sbatch options for both jobs]
# Environment: SRC and DST (required), SHARDS (array size, default 16), plus those of preprocess.sbatch.
# Prints "array <id> merge <id>" on stderr and the merge job's id on stdout (for --dependency).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${SRC:?set SRC, ImageNet as downloaded}" "${DST:?set DST, the preprocessed root to write}"
export ALEXNET_REPO=${ALEXNET_REPO:-$(dirname "$here")}
arr=$(sbatch --parsable --array=0-$((${SHARDS:-16} - 1)) "$@" "$here/preprocess.sbatch")
arr=${arr%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$arr" "$@" "$here/preprocess_merge.sbatch")
echo "preprocessing: array $arr merge ${merge%%;*}" >&2
echo "${merge%%;*}"
