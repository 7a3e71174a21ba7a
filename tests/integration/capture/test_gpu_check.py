"""scripts/gpu_check.sh on a machine without a GPU, and the comparisons its checks rest on."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from helpers.capture import capture_env, tiny_zoo
from helpers.config import REPO

from messplus_core.capture.shards import DocRecord, ShardIdentity, ShardWriter, shard_path
from messplus_core.gpu_check import checks, compare


def _capture_folder(out: Path, lls: dict[int, list[float]], labels: dict[int, int], energy: dict[int, float]) -> Path:
    """A one-model ('x') capture folder: demo.csv plus the shard holding `lls`."""
    ident = ShardIdentity("z", "demo", "demo", "x", "m", "hf", "cuda")
    writer = ShardWriter(shard_path(out, "demo", "x"), ident, 1)
    for d, values in lls.items():
        writer.append(DocRecord(d, "h", "q", [(v, False) for v in values], 0.01, energy[d]))
    writer.close()
    pd.DataFrame({"doc_id": list(lls), "label_x": [labels[d] for d in lls],
                  "energy_consumption_x": [energy[d] for d in lls]}).to_csv(out / "demo.csv", index=False)
    return out


def test_argmax_margin_takes_the_first_maximum_as_lm_eval_does() -> None:
    assert compare.argmax_margin([-1.0, -3.0, -0.5, -2.0]) == (2, 0.5)
    assert compare.argmax_margin([-1.0, -1.0, -2.0]) == (0, 0.0)
    assert compare.argmax_margin([-4.0]) == (0, math.inf)


def test_compare_captures_reports_each_label_difference_with_both_margins(tmp_path: Path) -> None:
    a = _capture_folder(tmp_path / "a", {0: [-1.0, -2.0], 1: [-1.0, -1.001], 2: [-3.0, -1.0]}, {0: 1, 1: 1, 2: 0}, {0: 1, 1: 1, 2: 1})
    b = _capture_folder(tmp_path / "b", {0: [-1.0, -2.0], 1: [-1.002, -1.0], 2: [-3.0, -1.5]}, {0: 1, 1: 0, 2: 0}, {0: 1, 1: 1, 2: 1})
    out = compare.compare_captures(a, b, "demo", ["x"])
    assert out["docs"] == 3 and out["choice_diffs"] == 1 and out["missing"] == {}
    [diff] = out["label_diffs"]
    assert (diff["doc_id"], diff["label_a"], diff["label_b"], diff["choice_a"], diff["choice_b"]) == (1, 1, 0, 0, 1)
    assert diff["margin_a"] == pytest.approx(0.001) and diff["margin_b"] == pytest.approx(0.002)
    assert out["max_abs_ll_diff"] == pytest.approx(0.5)


def test_energy_problems_name_every_row_without_finite_positive_energy(tmp_path: Path) -> None:
    out = _capture_folder(tmp_path / "c", {0: [-1.0], 1: [-1.0], 2: [-1.0], 3: [-1.0]}, {0: 1, 1: 1, 2: 1, 3: 1},
                          {0: 0.5, 1: 0.0, 2: float("nan"), 3: -1.0})
    assert compare.energy_problems(out, "demo", ["x"]) == ["doc_id 1 (x): 0.0", "doc_id 2 (x): nan", "doc_id 3 (x): -1.0"]


def test_shard_doc_counts_count_repeats_and_skip_a_torn_last_line(tmp_path: Path) -> None:
    out = _capture_folder(tmp_path / "d", {0: [-1.0], 1: [-1.0]}, {0: 1, 1: 1}, {0: 1.0, 1: 1.0})
    shard = shard_path(out, "demo", "x")
    lines = shard.read_text().splitlines()
    shard.write_text("\n".join([*lines, lines[1], lines[2][:20]]))  # doc 0 again, then a torn line
    assert compare.shard_doc_counts(out, "demo", "x") == {0: 2, 1: 1}


def test_a_zoo_written_for_a_check_is_found_by_the_capture_cli(tmp_path: Path, tiny_dir: Path) -> None:
    """Check 3 captures a zoo of its own (the 4-bit model) through hydra.searchpath; shown here with a CPU model."""
    ctx = checks.Context(repo=REPO, work=tmp_path, gpu=False, limit=3, kill_limit=5, overhead_docs=5,
                         vllm_ll_tol=0.02, capture_timeout_s=300)
    small = tiny_zoo().models[0]
    checks.write_zoo(ctx, "one_model", [{"category": "only", "model": small.model, "cost_rank": 1,
                                          "backend_args": {"quantization": None, "dtype": "float32", "cpu_threads": 1}}])
    cmd = checks.capture_cmd(ctx, tmp_path / "cap", "device=cpu", zoo="one_model")
    proc = subprocess.run(cmd, cwd=REPO, env=capture_env(tiny_dir, tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    frame = pd.read_csv(tmp_path / "cap" / "demo.csv")
    assert frame["doc_id"].tolist() == [0, 1, 2] and "label_only" in frame


@pytest.mark.slow
def test_gpu_check_without_a_gpu_runs_the_cpu_parts_and_exits_0(tmp_path: Path, tiny_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the script would run the GPU checks")
    proc = subprocess.run(
        ["scripts/gpu_check.sh", "--limit", "8", "--overhead-docs", "12", "--out-dir", str(tmp_path / "gc")],
        cwd=REPO, env=capture_env(tiny_dir, tmp_path), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("gpu_check: no CUDA GPU visible to ") and "2-5 SKIP" in lines[0]
    status = {line.split("  ", 1)[1].split(" ")[0]: line.split()[0] for line in lines[1:-1]}
    assert status == {"tiny": "PASS", "1": "PASS", "2": "SKIP", "3": "SKIP", "4": "SKIP", "5": "SKIP", "6": "PASS"}
    [report_path] = (tmp_path / "gc").glob("*/report.json")
    report = json.loads(report_path.read_text())
    assert report["gpu"] is False and report["versions"]["torch"] and report["versions"]["zeus"] == "0.16.0"
    capture = report["checks"]["capture"]["figures"]
    assert capture["limit"] == 8 and capture["cpu_vs_plain_lm_eval_mismatched_doc_ids"] == {"small": [], "medium": [], "large": []}
    overhead = report["checks"]["overhead"]["figures"]
    assert overhead["docs"] == 12 and overhead["device"] == "cpu" and math.isfinite(overhead["window_overhead_ratio"])
    assert overhead["docs_per_s_per_document"] > 0 and overhead["docs_per_s_batched"] > 0
    assert overhead["energy_source"].startswith("not measured")


@pytest.mark.slow
def test_check_5_kill_and_resume_passes_on_cpu(tmp_path: Path, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check 5's kill, rerun and comparisons (its GPU memory part aside) exercised with device=cpu."""
    for key, value in capture_env(tiny_dir, tmp_path).items():
        monkeypatch.setenv(key, value)
    ctx = checks.Context(repo=REPO, work=tmp_path, gpu=False, limit=5, kill_limit=30, overhead_docs=5,
                         vllm_ll_tol=0.02, capture_timeout_s=300)
    result = checks.check_kill_resume(ctx)
    assert result.status == checks.PASS, result.summary
    figures = result.figures
    assert 0 < figures["docs_in_shard_at_kill"] < 30 and figures["baseline_used_mib"] is None
    assert figures["label_diffs_vs_clean"] == {"small": [], "medium": [], "large": []}
    assert any(f"{figures['docs_in_shard_at_kill']} reused" in line for line in figures["rerun_lines"])
