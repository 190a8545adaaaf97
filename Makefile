# Sergas — the two commands of the README:
#   make run    creates .venv, installs Sergas, opens it on the demo workspace
#   make test   creates .venv with the dev and Cognee extras (and, when node and npm are there, the
#               pinned MCP Inspector in tests/inspector; as root on Debian, chromium and
#               chromedriver for the approval page's browser tests and promtool for the alert
#               rules), runs ruff, mypy, the import contracts, deptry and pytest
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: run test lint typecheck contracts deps pytest bench clean snapshots debian-tools

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Sergas needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	$(PY) -m compileall -q sergas_tui
	@touch $@

$(VENV)/.dev-installed: pyproject.toml tests/inspector/package-lock.json | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,cognee]'
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		echo "npm ci --no-audit --no-fund --prefix tests/inspector"; \
		npm ci --no-audit --no-fund --prefix tests/inspector; \
	fi
	$(PY) -m compileall -q sergas_tui
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/sergas

test: $(VENV)/.dev-installed
	$(MAKE) lint typecheck contracts deps pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

contracts: $(VENV)/.dev-installed
	$(BIN)/lint-imports

# Dependencies ([tool.deptry] in pyproject.toml): the package imports only what [project]
# dependencies declare, none of the dev extra, and uses all of it; tests and benchmarks import
# only what is declared in either.
deps: $(VENV)/.dev-installed
	$(BIN)/deptry sergas_tui
	$(BIN)/deptry tests bench --ignore DEP002,DEP004

pytest: $(VENV)/.dev-installed debian-tools
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian tools some tests drive: chromium and chromedriver for the approval page's browser tests
# (same source package, so always the same version), and promtool (package prometheus) for the
# alert rules in docs/monitoring/. As root with apt-get (CI, containers) they are installed
# here; otherwise those tests skip and say how to install them.
DEBIAN_TOOLS := chromium chromium-driver prometheus

debian-tools:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
		&& command -v promtool >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "apt-get install -y $(DEBIAN_TOOLS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			$(DEBIAN_TOOLS) >/dev/null \
			|| echo "warning: could not install $(DEBIAN_TOOLS); the tests that need them skip"; \
	else \
		echo "note: the browser and alert-rule tests skip without chromium, chromedriver" \
			"and promtool (sudo apt-get install $(DEBIAN_TOOLS))"; \
	fi

snapshots: $(VENV)/.dev-installed
	$(PY) -m pytest tests/tui --snapshot-update

bench: $(VENV)/.dev-installed
	$(PY) bench/generate.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis tests/inspector/node_modules
