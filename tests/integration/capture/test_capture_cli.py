"""The capture CLI contract and its errors, all raised before any model is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.capture import RUN, config
from helpers.config import REPO
from hydra.errors import MissingConfigException

from messplus_core.capture import backends
from messplus_core.capture.shards import DocRecord, ShardIdentity, ShardWriter, shard_path
from messplus_core.capture.stage import run_capture
from messplus_core.errors import ConfigError

PAPER = ["arc_challenge", "arc_easy", "boolq", "logiqa", "piqa", "sciq", "social_iqa", "winogrande"]


pytestmark = pytest.mark.usefixtures("no_model_is_loaded")  # tests/conftest.py


def fails(match: str, *overrides: str, tmp: Path) -> None:
    with pytest.raises(ConfigError, match=match):
        run_capture(config(*overrides, f"out_dir={tmp / 'out'}"), REPO, say=lambda _: None)


def test_print_units_is_benchmark_major_cheapest_first_and_loads_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(RUN), "model_zoo=llama3", "print_units=true", f"out_dir={out}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    units = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [u["unit"] for u in units] == list(range(24))
    assert [u["benchmark"] for u in units] == [b for b in PAPER for _ in range(3)]
    assert [u["category"] for u in units[:3]] == ["small", "medium", "large"]
    assert units[2] == {"unit": 2, "benchmark": "arc_challenge", "category": "large",
                        "model": "meta-llama/Llama-3.3-70B-Instruct", "gpus": [0]}
    assert not out.exists()


def test_print_units_with_unit_prints_that_unit(tmp_path: Path) -> None:
    lines: list[str] = []
    run_capture(config("model_zoo=qwen2", "benchmark=[boolq,piqa]", "unit=5", "print_units=true"), REPO, say=lines.append)
    assert [json.loads(x) for x in lines] == [
        {"unit": 5, "benchmark": "piqa", "category": "medium", "model": "Qwen/Qwen2-1.5B-Instruct", "gpus": [0]}
    ]


@pytest.mark.parametrize("override, listed", [("model_zoo=nope", "mixed_l3_q2"), ("benchmark=nope", "winogrande")])
def test_unknown_zoo_or_benchmark_lists_the_available_ones(override: str, listed: str) -> None:
    with pytest.raises(MissingConfigException, match=listed):
        config("model_zoo=tiny", override)


def test_unit_out_of_range(tmp_path: Path) -> None:
    fails(r"unit=3 is out of range.*units 0\.\.2", "model_zoo=tiny", "benchmark=demo", "unit=3", tmp=tmp_path)


def test_local_model_folder_that_does_not_exist(tmp_path: Path) -> None:
    fails("does not exist", "model_zoo=tiny", "benchmark=demo", "device=cpu", "model_zoo.models.1.build=null",
          f"model_zoo.models.1.model={tmp_path / 'no_model'}", tmp=tmp_path)


def test_hub_model_not_cached_while_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    fails("not in the Hugging Face cache", "model_zoo=tiny", "benchmark=demo", "device=cpu", "model_zoo.models.0.build=null",
          "model_zoo.models.0.model=nobody/no-such-model", tmp=tmp_path)


@pytest.mark.skipif(backends.importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed here")
def test_quantized_zoo_without_bitsandbytes(tmp_path: Path) -> None:
    fails(r"Llama-3.1-8B-Instruct.*bitsandbytes.*make install-gpu", "model_zoo=llama3", "benchmark=boolq", tmp=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_indices_on_a_machine_without_gpus(tmp_path: Path) -> None:
    fails(r"GPU index\(es\) \[0\].*no GPU", "model_zoo=tiny", "benchmark=demo", "device=cuda", tmp=tmp_path)


@pytest.mark.skipif(backends.importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_without_the_gpu_extra(tmp_path: Path) -> None:
    fails(r"make install-gpu", "model_zoo=tiny", "benchmark=demo", "backend=vllm", tmp=tmp_path)


def test_output_folder_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="is not writable"):
        run_capture(config("model_zoo=tiny", "benchmark=demo", f"out_dir={blocker / 'sub'}"), REPO, say=lambda _: None)


def test_shard_written_by_another_zoo_or_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    foreign = ShardIdentity(zoo="llama3", benchmark="demo", task="demo", category="small",
                            model="meta-llama/Llama-3.2-1B-Instruct", backend="hf", device="cpu")
    writer = ShardWriter(shard_path(out, "demo", "small"), foreign, fsync_every=1)
    writer.append(DocRecord(0, "h", "q", [(-1.0, False)], 0.1, None))
    writer.close()
    fails("written by a different capture.*zoo: file has 'llama3', this run 'tiny'", "model_zoo=tiny", "benchmark=demo",
          "device=cpu", tmp=tmp_path)


def test_unknown_lm_eval_task_suggests_close_names(tmp_path: Path) -> None:
    fails(r"no task 'demoo'.*\['demo', 'gen_demo'\]", "model_zoo=tiny", "benchmark=demo", "device=cpu", "benchmarks.demo.task=demoo",
          tmp=tmp_path)


def test_energy_estimate_needs_a_wattage(tmp_path: Path) -> None:
    fails("needs energy.watts", "model_zoo=tiny", "benchmark=demo", "energy.fallback=time_x_power", tmp=tmp_path)


def test_merge_only_names_the_units_still_missing(tmp_path: Path) -> None:
    fails(r"cannot be merged yet: unit 0 \(small\), unit 1 \(medium\), unit 2 \(large\)", "model_zoo=tiny",
          "benchmark=demo", "merge_only=true", tmp=tmp_path)


def test_cpu_threads_must_be_positive(tmp_path: Path) -> None:
    fails("cpu_threads must be a positive integer", "model_zoo=tiny", "benchmark=demo", "device=cpu",
          "model_zoo.models.2.backend_args.cpu_threads=0", tmp=tmp_path)


def test_tiny_model_built_from_another_spec(tmp_path: Path) -> None:
    folder = tmp_path / "tiny" / "small"  # MESSPLUS_TINY_DIR of this test
    folder.mkdir(parents=True)
    (folder / "build.json").write_text(json.dumps({"spec": {"hidden_size": 1}}))
    fails("was built with .* but the zoo now asks for", "model_zoo=tiny", "benchmark=demo", "device=cpu", tmp=tmp_path)


def test_benchmark_data_missing_offline(tmp_path: Path) -> None:
    try:
        run_capture(config("model_zoo=tiny", "benchmark=boolq", "device=cpu", f"out_dir={tmp_path / 'out'}"), REPO,
                    say=lambda _: None)
    except ConfigError as err:
        assert "could not load the data of task 'boolq'" in str(err)
    except AssertionError:  # no_model_is_loaded: the data was there, so the tiny build started
        pytest.skip("boolq's data is cached on this machine")
    else:
        pytest.fail("expected an error")


def test_every_blocker_is_named_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`capture/run.py model_zoo=llama3` on a CPU machine: no GPU, no `gpu` extra, weights not cached, data not offline."""
    from huggingface_hub import constants

    from messplus_core.capture import preflight

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    real_find_spec = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec", lambda name: None if name == "bitsandbytes" else real_find_spec(name))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_hub_cache"))

    def no_data(tasks: list[str]) -> None:
        raise ConfigError(f"lm-eval could not load the data of task {tasks[0]!r}: offline")

    monkeypatch.setattr(preflight, "check_task_data", no_data)
    with pytest.raises(ConfigError) as err:
        run_capture(config("model_zoo=llama3", "benchmark=[boolq,piqa]", f"out_dir={tmp_path / 'out'}"), REPO, say=lambda _: None)
    message = str(err.value)
    assert message.startswith("7 problems stop this capture before any model loads:")
    for part in ("Llama-3.1-8B-Instruct' (medium) asks for bitsandbytes", "Llama-3.3-70B-Instruct' (large) asks for bitsandbytes",
                 "no CUDA GPU is visible", "Llama-3.2-1B-Instruct' (small) is not in the Hugging Face cache",
                 "Llama-3.1-8B-Instruct' (medium) is not in the Hugging Face cache",
                 "Llama-3.3-70B-Instruct' (large) is not in the Hugging Face cache",
                 "could not load the data of tasks ['boolq', 'piqa']"):
        assert part in message
