"""W&B logging: one offline run per invocation with the grid as tables; a broken W&B never fails the evaluation."""

import subprocess
import sys
from pathlib import Path

import pytest

from helpers.evaluate import config

from messplus_core.evaluate.pipeline import run_evaluation


@pytest.fixture
def small(synthetic_capture, tmp_path):
    return [f"data_dir={synthetic_capture}", f"cache_dir={tmp_path / 'cache'}", "benchmark=arc_challenge", "sweep.seeds=[42,43]",
            "router=[mess_plus,oracle]", "n_jobs=1", "logger=wandb"]


def test_offline_mode_writes_one_run_holding_every_grid_run(small, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    result = run_evaluation(config(*small), tmp_path / "out")
    runs = list((tmp_path / "out" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))
    assert result["wandb"] == f"W&B offline run: {runs[0]}\n         upload with: wandb sync {runs[0]}"
    # read the run back with wandb's own reader: both tables are in it
    wandb_cli = Path(sys.executable).parent / "wandb"
    shown = subprocess.run([str(wandb_cli), "leet", "inspect", "--json", str(runs[0])], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.count('"table-file"') >= 2 and "results.table.json" in shown.stdout and "history.table.json" in shown.stdout


def test_unusable_wandb_warns_and_the_evaluation_completes(small, tmp_path, monkeypatch, caplog):
    import wandb

    def refuse(*args, **kwargs):
        raise wandb.errors.UsageError("api_key not configured (no-tty)")  # what wandb raises without mode and key

    monkeypatch.setattr(wandb, "init", refuse)
    result = run_evaluation(config(*small), tmp_path / "out")
    assert "W&B logging failed: UsageError: api_key not configured" in caplog.text
    assert result["results"].is_file() and len(result["frame"]) == 5 and result["wandb"] is None


def test_history_rows_average_seeds_per_group():
    from messplus_core.evaluate.loggers import GROUP_KEYS, history_rows

    row = {k: None for k in GROUP_KEYS} | {"scenario": "none", "benchmark": "b", "router": "r", "split": "full", "alpha": 0.5}
    hist = lambda s: {"t": [1, 2], "satisfaction": [s, s], "energy_per_request": [1.0, 2.0], "Q": [0.0, 0.0], "explorations": [1, 1]}
    rows = history_rows([{"row": row, "history": hist(1.0)}, {"row": row, "history": hist(0.0)}])
    assert len(rows) == 2 and rows[0][len(GROUP_KEYS)] == 2  # two steps, two seeds
    assert rows[0][len(GROUP_KEYS) + 2] == 0.5  # satisfaction averaged over the seeds
