"""Weights & Biases logging of finished runs: one W&B run per grid run.

`results.csv` is the source of truth; W&B is a view. A logging failure (no
API key, no network, a broken service) is reported once and logging stops;
it never fails the evaluation. WANDB_MODE (online/offline/disabled) is honoured.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CONFIG_KEYS = ("scenario", "benchmark", "router", "split", "alpha", "V", "c", "seed", "feedback_rate", "train_fraction", "cost",
               "n_requests", "run_id")


class WandbLogger:
    def __init__(self, project: str, entity: str | None, group: str | None, out_dir: Path) -> None:
        os.environ.setdefault("WANDB_DIR", str(out_dir))
        os.environ.setdefault("WANDB_CACHE_DIR", str(out_dir / "wandb-cache"))
        os.environ.setdefault("WANDB_SILENT", "true")
        self.project, self.entity, self.group = project, entity, group
        self.enabled = True
        self.logged = 0

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        row, hist = record["row"], record["history"]
        try:
            import wandb

            run = wandb.init(
                project=self.project,
                entity=self.entity,
                group=self.group or row["benchmark"],
                name=run_name(row),
                config={k: row.get(k) for k in CONFIG_KEYS},
                reinit="create_new",
                settings=wandb.Settings(silent=True, console="off"),
            )
            keys = [k for k in hist if k != "t"]
            for i, t in enumerate(hist["t"]):
                run.log({k: hist[k][i] for k in keys}, step=int(t))
            run.summary.update({k: v for k, v in row.items() if k not in CONFIG_KEYS})
            run.finish()
            self.logged += 1
        except Exception as err:  # noqa: BLE001 - any W&B failure must not stop the evaluation
            self.enabled = False
            log.warning("W&B logging stopped after %d runs: %s. results.csv is unaffected; "
                        "set WANDB_MODE=offline (or `wandb login`), or logger=none to silence this.", self.logged, err)


def run_name(row: dict[str, Any]) -> str:
    """benchmark-router-alpha-V-c-seed, prefixed by a scenario and suffixed by a test split when there is one."""
    name = f"{row['benchmark']}-{row['router']}-a{row['alpha']:g}-V{row['V']}-c{row['c']}-s{row['seed']}"
    scenario, split = row["scenario"], row["split"]
    return (f"{scenario}/" if scenario != "none" else "") + name + (f"-{split}" if split != "full" else "")
