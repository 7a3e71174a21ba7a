"""The capture stage: the LM Eval Harness over a model zoo, one energy/time window per document.

Modules: `units` (the (model, benchmark) pairs), `settings` and `preflight`
(config parsing and every check that runs before a model loads),
`backends` (lm-eval's hf and vllm models), `lm_eval_runner` (per-document
windows around lm-eval), `energy` (Zeus), `shards` (crash-safe journal),
`merge` and `manifest` (the CSV and its provenance), `tiny_zoo` and
`demo_data` (the offline zoo and benchmark), `stage` (what one CLI call does).
"""
