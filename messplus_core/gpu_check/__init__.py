"""The capture stage's GPU check (`scripts/gpu_check.sh`, `python -m messplus_core.gpu_check`).

Runs the capture paths that only a GPU exercises (hf on CUDA, Zeus NVML
energy, bitsandbytes 4-bit, vLLM where installed, a SIGKILL mid-unit, the
cost of per-document windows) on the tiny zoo, each check in its own
process with a timeout, and writes every figure to a JSON report under
`outputs/gpu_check/`. Without a GPU it runs the CPU parts only.

Modules: `compare` (pure comparisons of capture folders), `workloads`
(the demo benchmark's lm-eval requests, timed with and without windows),
`checks` (one function per check), `__main__` (the driver).
"""
