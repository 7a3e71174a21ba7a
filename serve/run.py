"""Serve stage: MESS+ as a live OpenAI-compatible routing gateway (Hydra app; README "Online serving").

    export MESSPLUS_TOKEN=<secret>
    python serve/run.py model_zoo=llama3 backends.small=http://gpu1:8001/v1 backends.medium=... backends.large=...
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import uvicorn
from omegaconf import DictConfig, OmegaConf

from messplus_core.cli import check_overrides
from messplus_core.errors import ConfigError
from messplus_core.serve.app import create_app
from messplus_core.serve.config import open_service, settings_from_config
from messplus_core.serve.live_log import LiveSeries
from messplus_core.serve.service import LogMismatch

log = logging.getLogger("messplus.serve")


@hydra.main(version_base=None, config_path="../conf", config_name="serve")
def main(cfg: DictConfig) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per backend call otherwise
    conf = OmegaConf.to_container(cfg, resolve=True)
    try:
        zoo, policy, gateway = settings_from_config(conf)
        service = open_service(conf, zoo, policy)
    except (ConfigError, LogMismatch) as err:
        log.error("%s", err)
        sys.exit(2)
    st = service.router_state()
    log.info("MESS+ gateway on http://%s:%s/v1 (zoo %s, alpha %s, state %s: t=%d, Q=%.3f)", conf["host"], conf["port"],
             zoo.name, conf["alpha"], conf["state_dir"], st["t"], st["Q"])
    series = live_series(conf, zoo.name)
    uvicorn.run(create_app(service, gateway, series=series), host=conf["host"], port=int(conf["port"]), log_level="warning")


def live_series(conf: dict, zoo_name: str) -> LiveSeries | None:
    """With logger=wandb, the W&B run of the live series (files under <state_dir>/wandb), started; else None."""
    logger = conf["logger"]
    if logger["name"] != "wandb":
        return None
    keys = ("router_name", "alpha", "V", "c", "seed", "cost", "explore_wait", "grader", "state_dir")
    series = LiveSeries(logger["project"], logger["entity"], logger["group"] or "serve",
                        Path(conf["state_dir"]) / "wandb", f"serve-{zoo_name}-{Path(conf['state_dir']).name}",
                        {"zoo": zoo_name, **{k: conf.get(k) for k in keys}})
    series.start()
    return series


if __name__ == "__main__":
    check_overrides("serve")
    main()
