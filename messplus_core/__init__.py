"""MESS+: cost-optimal LLM routing with service-level guarantees.

The library half of the project: the algorithm, routers and predictors are
pure (no Hydra, no file I/O); data schema, loaders and caches live in modules
of their own so the stage entry points (`capture/`, `evaluate/`) stay thin.
"""

__version__ = "0.1.0"
