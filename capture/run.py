"""Capture stage: LM Eval Harness over a model zoo, per-document energy and time (Hydra app).

    python capture/run.py model_zoo=Z [benchmark=B] [backend=hf|vllm] [device=cpu|cuda]
        [limit=N] [out_dir=DIR] [unit=K] [print_units=true] [merge_only=true]
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from messplus_core.capture.stage import run_capture
from messplus_core.cli import check_overrides, maybe_help
from messplus_core.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("messplus.capture")


@hydra.main(version_base=None, config_path="../conf", config_name="capture")
def main(cfg: DictConfig) -> None:
    try:
        run_capture(OmegaConf.to_container(cfg, resolve=True), REPO_ROOT)
    except ConfigError as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    maybe_help("capture", __doc__)
    check_overrides("capture")
    main()
