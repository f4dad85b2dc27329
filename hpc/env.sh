# Sourced by every hpc/ job script: find the repository, load modules, activate the Python environment.
#
# Environment variables (all optional):
#   ALEXNET_REPO   the alexnet-nb checkout holding hpc/ (default: the directory you ran sbatch in,
#                  $SLURM_SUBMIT_DIR; sbatch copies the job script, so it cannot find hpc/ by itself)
#   MODULES        modules to `module load` first, e.g. "python/3.11 cuda/12.4"
#   VENV           a virtualenv to activate (default: $ALEXNET_REPO/.venv when it exists)
#   CONDA_ENV      a conda environment to activate instead of VENV
#   ALEXNET_NO_PROGRESS  1 (default in jobs): no tqdm bars in the log files; set it empty for bars
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

# need VAR "what it is": stop with a clear message when a required variable is unset
need() { if [ -z "${!1:-}" ]; then echo "${0##*/}: set $1 ($2)" >&2; exit 2; fi; }
# log ...: a timestamped line in the job's output
log() { echo "[$(date '+%F %T')] ${SLURM_JOB_NAME:-alexnet} ${SLURM_JOB_ID:-}${SLURM_ARRAY_TASK_ID:+[$SLURM_ARRAY_TASK_ID]}: $*"; }
command -v python >/dev/null || { echo "hpc/env.sh: no python on PATH: set VENV, CONDA_ENV or MODULES" >&2; exit 2; }
