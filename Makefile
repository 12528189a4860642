# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv, install gankit with its pinned CPU torch, then run.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch is pinned first: an unpinned torch requirement could pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: venv demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Trains a DCGAN offline in a few CPU minutes: Fashion-MNIST when it is installed
# (Debian package dataset-fashion-mnist), scikit-learn's embedded digits otherwise.
demo: venv
	@rm -rf $(DEMO_OUT)
	@if $(PY) -c "from gankit.data import load_dataset; load_dataset('fashion-mnist')" 2>/dev/null; then \
		echo "Fashion-MNIST found: training dcgan-fashion for 2 epochs"; \
		$(VENV)/bin/gankit train dcgan-fashion --out $(DEMO_OUT) --epochs 2; \
	else \
		echo "Fashion-MNIST not installed: training dcgan-digits on scikit-learn's digits"; \
		$(VENV)/bin/gankit train dcgan-digits --out $(DEMO_OUT); \
	fi
	$(VENV)/bin/gankit sample $(DEMO_OUT) --n 64 --seed 0 --out $(DEMO_OUT)/final_samples.png
	@echo "pictures: $(DEMO_OUT)/samples/progress.gif  $(DEMO_OUT)/final_samples.png  $(DEMO_OUT)/losses.png"

test: venv
	sh scripts/install-test-deps.sh
	$(PY) -m pytest tests

# The style check CI runs (.ci/run): formatting first, then the lint rules of pyproject.toml.
lint: venv
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/ruff check src tests benchmarks examples

bench: venv
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs build *.egg-info
