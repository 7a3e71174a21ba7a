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


@pytest.mark.parametrize("args, message", [
    (["routers.mess_plus.tightenin=0.1"], "unknown key 'routers.mess_plus.tightenin': 'routers.mess_plus' has no 'tightenin' "
                                          "(did you mean routers.mess_plus.tightening?)"),
    (["alhpa=0.5"], "unknown key 'alhpa': the config has no 'alhpa' (did you mean alpha?)"),
    (["router=mess_pluss"], "unknown option 'mess_pluss' of config group router in conf/router/ (did you mean router=mess_plus"),
    (["-m", "router=knn,mess_pluss"], "unknown option 'mess_pluss' of config group router"),  # every value of a sweep
])
def test_a_mistyped_key_or_group_option_is_one_line_exit_2_with_the_closest_names(args, message, tmp_path):
    """Hydra's own report was several lines and exit 1 ("Could not override ... Key 'tightenin' is not in struct",
    its list of options); now the project's line names the mistake, the closest valid names and the fix."""
    proc = subprocess.run([sys.executable, str(REPO / "evaluate" / "run.py"), *args, "logger=none",
                           f"hydra.run.dir={tmp_path}"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert output.strip().count("\n") == 0 and message in output, output
    assert "Traceback" not in output and "HYDRA_FULL_ERROR" not in output and "--cfg job" in output
