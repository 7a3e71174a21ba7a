"""From the serve stage's config (conf/serve.yaml, as a plain dict) to a running gateway's parts.

Everything is validated before a socket opens: the routing preset, the keys against `schemas.ServeSchema`
(conf/serve.yaml holds every default; its V and c are the preset's default point, read from
conf/sweep/default.yaml), then a missing backend URL, an unknown MESS+ lever, a missing bearer token or
cost=energy without visible GPUs raise ConfigError naming the key and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from messplus_core.errors import ConfigError
from messplus_core.schemas import validate_stage
from messplus_core.specs import ModelZoo, check_alpha
from ..routers import MESS_PLUS_ROUTERS
from ..routers.mess_plus import MessPlusSettings
from .app import GatewaySettings
from .backends import backends_from_mapping
from .energy import energy_meters
from .eventlog import EventLog
from .service import RouterService

EVENT_LOG = "events.sqlite"


def settings_from_config(cfg: dict[str, Any]) -> tuple[ModelZoo, MessPlusSettings, GatewaySettings]:
    """The zoo, the MESS+ policy and the gateway settings from the composed conf/serve.yaml. Raises ConfigError
    for a router that is not a selected MESS+ preset, a bad alpha or policy setting, missing or extra backend
    URLs, auth=bearer with its token variable empty, and an explore_wait or grader that cannot work."""
    # The preset first: for a router_name that conf/sweep/default.yaml has no (V, c) for, conf/serve.yaml's V and c
    # compose to null, and the name, not V, is the mistake to report.
    name, routers = cfg.get("router_name"), cfg.get("routers")
    if name not in MESS_PLUS_ROUTERS or not isinstance(routers, dict) or name not in routers:
        raise ConfigError(f"serve: router_name={name!r} needs its preset selected (router={name}); the gateway runs "
                          f"one of {list(MESS_PLUS_ROUTERS)}.")
    validate_stage("serve", cfg)
    zoo = ModelZoo.from_mapping(cfg["model_zoo"])
    check_alpha(cfg["alpha"])
    try:
        policy = MessPlusSettings.from_params({**routers[name], "V": cfg["V"], "c": cfg["c"]})
    except (TypeError, ValueError) as err:
        raise ConfigError(f"serve: {err}") from err
    served = {m.category: cfg["served_names"].get(m.category) or m.model for m in zoo.models}
    backends = backends_from_mapping(tuple(zoo.categories), cfg["backends"], served, cfg["price_per_token"], cfg["cost"])
    token = None
    if cfg["auth"] == "bearer":
        env = cfg["token_env"]
        token = os.environ.get(env)
        if not token:
            raise ConfigError(f"serve: auth=bearer but the environment variable {env} is empty; export {env}=<secret> "
                              "(clients send it as Authorization: Bearer <secret>), or pass auth=none explicitly.")
    wait = cfg["explore_wait"]
    if cfg["grader"] == "reported" and wait != "all":
        raise ConfigError("serve: grader=reported reads the labels from the logged answers of an exploration; "
                          "set explore_wait=all so they are logged before the client can send feedback.")
    energy = None
    if cfg["cost"] == "energy":  # Zeus on this node's GPUs; a ConfigError without them, never a fallback
        energy = energy_meters(tuple(zoo.categories), dict(cfg["gpus"] or {}), float(cfg["energy_window_s"]),
                               int(cfg["energy_windows"]))
    gateway = GatewaySettings(backends=backends, cost=cfg["cost"], token=token,
                              backend_timeout_s=cfg["backend_timeout_s"], explore_wait=wait, energy=energy)
    return zoo, policy, gateway


def open_service(cfg: dict[str, Any], zoo: ModelZoo, policy: MessPlusSettings) -> RouterService:
    """The router service over `<state_dir>/events.sqlite`: fresh, or recovered from its snapshot and events."""
    log = EventLog(Path(cfg["state_dir"]) / EVENT_LOG, cfg["synchronous"])
    return RouterService.open(policy, tuple(zoo.categories), cfg["alpha"], cfg["seed"], log, cfg["snapshot_every"],
                              cfg["feedback_ttl_s"], cfg["grader"])
