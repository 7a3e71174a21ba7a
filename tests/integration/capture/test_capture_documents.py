"""A unit's done record names the documents it scored; a unit whose task now gives other documents is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.capture import LIMIT, RUN, capture_env, config
from helpers.config import REPO

from messplus_core.capture.documents import document_set
from messplus_core.capture.shards import ShardIdentity, done_path
from messplus_core.capture.stage import run_capture
from messplus_core.errors import ConfigError
from messplus_core.util.io import write_json_atomic

CATS = ("small", "medium", "large")


def write_done_units(out: Path, tiny: Path, documents: dict[str, Any] | None, limit: int | None = None) -> None:
    """Done records of tiny x demo as a capture before this demo's data would have left them."""
    for cat in CATS:
        ident = ShardIdentity(zoo="tiny", benchmark="demo", task="demo", category=cat, model=str(tiny / cat),
                              backend="hf", device="cpu")
        record = {"identity": ident.to_dict(), "limit": limit, "generation": None, "metrics": [{"doc_id": 0, "acc": 1.0}]}
        if documents is not None:
            record["documents"] = documents
        path = done_path(out, "demo", cat)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, record)


def test_the_fingerprint_covers_the_first_limit_documents() -> None:
    all_docs, first, again = document_set("demo", None), document_set("demo", 100), document_set("demo", 100)
    assert (all_docs.count, first.count) == (600, 100)
    assert first == again and first.sha256 != all_docs.sha256


def test_a_done_unit_of_the_100_question_demo_is_refused_before_any_model_loads(
        tmp_path: Path, no_model_is_loaded: None) -> None:
    out = tmp_path / "out"
    write_done_units(out, tmp_path / "tiny", document_set("demo", 100).to_dict())
    for extra in ((), ("merge_only=true",)):  # neither skipped as complete nor merged
        with pytest.raises(ConfigError) as err:
            run_capture(config("model_zoo=tiny", "benchmark=demo", "device=cpu", f"out_dir={out}", *extra), REPO,
                        say=lambda _: None)
        message = str(err.value)
        assert "other documents of task 'demo' (100 documents" in message, message
        assert "the task gives now (600 documents" in message
        assert f"Delete the folder {out / 'demo'} to recapture" in message and "out_dir=<a new folder>" in message
    assert not (out / "demo.csv").exists()


def test_a_done_unit_without_a_fingerprint_is_refused(tmp_path: Path, no_model_is_loaded: None) -> None:
    out = tmp_path / "out"
    write_done_units(out, tmp_path / "tiny", None)
    with pytest.raises(ConfigError, match=r"records no fingerprint of the documents it scored .*task 'demo' \(600 documents "
                                          r"at limit None\)\. Delete the folder .*demo to recapture"):
        run_capture(config("model_zoo=tiny", "benchmark=demo", "device=cpu", f"out_dir={out}"), REPO, say=lambda _: None)


def test_the_cli_refuses_a_stale_unit_with_one_line_and_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_done_units(out, tmp_path / "tiny", document_set("demo", 100).to_dict())
    proc = subprocess.run([sys.executable, str(RUN), "model_zoo=tiny", "benchmark=demo", "device=cpu", f"out_dir={out}"],
                          cwd=REPO, env=capture_env(tmp_path / "tiny", tmp_path), capture_output=True, text=True, timeout=300)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "Traceback" not in said and not (tmp_path / "tiny").exists()  # refused before any model was built
    assert "other documents of task 'demo' (100 documents" in said


def test_a_capture_records_the_documents_it_scored(reference_capture: Path) -> None:
    """(That a rerun skips these units again: test_capture_end_to_end.test_rerun_skips_complete_units_...)"""
    expected = document_set("demo", LIMIT).to_dict()
    for cat in CATS:
        assert json.loads(done_path(reference_capture, "demo", cat).read_text())["documents"] == expected
