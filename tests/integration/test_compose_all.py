"""Every option of every config group composes with the stages that use it, passes the stage's schema and
builds the stage's objects (the lightning-hydra-template habit): a preset, a predictor head or a zoo whose YAML
no longer matches the code fails here, not in the middle of a sweep."""

from pathlib import Path

import pytest

from helpers.config import REPO, compose

from messplus_core.capture.settings import parse_settings
from messplus_core.cli import STAGE_GROUPS
from messplus_core.evaluate.pipeline import plan
from messplus_core.predictors import make_predictor
from messplus_core.predictors.mlp_head import MLPHead
from messplus_core.routers import MESS_PLUS_ROUTERS, registry
from messplus_core.routers.mess_plus import MessPlusSettings
from messplus_core.serve.config import settings_from_config

CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def stage_options(stage: str) -> list[tuple[str, str]]:
    return [(group, option) for group in STAGE_GROUPS[stage] for option in options(group)]


def test_every_group_of_conf_is_a_stage_group():
    """A new group folder must be added to a stage (cli.STAGE_GROUPS), and so to this test."""
    groups = {p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra"}
    assert groups == {g for gs in STAGE_GROUPS.values() for g in gs}


@pytest.mark.parametrize("group, option", stage_options("evaluate"))
def test_evaluate_builds_every_option(group, option):
    """The evaluate stage's plan (schema, zoo, benchmarks, router settings, grid) with this option; its MESS+
    presets' settings, its predictor and the learned routers' heads built from their YAML."""
    overrides = [f"{group}={option}"]
    if group == "paper":  # an optional group selected by the zoo's name
        overrides = [f"model_zoo={option}"]
    cfg = compose("evaluate", *overrides, "logger=none")
    p = plan(cfg, check_data=False)
    assert p.specs, f"{group}={option} gives no runs"
    for name in (n for n in MESS_PLUS_ROUTERS if n in p.routers):
        MessPlusSettings.from_params({**p.routers[name], "V": 1.0, "c": 1.0})
    predictor = cfg["predictor"]
    make_predictor(predictor["name"], 8, len(p.zoo.categories), 0, predictor["head"])
    for name in sorted(n for n in set(registry.names(trains_offline=True)) & set(p.routers) if "head" in p.routers[n]):  # knn has none
        MLPHead(8, len(p.zoo.categories), seed=0, **p.routers[name]["head"])


@pytest.mark.parametrize("group, option", stage_options("capture"))
def test_capture_builds_every_option(group, option, monkeypatch, tmp_path):
    monkeypatch.setenv("MESSPLUS_TINY_DIR", str(tmp_path / "tiny"))
    base = [] if group == "model_zoo" else ["model_zoo=tiny"]
    settings = parse_settings(compose("capture", *base, f"{group}={option}"), REPO)
    assert settings.units and settings.out_dir.is_absolute()


@pytest.mark.parametrize("preset", sorted(MESS_PLUS_ROUTERS))
@pytest.mark.parametrize("zoo", options("model_zoo"))
def test_serve_builds_every_zoo_and_preset(zoo, preset):
    cfg = compose("serve", f"model_zoo={zoo}", f"router={preset}", f"router_name={preset}", "auth=none")
    cfg["backends"] = {m["category"]: f"http://127.0.0.1:1/{m['category']}/v1" for m in cfg["model_zoo"]["models"]}
    built_zoo, policy, gateway = settings_from_config(cfg)
    assert built_zoo.name == zoo and gateway.token is None and policy.V == cfg["V"]


def test_paths_resolve_from_one_base_whatever_the_working_directory(tmp_path, monkeypatch):
    """Capture writes where evaluate reads, and the embedding cache is one folder, from any working directory."""
    monkeypatch.chdir(tmp_path)
    ev = compose("evaluate", "model_zoo=tiny")
    cap = compose("capture", "model_zoo=tiny")
    assert ev["data_dir"] == cap["out_dir"] == str(REPO / "outputs" / "capture" / "tiny")
    assert ev["cache_dir"] == str(REPO / "outputs" / "cache" / "embeddings")
    moved = compose("evaluate", "model_zoo=tiny", f"paths.root={tmp_path / 'mess'}")
    assert Path(moved["data_dir"]) == tmp_path / "mess" / "capture" / "tiny"
    assert Path(moved["cache_dir"]) == tmp_path / "mess" / "cache" / "embeddings"
