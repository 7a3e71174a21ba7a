"""Load generator: replay a capture's benchmark against a running MESS+ gateway (Hydra app; README "Online serving").

    python serve/loadgen.py data_dir=outputs/capture/llama3 benchmark=arc_challenge seed=42 url=http://127.0.0.1:8000/v1

Writes `<hydra run dir>/results.csv` (one row, the evaluate stage's schema, scenario=live) and `live_steps.csv`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import httpx
import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from messplus_core.cli import check_overrides, register_resolvers
from messplus_core.core.stream import make_stream
from messplus_core.data.capture_csv import load_capture
from messplus_core.errors import CaptureError, ConfigError
from messplus_core.serve.loadgen import LoadSettings, results_row, run_load
from messplus_core.specs import ModelZoo, benchmarks_from_mapping

log = logging.getLogger("messplus.loadgen")


async def drive(cfg: dict, out_dir: Path) -> dict:
    zoo = ModelZoo.from_mapping(cfg["model_zoo"])
    specs = benchmarks_from_mapping(cfg.get("benchmarks") or {})
    if len(specs) != 1:
        raise ConfigError(f"loadgen replays one benchmark; got {[s.name for s in specs]} (benchmark=<name>).")
    if cfg["cost"] not in ("energy", "time"):
        raise ConfigError(f"cost must be energy or time, got {cfg['cost']!r}.")
    if not 0.0 < float(cfg["feedback_rate"]) <= 1.0 or int(cfg["clients"]) < 1:
        raise ConfigError(f"feedback_rate must lie in (0, 1] and clients >= 1, got {cfg['feedback_rate']} and {cfg['clients']}.")
    data = load_capture(cfg["data_dir"], specs[0], zoo, cfg["cost"], drop_incomplete=False)  # every request, as it was captured
    stream = make_stream(data, int(cfg["seed"]), cfg["cost"], float(cfg["feedback_rate"]))
    settings = LoadSettings(url=cfg["url"].rstrip("/"), token=os.environ.get(cfg["token_env"]) or None, clients=int(cfg["clients"]),
                            feedback_delay_s=float(cfg["feedback_delay_s"]), max_requests=cfg["max_requests"],
                            max_seconds=float(cfg["max_seconds"]), seed=int(cfg["seed"]), endpoint=cfg["endpoint"],
                            send_labels=bool(cfg["send_labels"]))
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=max(16, 2 * settings.clients))) as client:
        try:
            state = (await client.get(settings.url + "/router/state")).json()
        except httpx.HTTPError as err:
            raise ConfigError(f"no gateway at {settings.url} ({type(err).__name__}); start it with serve/run.py or fix url=.") from err
        if list(state["categories"]) != list(data.categories):
            raise ConfigError(f"the gateway routes {state['categories']}, the capture has {list(data.categories)}: pick the matching model_zoo.")
        run = await run_load(client, data, stream, settings)
        state = (await client.get(settings.url + "/router/state")).json()
    for err in run.errors[:5]:
        log.warning("%s", err)
    row = results_row(run, stream, state, cfg["router_name"], float(cfg["feedback_rate"]), cfg["cost"])
    pd.DataFrame([row]).to_csv(out_dir / "results.csv", index=False)
    steps = sorted(run.served)
    pd.DataFrame({"step": steps, "t": [run.t[i] for i in steps], "request_id": [run.request_id[i] for i in steps],
                  "served": [data.categories[run.served[i]] for i in steps], "explored": [run.explored[i] for i in steps],
                  "Q": [run.q[i] for i in steps], "charged_cost": [run.cost[i] for i in steps],
                  "latency_s": [run.latency_s[i] for i in steps]}).to_csv(out_dir / "live_steps.csv", index=False)
    return row


@hydra.main(version_base=None, config_path="../conf", config_name="loadgen")
def main(cfg: DictConfig) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        row = asyncio.run(drive(OmegaConf.to_container(cfg, resolve=True), out_dir))
    except (ConfigError, CaptureError) as err:
        log.error("%s", err)
        sys.exit(2)
    print(f"{row['n_requests']} requests in {row['live_seconds']:.1f} s ({row['live_requests_per_s']:.1f}/s), "
          f"satisfaction {row['satisfaction']:.3f} (alpha {row['alpha']}), explorations {row['explore_steps']}, "
          f"errors {row['live_errors']}\nresults: {out_dir / 'results.csv'}")


if __name__ == "__main__":
    register_resolvers()  # ${repo_root:} in conf/paths (data_dir's default)
    check_overrides("loadgen")
    main()
