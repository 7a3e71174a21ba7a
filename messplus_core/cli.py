"""Command-line glue shared by the two stages: `--help` per stage and the console entry points.

`messplus-capture` and `messplus-evaluate` run `capture/run.py` and
`evaluate/run.py` of this checkout (an editable install, `make install`),
so both forms take the same Hydra overrides.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"


def register_resolvers() -> None:
    """`${repo_root:}`, this checkout's root: the base of `conf/paths/default.yaml`. Call before composing any
    stage config (the stages' run.py do so by importing this module; so do the Slurm and test composers)."""
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(ROOT))


register_resolvers()

#: Each stage's config groups (group=option), in the order its README section explains them.
STAGE_GROUPS = {
    "capture": ("model_zoo", "benchmark", "paths"),
    "evaluate": ("model_zoo", "benchmark", "router", "predictor", "sweep", "scenario", "logger", "paper", "paths"),
}


def stage_help(stage: str, doc: str) -> str:
    """The stage's usage (its script's docstring), its groups with their options, and where to read more."""
    lines = [doc.strip(), "", "Config groups of this stage (group=option):"]
    for group in STAGE_GROUPS[stage]:
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        lines.append(f"  {group}: {', '.join(options)}")
    lines += ["", f"Every other key of conf/{stage}.yaml is set as key=value (e.g. out_dir=DIR).",
              f"See the composed config with: {Path(sys.argv[0]).name} --cfg job [overrides]; "
              "Hydra's own flags: --hydra-help. README.md explains every knob."]
    return "\n".join(lines)


def maybe_help(stage: str, doc: str) -> None:
    """Print the stage's help and exit when asked (works without any other argument)."""
    if any(a in ("--help", "-h") for a in sys.argv[1:]):
        print(stage_help(stage, doc))
        raise SystemExit(0)


def _run(stage: str) -> None:
    script = ROOT / stage / "run.py"
    if not script.is_file():
        raise SystemExit(f"{script} is missing: the messplus-{stage} command needs an editable install of the "
                         "repository (`make install`, or `pip install -e .`).")
    sys.argv[0] = str(script)
    runpy.run_path(str(script), run_name="__main__")


def capture_command() -> None:
    """Console entry point `messplus-capture`."""
    _run("capture")


def evaluate_command() -> None:
    """Console entry point `messplus-evaluate`."""
    _run("evaluate")
