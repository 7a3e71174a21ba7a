"""Each stage's typed config schema (pydantic): the keys a stage reads, their types, and their checks.

The values live in YAML only: `conf/evaluate.yaml`, `conf/capture.yaml` and `conf/serve.yaml` (and their
groups) hold every default, and every field here is required, so no default is written in both places.
A schema is checked on the composed, resolved config (`OmegaConf.to_container(cfg, resolve=True)`) before
anything else reads it; `validate_stage` turns pydantic's errors into one ConfigError line per config that
names the key, the value and the fix (the project's error path: exit 2, no traceback):

- a scalar where a group of settings is expected (`split=test`): "split is a group of settings ...";
- a wrong type or choice (`cost=money`, `n_jobs=-1`): "cost must be energy or time, got 'money'";
- an unknown key (`+spilt.enabled=true`, or a typo in a hand-written config): "unknown key ...";
- a missing key (a hand-built config dict): "key ... is missing".

Values validated where their meaning lives keep those checks (the zoo in `specs.ModelZoo`, a router's levers
in its settings class, the sweep axes in `evaluate.grid`): here they are typed only as far as their shape.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from messplus_core.errors import ConfigError, config_errors


class _Strict(BaseModel):
    """Refuses unknown keys; values are read as given (no coercion of a bool from 1 or "yes")."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PathsSchema(_Strict):
    """`paths` (conf/paths/default.yaml): the one base of capture output, data_dir and cache_dir."""

    root: str
    capture: str
    cache: str


# --------------------------------------------------------------------------------------------- evaluate

class SplitSchema(_Strict):
    """`split`: the train/test protocol of the learned routers (`evaluate.grid.SplitProtocol`)."""

    enabled: Any  # auto | true | false
    train_fraction: Any  # (0, 1): the first share of each seed's shuffled stream

    @field_validator("enabled")
    @classmethod
    def _enabled(cls, value: Any) -> Any:
        if value != "auto" and not isinstance(value, bool):
            raise ConfigError(f"split.enabled must be auto, true or false, got {value!r}.")
        return value

    @field_validator("train_fraction")
    @classmethod
    def _fraction(cls, value: Any) -> float:
        with config_errors():
            fraction = float(value)
        if not 0 < fraction < 1:
            raise ConfigError(f"split.train_fraction must lie in (0, 1), got {fraction}.")
        return fraction


class EvaluateSchema(_Strict):
    """`conf/evaluate.yaml` composed: the evaluate stage's keys (README "Evaluate" explains each)."""

    model_zoo: dict[str, Any]  # checked by specs.ModelZoo
    benchmarks: dict[str, dict[str, Any]] = Field(default_factory=dict)  # empty when none is selected: refused later
    benchmark: dict[str, Any] = Field(default_factory=dict)  # Hydra's group package; a stray file lands here
    routers: dict[str, dict[str, Any]] = Field(default_factory=dict)  # empty when none is selected: refused later
    router: dict[str, Any] = Field(default_factory=dict)  # Hydra's group package (empty)
    predictor: dict[str, Any]
    sweep: dict[str, Any]  # checked by evaluate.grid.SweepAxes
    default_sweep: dict[str, Any]  # conf/sweep/default.yaml whatever `sweep` is: `summary` reads each preset's (V, c)
    logger: dict[str, Any]
    scenarios: dict[str, dict[str, Any]] = Field(default_factory=dict)  # scenario=none adds no key
    paper: dict[str, Any] | None = None  # an optional group (`optional paper: ${model_zoo}`)
    paths: PathsSchema
    data_dir: str
    cost: Literal["energy", "time"]
    cost_unit: str | None
    feedback_rate: Any  # one number in (0, 1]; checked with the sweep axes
    drop_incomplete: bool
    alpha: Any  # null, one value or a list: replaces the sweep's axis (checked by evaluate.grid.sweep_values)
    V: Any
    c: Any
    seed: Any
    n_jobs: int = Field(ge=0)
    cache_dir: str
    split: SplitSchema
    summary: dict[str, dict[str, float]]
    report: bool
    report_only: bool
    out_dir: str


# --------------------------------------------------------------------------------------------- capture

class GenerationSchema(_Strict):
    """`generation`: merged into a generate_until task's generation_kwargs."""

    do_sample: bool
    temperature: float
    max_gen_toks: int | None = Field(ge=1)


class EnergySchema(_Strict):
    """`energy`: what a capture records where Zeus sees no GPU/RAPL (`capture.energy.EnergySettings`)."""

    fallback: str  # none | time_x_power, checked by EnergySettings
    watts: float | None = Field(gt=0)


class CaptureSchema(_Strict):
    """`conf/capture.yaml` composed: the capture stage's keys (README "Capture" explains each)."""

    model_zoo: dict[str, Any]  # checked by specs.ModelZoo
    benchmarks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    benchmark: dict[str, Any] = Field(default_factory=dict)
    paths: PathsSchema
    backend: str  # capture.backends.BACKENDS, checked by capture.settings
    device: str  # capture.backends.DEVICES, checked by capture.settings
    limit: int | None = Field(ge=1)
    out_dir: str | None
    unit: int | None = Field(ge=0)
    print_units: bool
    merge_only: bool
    batch_size: int = Field(ge=1)
    fsync_every: int = Field(ge=1)
    generation: GenerationSchema
    energy: EnergySchema


