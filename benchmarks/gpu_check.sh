#!/usr/bin/env bash
# The one-shot GPU check (issue 16): every GPU path in one call, <= 8 minutes on one GPU.
#   benchmarks/gpu_check.sh [--dry-run] [--out DIR] [--steps a,b,...]
# Writes DIR/gpu_check.json and DIR/gpu_check.md (default DIR: benchmarks/results/gpu_check-DATE).
# --dry-run runs every step at tiny size on the CPU (CI runs it; see tests/test_benchmarks.py).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
if [ -x "$REPO/.venv/bin/python" ]; then PY="$REPO/.venv/bin/python"; export PATH="$REPO/.venv/bin:$PATH"; else PY="${PYTHON:-python}"; fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
exec timeout --signal=TERM "${GPU_CHECK_TIMEOUT:-500}" "$PY" "$REPO/benchmarks/gpu_check.py" "$@"
