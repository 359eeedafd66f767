# Empathy: the commands of ../shared/CONTRACT.md. Everything runs from the repository root.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Airflow's own state lives in a git-ignored folder of the repo, created on demand.
export AIRFLOW_HOME ?= $(CURDIR)/.airflow/local
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION ?= False
export EMPATHY_HOME ?= $(CURDIR)/data
export PATH := $(VENV)/bin:$(PATH)
AIRFLOW := $(VENV)/bin/airflow

.PHONY: setup browser demo run test up stack bench lint airflow-init clean

setup: $(STAMP) browser  ## create .venv with everything pinned in requirements.txt (idempotent)

# The Empathy page's browser test drives Debian's Chromium through its driver (no download at run time).
# Installed here when missing and possible (root, or passwordless sudo, with apt-get); otherwise the test
# is skipped with the reason. By hand: sudo apt-get install chromium chromium-driver
browser:  ## headless Chromium and chromedriver for the browser test (apt-get, when missing and possible)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if ! command -v apt-get > /dev/null; then echo "note: no apt-get here: install Chromium and chromedriver to run the browser test"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2> /dev/null; then SUDO="sudo -n"; \
	else echo "note: the browser test needs: sudo apt-get install chromium chromium-driver"; exit 0; fi; \
	echo "installing chromium and chromium-driver (apt-get) for the browser test"; \
	$$SUDO apt-get install -y -q chromium chromium-driver > /dev/null 2>&1 || \
	  { $$SUDO apt-get update -q > /dev/null 2>&1 && $$SUDO apt-get install -y -q chromium chromium-driver > /dev/null 2>&1; } || \
	  echo "note: apt-get could not install chromium: the browser test will be skipped"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned environment into .venv (log: .venv/install.log) ..."
	@($(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -r requirements.txt \
	  && $(PY) -m pip install --quiet --no-deps -e .) > $(VENV)/install.log 2>&1 \
	  || (tail -n 40 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

# `make demo` / `make run`: dag.test() is one process, one writer, so SQLite is enough for them.
$(AIRFLOW_HOME)/.initialised: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	@$(AIRFLOW) db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	@$(AIRFLOW) pools set duckdb 1 "DuckDB allows one writer: every task that opens the database takes this slot" > /dev/null 2>&1
	@touch $@

airflow-init: $(AIRFLOW_HOME)/.initialised  ## SQLite metadata DB for demo/run, and the one-slot duckdb pool

demo: setup airflow-init  ## demo journeys -> one full empathy_pipeline run -> a short summary of that run
	@mkdir -p $(AIRFLOW_HOME)/logs
	@$(PY) -m empathy demo-data --home "$(EMPATHY_HOME)" > $(AIRFLOW_HOME)/logs/demo-data.txt
	@head -n 1 $(AIRFLOW_HOME)/logs/demo-data.txt; echo "  (who is who: $(AIRFLOW_HOME)/logs/demo-data.txt)"
	@$(PY) scripts/run_pipeline.py
	@echo "Previews of what was (or would be) sent: $(EMPATHY_HOME)/outbox/ (open index.html)"

run: setup airflow-init  ## one real empathy_pipeline run over whatever is in the landing folder
	@$(PY) scripts/run_pipeline.py

test: setup  ## the whole test suite
	$(PY) -m pytest -q

up: setup  ## Airflow locally on an embedded PostgreSQL (UI on http://localhost:8080), until Ctrl-C
	@$(PY) scripts/local_airflow.py up

stack: setup  ## production-shaped run: PostgreSQL metadata, CeleryExecutor on Redis, two workers
	@$(PY) tests/stack.py $(STACK_FLAGS)

bench: setup  ## benchmarks (figures and ratios, not pass/fail)
	$(PY) bench/ingest.py
	$(PY) bench/scorer.py
	$(PY) bench/score.py
	$(PY) bench/llm_cost.py
	$(PY) bench/ui.py

lint: setup
	$(VENV)/bin/ruff check --select AIR3 dags plugins
	$(VENV)/bin/ruff check dags plugins include tests bench

clean:  ## remove run outputs (data/, .airflow/), keep .venv
	rm -rf data .airflow
