"""Command-line glue shared by the stages: `--help` per stage, the override check, the console entry points.

`messplus-capture` and `messplus-evaluate` run `capture/run.py` and
`evaluate/run.py` of this checkout (an editable install, `make install`),
so both forms take the same Hydra overrides. `check_overrides` composes a
stage's config from its command line before Hydra runs it, so a mistyped key
or group option takes the project's error path (one line, exit 2) instead of
Hydra's multi-line report.
"""

from __future__ import annotations

import difflib
import re
import runpy
import sys
from pathlib import Path
from typing import Any, Sequence

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


def check_overrides(config_name: str, argv: Sequence[str] | None = None) -> None:
    """Compose `conf/<config_name>.yaml` from the command line as Hydra is about to; on an unknown key, an unknown
    group option or an override Hydra cannot apply, print one line (each mistake, the closest valid names, the
    fix) to stderr and exit 2. Call it in a stage's `__main__` block before its `@hydra.main` function.

    argv: the arguments after the script (default sys.argv[1:]). With --multirun every value of a sweep is
    checked. Left to Hydra: --hydra-help, --info, --shell-completion, another config (-cp, -cn, -cd), sweeps
    that cannot be listed (glob, interval), and everything that composes (values are the stage's to check).
    """
    problems = override_problems(config_name, sys.argv[1:] if argv is None else list(argv))
    if problems:
        script = Path(sys.argv[0])
        name = f"{script.parent.name}/{script.name}"
        print(f"{name}: {'; '.join(problems)}. Fix the override(s): `{name} --help` lists the config groups and their "
              f"options, `{name} --cfg job [overrides]` shows every key.", file=sys.stderr)
        raise SystemExit(2)


def override_problems(config_name: str, argv: Sequence[str]) -> list[str]:
    """One message per override of `argv` that keeps `conf/<config_name>.yaml` from composing (see `check_overrides`);
    [] when it composes or the check is left to Hydra."""
    from hydra._internal.utils import get_args_parser  # Hydra's own parser of the command line (hydra-core 1.3 pinned)
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType
    from hydra.errors import OverrideParseException

    try:
        args, _ = get_args_parser().parse_known_args(list(argv))
    except SystemExit:  # argparse's own error: Hydra reports it the same way
        return []
    if args.hydra_help or args.info or args.shell_completion or args.config_path or args.config_name or args.config_dir \
            or args.experimental_rerun:
        return []
    try:
        parsed = OverridesParser.create().parse_overrides(args.overrides)
    except OverrideParseException as err:
        return [f"cannot read the overrides {args.overrides}: {_one_line(err)}"]
    multirun = args.multirun or "hydra.mode=MULTIRUN" in args.overrides
    sweeps = [i for i, o in enumerate(parsed) if multirun and o.is_sweep_override()]
    listable = (ValueType.CHOICE_SWEEP, ValueType.SIMPLE_CHOICE_SWEEP, ValueType.RANGE_SWEEP)
    if any(parsed[i].value_type not in listable for i in sweeps):
        return []
    values = {i: [f"{parsed[i].get_key_element()}={v}" for v in parsed[i].sweep_string_iterator()] for i in sweeps}
    first = [values[i][0] if i in values else o.input_line for i, o in enumerate(parsed)]
    jobs = [first] + [first[:i] + [v] + first[i + 1:] for i in sweeps for v in values[i][1:]]  # each value once
    problems: list[str] = []
    for job in jobs:
        for problem in _job_problems(config_name, job):
            if problem not in problems:
                problems.append(problem)
    return problems


def _job_problems(config_name: str, overrides: list[str]) -> list[str]:
    """Compose with `overrides`; each override Hydra refuses is named and set aside (a group option replaced by a
    valid one, a key dropped), and the rest composed again, so every mistake of one command line is reported at once."""
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    options: list[str] = []  # described as found
    keys: list[str] = []  # described once a config composes (its keys are the suggestions)
    remaining = list(overrides)
    cfg, failure = None, None
    for _ in range(len(overrides) + 1):  # each pass sets one override aside
        try:
            cfg = _compose(config_name, remaining)
            break
        except MissingConfigException as err:  # group=option with no conf/<group>/<option>.yaml
            group, _, option = (getattr(err, "missing_cfg_file", None) or "").rpartition("/")
            valid = list(getattr(err, "options", None) or [])
            at = [i for i, o in enumerate(remaining)
                  if _key(o).split("@")[0] == group and option in re.split(r"[\[\],\s]+", o.split("=", 1)[-1])]
            if not group or not at or not valid:
                failure = _one_line(err)
                break
            options.append(_describe_option(group, option, valid))
            close = difflib.get_close_matches(option, valid, n=1, cutoff=0) or valid
            remaining[at[0]] = f"{remaining[at[0]].split('=', 1)[0]}={close[0]}"  # a group may be mandatory
        except (HydraException, OmegaConfBaseException) as err:  # any other composition error
            key = re.match(r"Could not override '([^']+)'", str(err))
            if key is None or not any(_key(o) == key.group(1) for o in remaining):
                failure = _one_line(err)
                break
            keys.append(key.group(1))
            remaining = [o for o in remaining if _key(o) != key.group(1)]
    return options + [_describe_key(k, cfg) for k in keys] + ([failure] if failure else [])


def _key(override: str) -> str:
    """The key (or group[@package]) of a `[+|++|~]key=value` override."""
    return override.split("=", 1)[0].lstrip("+~")


def _compose(config_name: str, overrides: list[str]) -> Any:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose(config_name=config_name, overrides=overrides, return_hydra_config=True)


def _describe_key(key: str, cfg: Any) -> str:
    """"unknown key K: P has no X (did you mean P.Y?)" (difflib's closest names; the group names too at the top);
    without a composed config (another override fails too), only the key."""
    if cfg is None:
        return f"unknown key '{key}'"
    node: Any = OmegaConf.to_container(cfg, resolve=False)
    groups = [g for g in cfg.hydra.runtime.choices if "/" not in g and "@" not in g]
    seen: list[str] = []
    for part in key.split("."):
        where = f"'{'.'.join(seen)}'" if seen else "the config"
        if not isinstance(node, dict):
            return f"unknown key '{key}': {where} is a single value, not a group of settings"
        if part not in node:
            names = list(node) + ([g for g in groups if g not in node] if not seen else [])
            close = [".".join([*seen, c]) for c in difflib.get_close_matches(part, names, n=3, cutoff=0.6)]
            hint = f"did you mean {' or '.join(close)}?" if close else f"it has {', '.join(sorted(map(str, node)))}"
            return f"unknown key '{key}': {where} has no '{part}' ({hint})"
        node, seen = node[part], [*seen, part]
    return f"Hydra cannot override '{key}'"


def _describe_option(group: str, option: str, available: list[str]) -> str:
    """"unknown option O of config group G (did you mean G=P? options: ...)"."""
    close = difflib.get_close_matches(option, available, n=3, cutoff=0.6)
    folder = f" in conf/{group}/" if (CONF / group).is_dir() else ""
    hint = f"did you mean {group}={' or '.join(close)}? " if close else ""
    return f"unknown option '{option}' of config group {group}{folder} ({hint}options: {', '.join(available)})"


def _one_line(err: BaseException) -> str:
    """Hydra's message and its cause, on one line."""
    text = str(err) + (f" ({err.__cause__})" if err.__cause__ is not None else "")
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


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
