#!/usr/bin/env bash
# Submit a whole experiment to Slurm: capture array(s) -> merge array ->
# evaluate array -> aggregate job, chained with dependencies.
#
#   slurm/submit.sh [--dry-run] model_zoo=llama3 benchmark=all [sweep=paper] \
#       [capture.time=24:00:00 evaluate.partition=cpu ...] \
#       [--capture-args "backend=vllm"] [--evaluate-args "cost=energy logger=wandb"]
#
# Resources come from conf/slurm.yaml, its MESSPLUS_SLURM_* environment
# variables, or key=value overrides (see that file). `--dry-run` prints the
# job/array structure and the sbatch commands; `--test-only` also asks Slurm
# whether each job could be scheduled; neither submits anything.
# All logic lives in messplus_core/slurm/submit.py; this wrapper only finds Python.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n ${MESSPLUS_PYTHON:-} ]]; then
    PY=$MESSPLUS_PYTHON
elif [[ -x $REPO/.venv/bin/python ]]; then
    PY=$REPO/.venv/bin/python
else
    PY=python3
fi
# The package is importable even without an editable install.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m messplus_core.slurm.submit "$@"
