#!/usr/bin/env bash
# The capture stage's GPU check: hf on CUDA vs CPU, vLLM (where installed),
# bitsandbytes 4-bit, Zeus short windows, SIGKILL and resume, measurement
# overhead, on the tiny zoo; a JSON report under outputs/gpu_check/.
# Without a CUDA GPU it says so in one line, runs the CPU parts and exits 0
# when they pass (CI calls it so).
#
#   scripts/gpu_check.sh [--limit 50] [--timeout 300] [--only capture,zeus] ...
#       (all options: scripts/gpu_check.sh --help)
#
# Python: $PYTHON if set, else the repository's .venv (make install / make
# install-gpu), else python3 (e.g. a GPU image's python with the wheels of
# scripts/gpu_wheels.sh on PYTHONPATH).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
    py=.venv/bin/python
else
    py=python3
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "gpu_check: $py cannot import torch; run 'make install' (or 'make install-gpu'), or set PYTHON=<a python with torch>" >&2
    exit 2
fi
exec "$py" -m messplus_core.gpu_check "$@"
