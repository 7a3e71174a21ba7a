"""The evaluate stage's orchestration: pipeline (plan, load, run, report), grid (the sweep's runs), runner
(parallel execution), experiment (one run), store (resumable results), report, plots, loggers (wandb)."""
