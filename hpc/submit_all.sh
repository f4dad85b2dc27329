#!/usr/bin/env bash
# Submit the whole pipeline as a chain of dependent jobs: preprocessing array + merge, statistics
# array + merge, training (requeues itself when preempted), evaluation with ten patches. Every
# dependency is afterok with --kill-on-invalid-dep=yes: when a stage fails, the later ones are
# cancelled (never left PENDING, never run on unfinished output).
#   SRC=/data/imagenet DST=$SCRATCH/imagenet/pre RUN_DIR=$HOME/runs/alexnet-90 \
#   TRAIN_SBATCH="--gpus-per-node=4 --cpus-per-task=32 --mem=128G" hpc/submit_all.sh
# Environment:
#   SRC, DST, RUN_DIR     (required) raw ImageNet, the preprocessed root, the run directory
#   PRE_SHARDS (16), STATS_SHARDS (8)            array sizes
#   PRE_SBATCH, STATS_SBATCH, TRAIN_SBATCH, EVAL_SBATCH   extra sbatch options per stage
#                         (partition, account, resources; split at spaces); TRAIN_SBATCH should ask for GPUs
#   TRAIN_ARGS            alexnet_train settings besides --data (e.g. "--bf16 --channels-last"), split like
#                         a shell command line
#   EVAL_ARGS             alexnet_evaluate settings (default: --out $RUN_DIR/eval; --data is added)
#   SKIP_PREPROCESS=1     DST is already preprocessed: start at the statistics
# and hpc/env.sh's: MODULES, VENV, CONDA_ENV, CONTAINER. Prints the job ids.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${DST:?set DST, the preprocessed root}" "${RUN_DIR:?set RUN_DIR, the run directory}"
export ALEXNET_REPO=${ALEXNET_REPO:-$(dirname "$here")}
mkdir -p "$RUN_DIR"
q() { printf '%q' "$1"; }                 # one word of TRAIN_ARGS/EVAL_ARGS, quoted for the job's shell-like split
read -r -a pre_sb <<< "${PRE_SBATCH:-}"; read -r -a stats_sb <<< "${STATS_SBATCH:-}"
read -r -a train_sb <<< "${TRAIN_SBATCH:-}"; read -r -a eval_sb <<< "${EVAL_SBATCH:-}"
dep=(--kill-on-invalid-dep=yes)
if [ -z "${SKIP_PREPROCESS:-}" ]; then
  : "${SRC:?set SRC, ImageNet as downloaded (or SKIP_PREPROCESS=1)}"
  pre=$(SRC=$SRC DST=$DST SHARDS=${PRE_SHARDS:-16} "$here/submit_preprocess.sh" "${pre_sb[@]}")
  stats=$(DATA=$DST AFTER=$pre SHARDS=${STATS_SHARDS:-8} "$here/submit_stats.sh" "${stats_sb[@]}")
else
  stats=$(DATA=$DST SHARDS=${STATS_SHARDS:-8} "$here/submit_stats.sh" "${stats_sb[@]}")
fi
train=$(RUN_DIR=$RUN_DIR TRAIN_ARGS="--data $(q "$DST") ${TRAIN_ARGS:-}" sbatch --parsable --dependency=afterok:"$stats" "${dep[@]}" \
        --output="$RUN_DIR/slurm-%x-%j.out" "${train_sb[@]}" "$here/train.sbatch")
train=${train%%;*}
ev=$(CHECKPOINT=$RUN_DIR/checkpoints/best.pt EVAL_ARGS="--data $(q "$DST") ${EVAL_ARGS:---out $(q "$RUN_DIR/eval")}" sbatch --parsable \
     --dependency=afterok:"$train" "${dep[@]}" --output="$RUN_DIR/slurm-%x-%j.out" "${eval_sb[@]}" "$here/evaluate.sbatch")
echo "submitted: statistics merge $stats, training $train, evaluation ${ev%%;*} (squeue -u \$USER to watch)"
