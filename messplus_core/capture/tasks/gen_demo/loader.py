"""Loads gen_demo.jsonl for lm-eval's `custom_dataset` hook (next to this module; no datasets cache outside the repo)."""

import json
from pathlib import Path
from typing import Any

import datasets


def load_gen_demo(**_: Any) -> dict[str, datasets.Dataset]:
    """{"test": the rows of gen_demo.jsonl} as a `datasets.Dataset` (lm-eval's keyword arguments are ignored)."""
    path = Path(__file__).with_name("gen_demo.jsonl")
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return {"test": datasets.Dataset.from_list(rows)}
