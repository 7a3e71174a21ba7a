"""Adding a router is one module plus one YAML: a toy router registered here, its YAML in a temporary config
dir, runs through the evaluate stage and shows in results.csv and summary.md, with no other module touched.
It declares no hindsight, so its RouterContext carries none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers.evaluate import config
from messplus_core.evaluate.pipeline import run_evaluation
from messplus_core.routers import Decision, Feedback, Replayed, RouterContext, registry

SEEN: list[RouterContext] = []


class AlwaysModel:
    """Toy OnlineRouter: always the model at `index` (from its YAML)."""

    def __init__(self, index: int) -> None:
        self.index, self.t = index, 0

    def decide(self, features: np.ndarray | None = None) -> Decision:
        self.t += 1
        return Decision(self.t, self.index, (self.index,))

    def observe(self, decision: Decision, feedback: Feedback) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = state["t"]


def toy(ctx: RouterContext, params: dict[str, Any]) -> Replayed:
    SEEN.append(ctx)
    return Replayed(ctx, AlwaysModel(int(params["index"])))


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the registration ends with the test
    registry.register("toy_router", order=15)(toy)
    SEEN.clear()


def test_a_toy_router_in_one_module_and_one_yaml_reaches_results_and_summary(toy_registered, synthetic_capture, tmp_path):
    conf = tmp_path / "conf" / "router"
    conf.mkdir(parents=True)
    (conf / "toy_router.yaml").write_text("# @package routers.toy_router\nindex: 1\n")
    cfg = config(f"hydra.searchpath=[file://{tmp_path / 'conf'}]", f"data_dir={synthetic_capture}",
                 f"cache_dir={tmp_path / 'cache'}", "logger=none", "benchmark=[arc_challenge]", "n_jobs=1",
                 "router=[mess_plus,oracle,toy_router]")
    out = run_evaluation(cfg, tmp_path / "out")
    frame = pd.read_csv(out["results"])
    mine = frame[frame["router"] == "toy_router"]
    assert len(mine) == 3 and (mine["share_medium"] == 1.0).all()  # its YAML's index reached the policy
    # ordered by its registered display order: after the MESS+ preset, before the bounds
    assert list(dict.fromkeys(frame["router"])) == ["mess_plus", "toy_router", "static_optimum", "oracle"]
    summary = out["summary"].read_text()
    assert "| toy_router |" in summary and "*oracle* (bound)" in summary
    # no hindsight declared: none reached it
    assert SEEN and all(ctx.hindsight_labels is None and ctx.hindsight_costs is None for ctx in SEEN)
    with pytest.raises(ValueError, match="does not declare"):
        SEEN[0].request_costs


def test_an_unregistered_yaml_is_refused_with_the_registered_names(synthetic_capture, tmp_path):
    conf = tmp_path / "conf" / "router"
    conf.mkdir(parents=True)
    (conf / "toy_router.yaml").write_text("# @package routers.toy_router\nindex: 1\n")
    from messplus_core.errors import ConfigError
    from messplus_core.evaluate.pipeline import plan

    with pytest.raises(ConfigError, match=r"unknown router\(s\) \['toy_router'\]; available: .*'mess_plus'"):
        plan(config(f"hydra.searchpath=[file://{tmp_path / 'conf'}]", f"data_dir={synthetic_capture}",
                    "router=[mess_plus,toy_router]"))
