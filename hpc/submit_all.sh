#!/usr/bin/env bash
# Submit the whole pipeline as a chain of dependent jobs: preprocessing array + merge, statistics
# array + merge, training (requeues itself when preempted), evaluation with ten patches.
#   SRC=/data/imagenet DST=$SCRATCH/imagenet/pre RUN_DIR=$HOME/runs/alexnet-90 \
#   TRAIN_SBATCH="--gpus-per-node=4 --cpus-per-task=32 --mem=128G" hpc/submit_all.sh
# Environment:
#   SRC, DST, RUN_DIR     (required) raw ImageNet, the preprocessed root, the run directory
#   PRE_SHARDS (16), STATS_SHARDS (8)            array sizes
#   PRE_SBATCH, STATS_SBATCH, TRAIN_SBATCH, EVAL_SBATCH   extra sbatch options per stage
#                         (partition, account, resources); TRAIN_SBATCH should ask for GPUs
#   TRAIN_ARGS            alexnet_train settings besides --data (e.g. "--bf16 --channels-last --workers 6")
#   EVAL_ARGS             alexnet_evaluate settings (default: --benchmark none --out $RUN_DIR/eval)
#   SKIP_PREPROCESS=1     DST is already preprocessed: start at the statistics
# and hpc/env.sh's: MODULES, VENV, CONDA_ENV. Prints the job ids.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${DST:?set DST, the preprocessed root}" "${RUN_DIR:?set RUN_DIR, the run directory}"
export ALEXNET_REPO=${ALEXNET_REPO:-$(dirname "$here")}
mkdir -p "$RUN_DIR"
# shellcheck disable=SC2086
if [ -z "${SKIP_PREPROCESS:-}" ]; then
  : "${SRC:?set SRC, ImageNet as downloaded (or SKIP_PREPROCESS=1)}"
  pre=$(SRC=$SRC DST=$DST SHARDS=${PRE_SHARDS:-16} "$here/submit_preprocess.sh" ${PRE_SBATCH:-})
  stats=$(DATA=$DST AFTER=$pre SHARDS=${STATS_SHARDS:-8} "$here/submit_stats.sh" ${STATS_SBATCH:-})
else
  stats=$(DATA=$DST SHARDS=${STATS_SHARDS:-8} "$here/submit_stats.sh" ${STATS_SBATCH:-})
fi
# shellcheck disable=SC2086
train=$(RUN_DIR=$RUN_DIR TRAIN_ARGS="--data $DST ${TRAIN_ARGS:-}" sbatch --parsable --dependency=afterok:"$stats" \
        --output="$RUN_DIR/slurm-%x-%j.out" ${TRAIN_SBATCH:-} "$here/train.sbatch")
train=${train%%;*}
# shellcheck disable=SC2086
ev=$(CHECKPOINT=$RUN_DIR/checkpoints/best.pt EVAL_ARGS="${EVAL_ARGS:---out $RUN_DIR/eval}" sbatch --parsable \
     --dependency=afterok:"$train" --output="$RUN_DIR/slurm-%x-%j.out" ${EVAL_SBATCH:-} "$here/evaluate.sbatch")
echo "submitted: statistics merge $stats, training $train, evaluation ${ev%%;*} (squeue -u \$USER to watch)"
