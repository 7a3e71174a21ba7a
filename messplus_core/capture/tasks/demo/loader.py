"""Loads demo.jsonl for lm-eval's `custom_dataset` hook.

Resolving the file next to this module keeps the task YAML free of absolute
paths and keeps `datasets` from writing a cache outside the repo.
"""

import json
from pathlib import Path
from typing import Any

import datasets


def load_demo(**_: Any) -> dict[str, datasets.Dataset]:
    """{"test": the rows of demo.jsonl} as a `datasets.Dataset` (lm-eval's keyword arguments are ignored)."""
    path = Path(__file__).with_name("demo.jsonl")
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return {"test": datasets.Dataset.from_list(rows)}
