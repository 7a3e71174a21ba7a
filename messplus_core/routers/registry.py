"""The router registry: each router registers once, with the metadata the evaluate stage reads.

A router module registers its builder with `@register(name, ...)` (the pattern
of lm-eval's `register_model`); `conf/router/<name>.yaml` (`# @package
routers.<name>`) holds its parameters. Grid building (what a router sweeps,
whether it runs once per model, on which splits), the split protocol (who
trains offline), the embedding step (who reads features), the report and the
plots (bounds, MESS+ presets, display order and colour) ask the registry and
never branch on a router's name. Adding a router is one module with a
registered builder plus one YAML (tests/integration/evaluate/test_toy_router.py).

Hindsight (the stream's own labels and costs) reaches a router only when its
entry declares it needs them (`hindsight_labels` / `hindsight_costs`): the
evaluate stage builds every other router's `RouterContext` without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Union

import numpy as np

from messplus_core.errors import ConfigError
from .base import Router, RouterContext

Builder = Callable[[RouterContext, dict[str, Any]], Router]
#: A flag that may depend on the router's parameters (e.g. MESS+ reads features only with estimator=head/blend).
Flag = Union[bool, Callable[[Mapping[str, Any]], bool]]
#: An expected-value bound's mixture: (mean satisfaction (M,), mean cost (M,), alpha) -> an object with
#: `probabilities` (M,) and `expected_satisfaction` (core.bounds.Mixture).
ExpectedBound = Callable[[np.ndarray, np.ndarray, float], Any]
#: The separator of a per-model run's label, `<router>:<zoo category>` (e.g. `single_model:llama3-1b`).
MODEL_SEPARATOR = ":"
#: Appended to a results label for a router's run on the full stream under the train/test protocol.
FULL_STREAM_SUFFIX = " (full stream)"


@dataclass(frozen=True)
class RouterSpec:
    """One registered router (or bound) and what the evaluate stage needs to know about it.

    build: (context, params) -> Router; None for an expected-value bound that is computed, not replayed.
    sweeps: the sweep axes this router spans, e.g. ("V", "c") for the MESS+ presets (`sweep.V.<name>`).
    per_model: one run per zoo model (`params["model"]` is the category; label `<name>:<category>`).
    features: whether its decisions read request embeddings (the stage embeds texts only for these).
    predictor: whether it takes the `conf/predictor` config (`params["predictor"]`) when it reads features.
    trains_offline: fits on the training part, so it runs only under the train/test protocol.
    learns_online: learns from the stream itself, so under the protocol it also runs on the full stream.
    bound: a bound, not a deployable router (tables mark it, comparisons leave it out).
    expected: for an expected-value bound (the static optimum): the mixture whose expectation is the bound.
    hindsight_labels / hindsight_costs: the replayed stream's own labels / costs reach its RouterContext.
    preset: a MESS+ preset: the report compares every other router against it, the plots draw its queue.
    order: display order in tables and plots (lower first; ties by name).
    colour: a fixed tab20 slot (0-19) so it keeps one colour across runs; None: a stable slot from its name.
    plot_style: matplotlib line keywords for its cost-vs-satisfaction curve (e.g. {"ls": "--", "marker": "s"}).
    check: validates its parameters before any data is read: (params, zoo categories) -> None, raising
           ValueError or TypeError with what to fix (the stage turns it into a ConfigError naming the router).
    describe: a few words on what it is, for the report's header (bounds: "per-request hindsight").
    """

    name: str
    build: Builder | None
    sweeps: tuple[str, ...] = ()
    per_model: bool = False
    features: Flag = False
    predictor: bool = False
    trains_offline: bool = False
    learns_online: bool = False
    bound: bool = False
    expected: ExpectedBound | None = None
    hindsight_labels: Flag = False
    hindsight_costs: Flag = False
    preset: bool = False
    order: int = 50
    colour: int | None = None
    plot_style: Mapping[str, Any] | None = None
    check: Callable[[Mapping[str, Any], tuple[str, ...]], None] | None = None
    describe: str = ""

    def needs_features(self, params: Mapping[str, Any]) -> bool:
        """Whether the router reads request embeddings with these parameters."""
        return _flag(self.features, params)

    def needs_hindsight_labels(self, params: Mapping[str, Any]) -> bool:
        """Whether the stream's own labels go into its RouterContext with these parameters."""
        return _flag(self.hindsight_labels, params)

    def needs_hindsight_costs(self, params: Mapping[str, Any]) -> bool:
        """Whether the stream's own costs go into its RouterContext with these parameters."""
        return _flag(self.hindsight_costs, params)


def _flag(flag: Flag, params: Mapping[str, Any]) -> bool:
    return bool(flag(params) if callable(flag) else flag)


_REGISTRY: dict[str, RouterSpec] = {}


def register(name: str, **metadata: Any) -> Callable[[Builder], Builder]:
    """Decorator: register `builder` under `name` with the RouterSpec fields in `metadata`.

    Raises ValueError when `name` is taken (two modules claiming one name would silently shadow each other).
    """
    def decorate(builder: Builder) -> Builder:
        add(RouterSpec(name=name, build=builder, **metadata))
        return builder
    return decorate


def add(spec: RouterSpec) -> None:
    """Register a spec directly (several presets sharing one builder, or an expected-value bound)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"router {spec.name!r} is registered twice.")
    _REGISTRY[spec.name] = spec


def get(name: str) -> RouterSpec:
    """The entry of a registered name (a router or a bound); ConfigError listing the available routers otherwise."""
    if name not in _REGISTRY:
        check_router_names([name])
    return _REGISTRY[name]


def names(**wanted: bool) -> tuple[str, ...]:
    """Registered names in display order whose boolean metadata match `wanted` (e.g. names(preset=True))."""
    specs = sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))
    return tuple(s.name for s in specs if all(bool(getattr(s, key)) == value for key, value in wanted.items()))


def replayable() -> tuple[str, ...]:
    """Names that `router=` may select (everything with a builder)."""
    return tuple(n for n in names() if _REGISTRY[n].build is not None)


def check_router_names(selected: list[str]) -> None:
    """ConfigError naming every entry of `selected` that `router=` cannot select, and the available names."""
    unknown = [n for n in selected if n not in _REGISTRY or _REGISTRY[n].build is None]
    if unknown:
        raise ConfigError(f"unknown router(s) {unknown}; available: {sorted(replayable())} (router=<name> or router=[a,b]).")


def spec_of_label(label: str) -> RouterSpec | None:
    """The entry behind a results label: `mess_plus`, `single_model:<category>`, `mess_plus (full stream)`;
    None for a label no registered router makes."""
    base = label.removesuffix(FULL_STREAM_SUFFIX).split(MODEL_SEPARATOR, 1)[0]
    return _REGISTRY.get(base)


def label_is(label: str, attribute: str) -> bool:
    """Whether the router behind a results label has the boolean metadata `attribute` (False for unknown labels)."""
    spec = spec_of_label(label)
    return spec is not None and bool(getattr(spec, attribute))


def display_order(label: str) -> int:
    """The display order of the router behind a results label (unknown labels after every registered one)."""
    spec = spec_of_label(label)
    return spec.order if spec is not None else 1000


def build_router(name: str, ctx: RouterContext, params: dict[str, Any]) -> Router:
    """The registered router `name` for one stream; ConfigError for an unknown name or a bound that is not replayed."""
    check_router_names([name])
    return _REGISTRY[name].build(ctx, params)
