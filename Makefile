# Two commands for a fresh machine (see README):
#   make tutorial   run the whole notebook series on the embedded (offline) profile
#   make test       unit tests + every notebook checked end to end by nbval
# Both create .venv/ on first use and install the pinned stack into it; nothing else is needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The embedded profile everywhere, even on a machine with a GPU: stored outputs come from it.
export MLM_PROFILE ?= embedded
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install tutorial test unit notebooks consumers colab-twin lint format lab benchmarks clean

$(STAMP): pyproject.toml mlm_helpers/constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c mlm_helpers/constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with its pinned dependencies

tutorial: $(STAMP) ## train and execute every notebook in order, write executed copies to executed/
	$(BIN)/python tools/run_series.py --fresh

test: $(STAMP) ## all tests: unit/property tests, then nbval over every notebook
	$(BIN)/python -m pytest tests notebooks --nbval --nbval-sanitize-with .nbval-sanitize.cfg --nbval-cell-timeout=900

consumers: $(STAMP) ## the published folder in PyTorch: torch 2.13 + transformers 5.x / 4.57.6, no TensorFlow
	MLM_PYTHON=$(BIN)/python tools/consumers/run.sh

colab-twin: ## Colab's versions on Python 3.13: the setup cell changes 2 packages, no restart; nbval over every notebook
	tools/colab_twin/run.sh

unit: $(STAMP) ## only the unit/property tests (fast)
	$(BIN)/python -m pytest tests

notebooks: $(STAMP) ## re-execute the committed notebooks in place (refreshes stored outputs)
	$(BIN)/python tools/run_series.py --in-place --fresh

lint: $(STAMP) ## ruff over the package, tests, tools, benchmarks and notebooks
	$(BIN)/ruff check mlm_helpers tests tools benchmarks notebooks
	$(BIN)/ruff format --check mlm_helpers tests tools benchmarks

format: $(STAMP)
	$(BIN)/ruff format mlm_helpers tests tools benchmarks
	$(BIN)/ruff check --fix mlm_helpers tests tools benchmarks

lab: $(STAMP) ## open JupyterLab on the notebooks
	$(BIN)/jupyter lab notebooks

benchmarks: $(STAMP) ## our pipeline vs the recipes it replaces, side by side
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf executed runs .pytest_cache
