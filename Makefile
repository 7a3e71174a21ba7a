# Plain entry points. `make install` builds .venv with a CPU torch first so a
# GPU-less machine never downloads CUDA wheels; `make install-gpu` adds vLLM.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0
# Where a CPU-only torch comes from when no local CPU wheel is on pip's find-links (the plain package
# index resolves torch to the CUDA build, about 20 extra packages).
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
export WANDB_MODE ?= offline
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install install-gpu test demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	@if $(BIN)/pip install -q --no-index --no-deps $(TORCH) 2>/dev/null; then \
		echo "torch: CPU build from the local wheel folder (pip find-links)"; \
	else \
		echo "torch: CPU build from $(TORCH_CPU_INDEX)"; \
		$(BIN)/pip install -q $(TORCH) --index-url $(TORCH_CPU_INDEX) || exit 1; \
	fi
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(VENV)/.installed

# `make test` and `make demo` on a fresh clone install first; later runs reinstall only when
# pyproject.toml changed (a reinstall with a warm pip cache costs about 30 s).
$(VENV)/.installed: pyproject.toml
	$(MAKE) install

install-gpu: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,gpu]'

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

# The main job on a fresh CPU-only, offline machine: capture the tiny zoo on the
# shipped demo benchmark (no energy meter on CPU, so the evaluate stage
# optimises time), then evaluate that capture.
demo: $(VENV)/.installed
	$(BIN)/python capture/run.py model_zoo=tiny benchmark=demo device=cpu
	$(BIN)/python evaluate/run.py model_zoo=tiny benchmark=demo cost=time logger=none out_dir=outputs/demo

clean:
	rm -rf $(VENV) outputs/demo outputs/capture/tiny outputs/models/tiny
