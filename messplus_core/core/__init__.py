"""The pure algorithm: numpy/scipy only, no pandas, no Hydra, no file I/O (tests/unit/test_import_purity.py checks).

algorithm (virtual queue, shadow price, drift-plus-penalty choice), bounds (oracle, static optimum LP),
calibration (learned routers' thresholds), stream (a seeded replay order and feedback draw), engine (the
replay loop), aiq, uncertainty (bootstrap intervals), satisfaction (graded metrics), rng (named random streams).
"""
