"""The router registry: one entry per router carries the metadata the evaluate stage reads, nothing outside
routers/ branches on a router's name, and hindsight reaches only the routers that declare it."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from helpers.config import REPO
from messplus_core.errors import ConfigError
from messplus_core.evaluate.experiment import RunSpec, router_context
from messplus_core.routers import registry


def router_name_literals(root: Path) -> list[str]:
    """`file:line: 'literal'` for every string literal (docstrings aside) naming a registered router or bound,
    in the library outside routers/ (the online gateway, serve/, is the serve issue's and listed separately)."""
    names = set(registry.names())
    hits = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("routers",):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                words = {w.strip("`'\":()[],.") for w in node.value.replace("=", " ").split()}
                if words & names or node.value.split(":")[0] in names:
                    hits.append(f"{rel}:{node.lineno}: {node.value!r}")
    return hits


def test_no_module_outside_routers_names_a_router():
    hits = [h for h in router_name_literals(REPO / "messplus_core") if not h.startswith("serve/")]
    assert hits == []


def test_the_shipped_entries_carry_their_metadata():
    assert registry.names(preset=True) == ("mess_plus", "mess_plus_paper", "mess_plus_2024")
    assert set(registry.names(trains_offline=True)) == {"threshold_2model", "cheapest_above_threshold", "knn"}
    assert registry.names(bound=True) == ("static_optimum", "oracle")
    assert registry.names(per_model=True) == ("single_model",)
    assert "static_optimum" not in registry.replayable()  # an expected-value bound: computed, not replayed
    mess = registry.get("mess_plus")
    assert mess.sweeps == ("V", "c") and mess.learns_online and mess.predictor
    assert not mess.needs_features({"estimator": "model_mean"}) and mess.needs_features({"estimator": "blend"})
    assert mess.needs_hindsight_costs({"energy_estimate": "known"}) and not mess.needs_hindsight_costs({})
    assert registry.spec_of_label("single_model:large").name == "single_model"
    assert registry.spec_of_label("mess_plus (full stream)").name == "mess_plus"
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("oracle")(lambda ctx, params: None)
    with pytest.raises(ConfigError, match=r"unknown router\(s\) \['static_optimum'\]"):
        registry.check_router_names(["static_optimum"])


class _Data:
    categories = ("small", "large")
    labels = np.array([[0, 1], [1, 1]], dtype=np.int8)

    def cost(self, kind):
        return np.array([[1.0, 5.0], [1.0, 5.0]])


@pytest.mark.parametrize(("router", "params", "labels", "costs"), [
    ("oracle", {}, True, True),
    ("mess_plus_2024", {"energy_estimate": "known"}, False, True),
    ("mess_plus", {"energy_estimate": "running_mean"}, False, False),
    ("educated_guess", {}, False, False),
    ("knn", {}, False, False),
    ("single_model", {"model": "small"}, False, False),
])
def test_hindsight_reaches_only_the_routers_that_declare_it(router, params, labels, costs):
    data = _Data()
    ctx = router_context(data, RunSpec("b", router, 0.5, 42, feedback_rate=1.0), "energy", None, data.labels, data.cost("energy"), None, params)
    assert (ctx.hindsight_labels is not None, ctx.hindsight_costs is not None) == (labels, costs)
    if not costs:
        with pytest.raises(ValueError, match="does not declare `hindsight_costs`"):
            ctx.request_costs
