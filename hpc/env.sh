# Sourced by every hpc/ job script: find the repository, load modules, activate the Python environment.
#
# Environment variables (all optional):
#   ALEXNET_REPO   the alexnet-nb checkout holding hpc/ (default: the directory you ran sbatch in,
#                  $SLURM_SUBMIT_DIR; sbatch copies the job script, so it cannot find hpc/ by itself)
#   MODULES        modules to `module load` first, e.g. "python/3.11 cuda/12.4"
#   VENV           a virtualenv to activate (default: $ALEXNET_REPO/.venv when it exists)
#   CONDA_ENV      a conda environment to activate instead of VENV
#   ALEXNET_NO_PROGRESS  1 (default in jobs): no tqdm bars in the log files; set it empty for bars
#   CONTAINER      a command prefix that runs the work inside a container, e.g.
#                  "apptainer exec --nv --bind /scratch alexnet.sif": the job scripts put it in front of
#                  every command that does work (torchrun and the trainers, alexnet_preprocess, ...)
# Settings that hold several words (TRAIN_ARGS, EVAL_ARGS, CONTAINER, ...) are split like a shell
# command line (quotes group words, nothing is globbed or expanded): words VAR.
ALEXNET_REPO=${ALEXNET_REPO:-${SLURM_SUBMIT_DIR:-$PWD}}
if [ ! -f "$ALEXNET_REPO/hpc/env.sh" ]; then
  echo "hpc/env.sh: no alexnet-nb checkout at '$ALEXNET_REPO': run sbatch from the repository root or set ALEXNET_REPO" >&2
  exit 2
fi
export ALEXNET_REPO
if [ -n "${MODULES:-}" ]; then
  command -v module >/dev/null 2>&1 || { [ -f /etc/profile.d/modules.sh ] && . /etc/profile.d/modules.sh; }
  # shellcheck disable=SC2086
  module load $MODULES || { echo "hpc/env.sh: 'module load $MODULES' failed" >&2; exit 2; }
fi
if [ -n "${CONDA_ENV:-}" ]; then
  eval "$(conda shell.bash hook)" && conda activate "$CONDA_ENV" || { echo "hpc/env.sh: cannot activate conda env '$CONDA_ENV'" >&2; exit 2; }
elif [ -n "${VENV:-}" ]; then
  [ -f "$VENV/bin/activate" ] || { echo "hpc/env.sh: VENV=$VENV has no bin/activate" >&2; exit 2; }
  . "$VENV/bin/activate"
elif [ -f "$ALEXNET_REPO/.venv/bin/activate" ]; then
  . "$ALEXNET_REPO/.venv/bin/activate"
fi
export ALEXNET_NO_PROGRESS=${ALEXNET_NO_PROGRESS-1}
export PYTHONUNBUFFERED=1

# words NAME VAR: split the setting VAR like a shell would (quotes group, no globbing, no expansion)
# into the array NAME, e.g. `words args TRAIN_ARGS; cmd "${args[@]}"`
words() {
  local -n _out=$1
  _out=()
  [ -n "${!2:-}" ] || return 0
  python -c 'import shlex, sys; shlex.split(sys.argv[1])' "${!2}" 2>/dev/null \
    || { echo "${0##*/}: cannot split $2='${!2}' into words (unbalanced quotes?)" >&2; exit 2; }
  mapfile -d '' -t _out < <(python -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' "${!2}")
}
# shard_args TASK N: this array task's shard index (SLURM_ARRAY_TASK_ID) and the total number of
# shards (NUM_SHARDS) into the variables TASK and N. The total must be given: SLURM only knows the
# tasks of this submission, so a rerun of one task (--array=7) would otherwise count 1 shard.
shard_args() {
  local -n _t=$1 _n=$2
  if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then _t=0; _n=${NUM_SHARDS:-1}
    [ "$_n" = 1 ] || { echo "${0##*/}: NUM_SHARDS=$_n but this is not an array job: submit with --array=0-$((_n - 1))" >&2; exit 2; }
    return 0
  fi
  [[ "${NUM_SHARDS:-}" =~ ^[1-9][0-9]*$ ]] || { echo "${0##*/}: set NUM_SHARDS, the total number of shards (e.g. NUM_SHARDS=16 with --array=0-15; the same total when rerunning one task, --array=7)" >&2; exit 2; }
  _t=$SLURM_ARRAY_TASK_ID; _n=$NUM_SHARDS
  [ "$_t" -lt "$_n" ] || { echo "${0##*/}: array task $_t is not a shard of NUM_SHARDS=$_n (0..$((_n - 1)))" >&2; exit 2; }
}
# need VAR "what it is": stop with a clear message when a required variable is unset
need() { if [ -z "${!1:-}" ]; then echo "${0##*/}: set $1 ($2)" >&2; exit 2; fi; }
# log ...: a timestamped line in the job's output
log() { echo "[$(date '+%F %T')] ${SLURM_JOB_NAME:-alexnet} ${SLURM_JOB_ID:-}${SLURM_ARRAY_TASK_ID:+[$SLURM_ARRAY_TASK_ID]}: $*"; }
command -v python >/dev/null || { echo "hpc/env.sh: no python on PATH: set VENV, CONDA_ENV or MODULES" >&2; exit 2; }
