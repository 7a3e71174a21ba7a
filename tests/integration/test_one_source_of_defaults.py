"""Every default lives in one place (issue 9): a value a stage's YAML sets is not written again in code, and a
value two configs need is written once and composed into the other.

- A MESS+ preset's default operating point (V, c) is written only in conf/sweep/default.yaml: conf/serve.yaml's
  `V`/`c` and conf/evaluate.yaml's `summary` compose it (as `default_sweep`) instead of repeating the numbers.
- The settings the stages build from their config (capture's EnergySettings, the gateway's settings, event log
  and service, the load generator's settings, the evaluate plan, grid runner and report context) take no
  default for a key their stage's YAML sets.
- Nor do the library calls the evaluate stage makes with its config's values: `load_capture` (cost,
  drop_incomplete), `make_stream` (cost, feedback_rate) and a grid run's `RunSpec` (feedback_rate).
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any, Callable

import pytest
from omegaconf import OmegaConf

from helpers.config import REPO, compose

from messplus_core.capture.energy import EnergySettings
from messplus_core.core.stream import make_stream
from messplus_core.data.capture_csv import load_capture
from messplus_core.errors import ConfigError
from messplus_core.evaluate.experiment import RunSpec
from messplus_core.evaluate.pipeline import EvaluationPlan, plan, table_setting
from messplus_core.evaluate.report import ReportContext
from messplus_core.evaluate.runner import run_grid
from messplus_core.gpu_check import checks
from messplus_core.routers import MESS_PLUS_ROUTERS
from messplus_core.serve.app import GatewaySettings
from messplus_core.serve.config import settings_from_config
from messplus_core.serve.eventlog import EventLog
from messplus_core.serve.loadgen import LoadSettings
from messplus_core.serve.service import RouterService

CONF = REPO / "conf"
DEFAULT_SWEEP = OmegaConf.to_container(OmegaConf.load(CONF / "sweep" / "default.yaml"))


def default_point(preset: str) -> tuple[float, float]:
    """The preset's (V, c) in conf/sweep/default.yaml: one value of each."""
    [V], [c] = DEFAULT_SWEEP["V"][preset], DEFAULT_SWEEP["c"][preset]
    return V, c


def serve_config(preset: str, *overrides: str) -> dict[str, Any]:
    cfg = compose("serve", f"router={preset}", f"router_name={preset}", "auth=none", *overrides)
    cfg["backends"] = {m["category"]: f"http://127.0.0.1:1/{m['category']}/v1" for m in cfg["model_zoo"]["models"]}
    return cfg


def test_the_default_sweep_holds_one_point_per_preset():
    assert set(DEFAULT_SWEEP["V"]) == set(DEFAULT_SWEEP["c"]) == set(MESS_PLUS_ROUTERS)
    assert all(len(DEFAULT_SWEEP[axis][p]) == 1 for axis in ("V", "c") for p in MESS_PLUS_ROUTERS)


def test_serve_and_summary_write_no_v_or_c_of_their_own():
    """The numbers appear in conf/sweep/default.yaml only; the other two files hold interpolations."""
    serve = OmegaConf.load(CONF / "serve.yaml")
    evaluate = OmegaConf.load(CONF / "evaluate.yaml")
    raw = [OmegaConf.to_container(serve)[k] for k in ("V", "c")]
    raw += [v for point in OmegaConf.to_container(evaluate["summary"]).values() for v in point.values()]
    assert raw and all(isinstance(v, str) and "default_sweep." in v for v in raw), raw


@pytest.mark.parametrize("preset", sorted(MESS_PLUS_ROUTERS))
def test_serve_runs_each_preset_at_the_default_sweeps_point(preset):
    cfg = serve_config(preset)
    assert (cfg["V"], cfg["c"]) == default_point(preset)
    _, policy, _ = settings_from_config(cfg)
    assert (policy.V, policy.c) == default_point(preset)


def test_serve_v_and_c_overrides_still_win():
    _, policy, _ = settings_from_config(serve_config("mess_plus", "V=3.5", "c=0.25"))
    assert (policy.V, policy.c) == (3.5, 0.25)


