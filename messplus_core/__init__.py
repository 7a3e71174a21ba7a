"""MESS+: cost-optimal LLM routing with service-level guarantees.

The library half of the project. `core/`, `routers/` and `predictors/` are pure
(numpy/scipy; no pandas, no Hydra, no file I/O); `data/` reads captures and
embeddings, `evaluate/`, `capture/`, `slurm/` and `serve/` run the stages, and
`errors.py`, `specs.py` and `util/io.py` are shared by all. The stage entry
points (`capture/run.py`, `evaluate/run.py`, `serve/run.py`) stay thin.
"""

__version__ = "0.1.0"
