"""`cli.override_problems`: what a stage reports for its command line before Hydra composes it (every mistake at
once, the closest valid names; nothing for a command line that composes or that Hydra handles itself)."""

import pytest

from messplus_core.cli import override_problems


def test_every_mistake_of_one_command_line_is_named_with_its_closest_valid_names():
    problems = override_problems("capture", ["model_zoo=tinyy", "limt=5", "benchmark=demo"])
    assert problems == [
        "unknown option 'tinyy' of config group model_zoo in conf/model_zoo/ (did you mean model_zoo=tiny? options: "
        "llama2_2024, llama3, mixed_l3_q2, qwen2, tiny)",
        "unknown key 'limt': the config has no 'limt' (did you mean limit?)"]


@pytest.mark.parametrize("argv, expected", [
    (["routr=knn"], "unknown key 'routr': the config has no 'routr' (did you mean router or routers"),  # groups too
    (["router=knn", "routers.mess_plus.tightening=1"], "'routers' has no 'mess_plus' (it has knn)"),
    (["alpha.x=1"], "'alpha' is a single value, not a group of settings"),
    (["hydra.run.dri=x"], "'hydra.run' has no 'dri' (did you mean hydra.run.dir?)"),
    (["+out_dir=x"], "An item is already at 'out_dir'"),  # any other composition error: Hydra's words, one line
    (["alpha=0.1,0.2"], "To sweep over it, add --multirun"),
])
def test_keys_options_and_other_composition_errors(argv, expected):
    (problem,) = override_problems("evaluate", argv)
    assert expected in problem and "\n" not in problem


@pytest.mark.parametrize("argv", [
    [], ["router=knn", "alpha=0.5", "hydra.run.dir=/tmp/x", "hydra.output_subdir=.hydra/boolq"],
    ["-m", "alpha=0.7,0.8", "router=knn,oracle"], ["--cfg", "job", "seed=43"], ["--hydra-help"], ["--info", "searchpath"],
    ["+routers.mess_plus.tightenin=0.1"],  # composes: the stage's own check names that lever
])
def test_command_lines_that_compose_or_that_hydra_handles_pass(argv):
    assert override_problems("evaluate", argv) == []
