"""Test helpers (importable as `helpers.*`: pyproject puts tests/ on pytest's pythonpath).

config: the repository root, Hydra composition, zoo and benchmark configs; data: the three-model synthetic
captures; evaluate, capture, slurm, serve, large_zoo: what each stage's tests need besides that.
"""
