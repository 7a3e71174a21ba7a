"""Evaluate stage: replay capture CSVs through MESS+ and the baselines (Hydra app).

    python evaluate/run.py data_dir=DIR benchmark=all sweep=default
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from messplus_core.cli import check_overrides, maybe_help
from messplus_core.errors import CaptureError, ConfigError
from messplus_core.evaluate.pipeline import run_evaluation

log = logging.getLogger("messplus.evaluate")


@hydra.main(version_base=None, config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        result = run_evaluation(OmegaConf.to_container(cfg, resolve=True), out_dir)
    except (ConfigError, CaptureError) as err:
        log.error("%s", err)
        sys.exit(2)
    if "summary" in result:
        print(f"\nresults: {result['results']}\nsummary: {result['summary']}\nplots:   {out_dir / 'plots'}/")
        if result.get("wandb"):
            print(result["wandb"])


if __name__ == "__main__":
    maybe_help("evaluate", __doc__)
    check_overrides("evaluate")
    main()
