"""The command line: --help per stage, console entry points, one output option (out_dir) for every stage."""

import subprocess
import sys
from pathlib import Path

import pytest

from helpers.config import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("stage, groups, absent", [
    ("capture", ["model_zoo: ", "benchmark: "], ["router:", "sweep:", "logger:"]),
    ("evaluate", ["model_zoo: ", "benchmark: ", "router: ", "sweep: ", "scenario: ", "logger: "], []),
])
def test_help_works_alone_and_lists_only_the_stages_groups(stage, groups, absent):
    shown = subprocess.run([sys.executable, str(REPO / stage / "run.py"), "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    for g in groups:
        assert f"\n  {g}" in shown.stdout
    for g in absent:
        assert f"\n  {g}" not in shown.stdout
    assert "tiny" in shown.stdout  # the options of model_zoo are listed


def test_console_entry_points_run_the_stages():
    for stage in ("capture", "evaluate"):
        shown = subprocess.run([str(BIN / f"messplus-{stage}"), "--help"], capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0 and f"{stage.capitalize()} stage" in shown.stdout, shown.stderr


def test_evaluate_out_dir_is_the_output_folder_and_plus_out_dir_is_refused(synthetic_capture, tmp_path):
    out = tmp_path / "report"
    common = [sys.executable, str(REPO / "evaluate" / "run.py"), f"data_dir={synthetic_capture}", "benchmark=arc_challenge",
              "seed=42", "router=oracle", "logger=none", f"cache_dir={tmp_path / 'cache'}"]
    ran = subprocess.run([*common, f"out_dir={out}"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (out / "summary.md").is_file() and (out / "results.csv").is_file()
    refused = subprocess.run([*common, f"+out_dir={tmp_path / 'x'}"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert refused.returncode != 0 and "already at 'out_dir'" in refused.stderr + refused.stdout


def test_lm_eval_metadata_hint_is_dropped_other_warnings_pass(caplog):
    import logging

    import messplus_core.capture.lm_eval_runner  # noqa: F401 - installs the filter

    task_log = logging.getLogger("lm_eval.api.task")
    with caplog.at_level(logging.WARNING, logger="lm_eval.api.task"):
        task_log.warning("demo: Custom kwargs can be passed to `--metadata` in console (as json string) or to the TaskManager.")
        task_log.warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]
