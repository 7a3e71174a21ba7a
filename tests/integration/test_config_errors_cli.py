"""A config mistake typed on any stage's command line: exit status 2, one line naming key, value and fix, no
traceback (the schemas of messplus_core/schemas.py; tests/unit/test_schemas.py pins the messages)."""

import subprocess
import sys

import pytest

from helpers.config import REPO


@pytest.mark.parametrize("script, args, message", [
    ("evaluate/run.py", ["split=test", "logger=none"], "split is a group of settings"),
    ("capture/run.py", ["model_zoo=tiny", "benchmark=demo", "generation=greedy"], "generation is a group of settings"),
    ("serve/run.py", ["auth=none", "port=abc"], "port must be an integer, got 'abc'"),
])
def test_the_stage_commands_exit_2_with_one_line_and_no_traceback(script, args, message, tmp_path):
    """What a user typing the mistake sees (before: evaluate's `split=test` was an AttributeError traceback)."""
    proc = subprocess.run([sys.executable, str(REPO / script), *args, f"hydra.run.dir={tmp_path}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert message in output and "Traceback" not in output
    assert len([line for line in output.splitlines() if message in line]) == 1