# --------------------------------------------------------------------------------------------- serve

class ServeSchema(_Strict):
    """`conf/serve.yaml` composed: the gateway's keys (README "Online serving" explains each)."""

    model_zoo: dict[str, Any]
    routers: dict[str, dict[str, Any]]
    router: dict[str, Any] = Field(default_factory=dict)
    logger: dict[str, Any]  # conf/logger: none | wandb (the live series)
    default_sweep: dict[str, Any]  # conf/sweep/default.yaml: V and c read the preset's default point from it
    router_name: str
    alpha: float
    V: float
    c: float
    seed: int
    host: str
    port: int = Field(ge=0, le=65535)
    backends: dict[str, str]
    served_names: dict[str, str]
    cost: Literal["time", "tokens", "reported", "energy"]
    price_per_token: dict[str, dict[str, float]]
    gpus: dict[str, list[int]] | None  # cost=energy: category -> the GPU indices of its backend
    energy_window_s: float = Field(gt=0)
    energy_windows: int = Field(ge=1)
    auth: Literal["bearer", "none"]
    token_env: str
    feedback_ttl_s: float = Field(gt=0)
    snapshot_every: int = Field(ge=1)
    synchronous: Literal["NORMAL", "FULL"]
    explore_wait: Literal["served", "all"]
    grader: Literal["none", "reported"]
    backend_timeout_s: float = Field(gt=0)
    state_dir: str


STAGES: dict[str, type[BaseModel]] = {"evaluate": EvaluateSchema, "capture": CaptureSchema, "serve": ServeSchema}


def validate_stage(stage: str, cfg: Mapping[str, Any]) -> BaseModel:
    """The stage's composed config checked against its schema; ConfigError (one line) naming every bad key.

    cfg: the resolved config mapping as the stage's run.py hands it on. Returns the schema instance (its
    validators may normalise values, e.g. `split.train_fraction` to a float).
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{stage}: the config must be a mapping of keys (conf/{stage}.yaml), got {type(cfg).__name__}.")
    schema = STAGES[stage]
    try:
        return schema.model_validate(dict(cfg))
    except ValidationError as err:
        raise ConfigError(" ".join(_describe(stage, schema, e) for e in err.errors(include_url=False))) from None


def _choices(options: tuple[Any, ...]) -> str:
    words = [str(o) for o in options]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _fields_at(schema: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys of the (sub-)schema at `loc`, for an unknown-key or scalar-for-a-group message."""
    model: Any = schema
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part) if isinstance(part, str) else None
        model = field.annotation if field is not None else None
    return sorted(getattr(model, "model_fields", {}) or {})


def _describe(stage: str, schema: type[BaseModel], error: Mapping[str, Any]) -> str:
    """One pydantic error as the project's message: the key, the value and the fix."""
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in {"literal", "str", "int", "float", "bool", "none"}))
    key = ".".join(str(p) for p in loc) or "<root>"
    value, kind, ctx = error.get("input"), error["type"], error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), ConfigError):
        return str(ctx["error"])
    if kind == "missing":
        return f"{stage}: key {key} is missing; conf/{stage}.yaml sets it (a config built by hand must give every key)."
    if kind == "extra_forbidden":
        parent = loc[:-1]
        known = _fields_at(schema, parent)
        where = ".".join(str(p) for p in parent) or f"conf/{stage}.yaml"
        return (f"{stage}: unknown key {key}={value!r}; {where} has {known}. Check its spelling "
                "(an override of a missing key needs a leading +, and then it is refused here).")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        keys = _fields_at(schema, loc)
        example = f"{key}.{keys[0]}=..." if keys else f"{key}.<name>=..."
        return (f"{stage}: {key} is a group of settings{f' ({keys})' if keys else ''}, got {value!r}; "
                f"set one of its keys, e.g. {example}, not {key}=VALUE.")
    if kind == "literal_error":
        options = tuple(o.strip().strip("'") for o in str(ctx.get("expected", "")).replace(" or ", ",").split(","))
        return f"{key} must be {_choices(tuple(o for o in options if o))}, got {value!r}."
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        limit = next(iter(ctx.values()), "")
        kind_word = "an integer" if _annotation(schema, loc).startswith("int") else "a number"
        return f"{key} must be {kind_word} {bound} {limit}{' (or null)' if _nullable(schema, loc) else ''}, got {value!r}."
    expected = {"bool_type": "true or false", "int_type": "an integer", "float_type": "a number",
                "string_type": "a string", "int_from_float": "an integer"}.get(kind, error["msg"].lower())
    return f"{key} must be {expected}{' (or null)' if _nullable(schema, loc) else ''}, got {value!r}."


def _annotation(schema: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """The type annotation of the field at `loc` as text ("" when `loc` is not a field)."""
    model: Any = schema
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part) if isinstance(part, str) else None
        if field is None:
            return ""
        model = field.annotation
    return getattr(model, "__name__", None) or str(model)


def _nullable(schema: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    return "None" in _annotation(schema, loc)
