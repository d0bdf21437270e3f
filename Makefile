# Every target creates .venv itself, so a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REPO ?= .

.PHONY: run test lint typecheck pytest bench scan dist clean browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Start the App (first run without credentials: a setup page that registers it).
run: $(BIN)/.installed
	$(BIN)/musl-check serve

# Scan a local checkout: make scan REPO=path/to/repo
scan: $(BIN)/.installed
	$(BIN)/musl-check scan $(REPO)

lint: $(BIN)/.installed
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

typecheck: $(BIN)/.installed
	$(BIN)/mypy --strict bot/

pytest: $(BIN)/.installed
	PYTHONDEVMODE=1 $(BIN)/pytest --cov=bot --cov-branch --cov-report=term --cov-fail-under=95
	@# The pure core is held to full branch coverage.
	$(BIN)/coverage report --include='bot/core/*' --fail-under=100 --format=total

# The dashboard's browser tests drive Debian's Chromium (never `playwright install`).
browser:
	@[ -x /usr/bin/chromium ] || { as_root=""; [ "$$(id -u)" -eq 0 ] || as_root=sudo; \
	  $$as_root apt-get update && $$as_root apt-get install -y --no-install-recommends chromium; }

test: browser lint typecheck pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/lockfile.py
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/api_calls.py
	$(BIN)/python bench/org_scan.py
	$(BIN)/python bench/ingress.py
	$(BIN)/python bench/json_check.py
	$(BIN)/python bench/attack.py
	$(BIN)/python bench/recovery.py

# The sdist and wheel, as `python -m build` makes them (the wheel from the sdist).
dist: $(BIN)/.installed
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage dist build *.egg-info
