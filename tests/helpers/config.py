"""The repository's configs as the stages see them: Hydra composition and single zoo/benchmark files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import OmegaConf

from messplus_core.cli import register_resolvers
from messplus_core.specs import BenchmarkSpec, ModelZoo

REPO = Path(__file__).resolve().parents[2]


def compose(config_name: str, *overrides: str) -> dict[str, Any]:
    """conf/<config_name>.yaml composed with `overrides` and resolved, as the stage's run.py hands it on."""
    register_resolvers()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def zoo(name: str = "llama3") -> ModelZoo:
    """conf/model_zoo/<name>.yaml, resolved (the tiny zoo's paths follow MESSPLUS_TINY_DIR)."""
    return ModelZoo.from_mapping(OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "model_zoo" / f"{name}.yaml"), resolve=True))


def predictor_head(name: str = "minilm") -> dict[str, Any]:
    """conf/predictor/<name>.yaml's `head:`: the hyperparameters production trains MESS+'s predictor with."""
    return OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "predictor" / f"{name}.yaml"))["head"]


def router_head(name: str) -> dict[str, Any]:
    """conf/router/<name>.yaml's `head:` (a learned router's offline MLP head)."""
    return OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "router" / f"{name}.yaml"))["head"]


def bench(name: str) -> BenchmarkSpec:
    """conf/benchmark/<name>.yaml as a BenchmarkSpec."""
    return BenchmarkSpec.from_mapping(name, OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "benchmark" / f"{name}.yaml")))
