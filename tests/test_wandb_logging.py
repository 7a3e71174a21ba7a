"""W&B logging: one offline run per grid run; a broken W&B never fails the evaluation."""

import pytest

from evaluate_support import config
from messplus_core.pipeline import evaluate


@pytest.fixture
def small(synthetic_capture, tmp_path):
    return [f"data_dir={synthetic_capture}", f"cache_dir={tmp_path / 'cache'}", "benchmark=arc_challenge", "seed=42",
            "router=[mess_plus,oracle]", "n_jobs=1", "logger=wandb"]


def test_offline_mode_writes_one_run_per_grid_run(small, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "out"))
    evaluate(config(*small), tmp_path / "out")
    runs = list((tmp_path / "out" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    assert all(any(r.glob("*.wandb")) for r in runs)


def test_unusable_wandb_warns_and_the_evaluation_completes(small, tmp_path, monkeypatch, caplog):
    import wandb

    def refuse(*args, **kwargs):
        raise wandb.errors.UsageError("api_key not configured (no-tty)")  # what wandb raises without mode and key

    monkeypatch.setattr(wandb, "init", refuse)
    result = evaluate(config(*small), tmp_path / "out")
    assert "W&B logging stopped after 0 runs" in caplog.text
    assert result["results"].is_file() and len(result["frame"]) == 3
