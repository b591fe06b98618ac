# Quick start: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DBT := $(CURDIR)/$(BIN)/dbt
DEMO_DIR := dbt_project

.PHONY: venv demo test lint bench pg-start pg-stop fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@bash $(DEMO_DIR)/run_demo.sh

test: $(STAMP)
	@bash tests/pg.sh start || echo "PostgreSQL not started: the postgres tests are skipped (under CI=true they fail)"
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=40

# The import direction between the sidecar's rooms (docs/architecture.md) is ruff's banned-api,
# configured per room (python_sidecar/sluice/impact/.ruff.toml) and run by `ruff check`. The last
# line proves the rule is live: a probe that imports the warehouse into impact/ must be refused.
lint: $(STAMP)
	$(BIN)/ruff check python_sidecar tests bench
	$(BIN)/ruff format --check python_sidecar tests bench
	$(BIN)/mypy
	@printf 'from sluice.warehouse import connect\n\n__all__ = ["connect"]\n' \
	  | $(BIN)/ruff check --quiet --output-format concise --stdin-filename python_sidecar/sluice/impact/_probe.py - \
	  | grep -q 'TID251 `sluice.warehouse` is banned' \
	  || { echo "make lint: the import-direction rule is not active (impact/ could import warehouse/)"; exit 1; }

bench: $(STAMP)
	$(BIN)/python bench/quarantine.py
	@if bash tests/pg.sh start; then $(BIN)/python bench/quarantine.py --engine postgres; else echo "PostgreSQL did not start: bench/quarantine.py --engine postgres skipped"; fi
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/build_overhead.py

fixtures: $(STAMP)
	bash tests/fixtures/regenerate.sh

pg-start:
	bash tests/pg.sh start

pg-stop:
	bash tests/pg.sh stop

clean:
	rm -rf $(VENV) $(DEMO_DIR)/target $(DEMO_DIR)/dbt_packages $(DEMO_DIR)/*.duckdb bench/.work