def test_serve_names_an_unknown_router_not_a_null_v():
    """router_name without a default point composes V=c=null; the error names the router, as before."""
    cfg = serve_config("mess_plus", "router_name=knn")
    assert cfg["V"] is None
    with pytest.raises(ConfigError, match="router_name='knn' needs its preset selected"):
        settings_from_config(cfg)


@pytest.mark.parametrize("sweep", ["default", "paper"])
def test_summary_shows_the_default_sweeps_point_of_any_sweep(sweep):
    cfg = compose("evaluate", f"sweep={sweep}", "logger=none")
    assert cfg["summary"] == {p: dict(zip(("V", "c"), default_point(p))) for p in MESS_PLUS_ROUTERS}
    p = plan(cfg, check_data=False)
    assert table_setting(p, cfg["summary"], cfg["default_sweep"])[0] == {name: default_point(name) for name in MESS_PLUS_ROUTERS if name in p.routers}


def test_summary_override_still_picks_another_point():
    cfg = compose("evaluate", "sweep=paper", "summary.mess_plus.V=400", "summary.mess_plus.c=0.05", "logger=none")
    assert table_setting(plan(cfg, check_data=False), cfg["summary"], cfg["default_sweep"])[0]["mess_plus"] == (400.0, 0.05)


def yaml_keys(path: Path, block: str | None = None) -> set[str]:
    raw = OmegaConf.to_container(OmegaConf.load(path))
    return set(raw[block] if block else raw) - {"defaults", "hydra"}


@pytest.mark.parametrize("target, config, block, other_meaning", [
    (EnergySettings, "capture.yaml", "energy", ()),
    (GatewaySettings, "serve.yaml", None, ()),
    (RouterService.__init__, "serve.yaml", None, ()),
    (RouterService.open, "serve.yaml", None, ()),
    (EventLog.__init__, "serve.yaml", None, ()),
    (LoadSettings, "loadgen.yaml", None, ()),
    (EvaluationPlan, "evaluate.yaml", None, ()),
    (run_grid, "evaluate.yaml", None, ()),
    (ReportContext, "evaluate.yaml", None, ("data_dir",)),  # the header's resolved folder, "" when a test builds none
    (load_capture, "evaluate.yaml", None, ()),
    (make_stream, "evaluate.yaml", None, ()),
    # a run's V and c are None for a router that sweeps neither, its split the part it replays ("full" or "test"):
    # not the config's single-value V/c overrides or its `split:` protocol block
    (RunSpec, "evaluate.yaml", None, ("V", "c", "split")),
], ids=lambda x: getattr(x, "__qualname__", None) if callable(x) else None)
def test_settings_built_from_a_stage_config_repeat_none_of_its_defaults(target: Callable, config: str, block: str | None,
                                                                        other_meaning: tuple[str, ...]):
    """A parameter named after a key of the stage's YAML has no default: the YAML's is the only one."""
    params = inspect.signature(target).parameters
    shared = sorted(set(params) & yaml_keys(CONF / config, block) - set(other_meaning))
    assert shared, f"{target.__qualname__} reads no key of conf/{config}: this pin would pin nothing"
    with_default = [k for k in shared if params[k].default is not inspect.Parameter.empty]
    assert not with_default, f"{target.__qualname__} repeats conf/{config}'s default for {with_default}"


def test_energy_settings_have_no_defaults_and_the_gpu_check_reads_the_capture_config(tmp_path, monkeypatch):
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(EnergySettings))
    monkeypatch.setenv("MESSPLUS_TINY_DIR", str(tmp_path / "tiny"))
    ctx = checks.Context(repo=REPO, work=tmp_path, gpu=False, limit=3, kill_limit=5, overhead_docs=5,
                         vllm_ll_tol=0.02, capture_timeout_s=300)
    assert checks.capture_energy(ctx) == EnergySettings(**compose("capture", "model_zoo=tiny")["energy"])
