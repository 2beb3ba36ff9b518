# Two commands on a fresh machine:  `make lab` (set up + open the quickstart on the local
# workspace) and `make test` (set up + lint + the whole test suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements/lock.txt
export MLFLOW_DISABLE_TELEMETRY := true

W7     := .venv-ipywidgets7
CV     := .venv-clients
PS     := .venv-pyspark

.PHONY: setup browser java screenshot test test-fast fuzz test-ipywidgets7 test-clients test-pyspark lint lab workspace bench \
        lock lock-clients clean wheel test-installs test-lowest-extras test-light test-lowest test-newest

setup: $(VENV)/.installed

# pip first: the machine's old pip backtracks for many minutes on the databricks-openai tree.
$(VENV)/.installed: pyproject.toml $(LOCK) jupyter-config/ipython-startup/50-agent_magics.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# Debian Chromium for the browser tests (Playwright's own browser download does not work here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; \
	  else echo "browser tests need Debian chromium: sudo apt-get install chromium chromium-driver"; fi; \
	fi

# A Java runtime for the Spark tests (local[2] and the Spark Connect server), like `browser` above.
java:
	@if ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends default-jre-headless; \
	  else echo "Spark tests need Java: sudo apt-get install default-jre-headless"; fi; \
	fi

# Style, formatting, the layers (import-linter contracts in pyproject.toml) and types.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: setup browser java lint
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-ipywidgets7
	$(MAKE) --no-print-directory test-clients
	$(MAKE) --no-print-directory test-pyspark
	$(MAKE) --no-print-directory test-installs

# The view again on ipywidgets 7.8 (Databricks): a small venv holding only ipywidgets 7 whose
# .pth adds the main venv's packages after its own, so ipywidgets 7 wins.
$(W7)/.installed: requirements/ipywidgets7.txt $(VENV)/.installed
	rm -rf $(W7) && $(PYTHON) -m venv $(W7)
	$(W7)/bin/python -m pip install -q --no-deps -r requirements/ipywidgets7.txt
	echo "import site; site.addsitedir('$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")')" \
	  > "$$($(W7)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/zz_main_venv.pth"
	touch $@

test-ipywidgets7: $(W7)/.installed
	$(W7)/bin/python -c "import ipywidgets; assert ipywidgets.__version__.startswith('7.'), ipywidgets.__version__"
	$(W7)/bin/python -m pytest -q -p no:cacheprovider tests/test_view_live.py tests/test_view_render.py tests/test_view_compare_widget.py

# Third-party clients (LiteLLM's databricks/ provider, databricks-langchain) against the local
# workspace. Their pins conflict with the main lock, so they get a venv of their own; only the
# clients run there: the tests start the workspace server on the main venv's python (its locked
# MLflow/uvicorn), so neither process mixes two environments' packages.
$(CV)/.installed: requirements/clients.txt
	rm -rf $(CV) && $(PYTHON) -m venv $(CV)
	$(CV)/bin/python -m pip install -q -U pip
	$(CV)/bin/python -m pip install -q -r requirements/clients.txt
	touch $@

test-clients: setup $(CV)/.installed
	AGENT_MAGICS_SERVER_PYTHON=$(CURDIR)/$(BIN)/python PYTHONPATH=$(CURDIR) \
	  $(CV)/bin/python -m pytest -q -p no:cacheprovider --confcutdir=tests/local/clients tests/local/clients

# The Spark tests (skipped in the main venv, whose pyspark is databricks-connect's and refuses local
# sessions): plain pyspark in a small venv whose .pth adds the main venv's packages after its own.
$(PS)/.installed: requirements/pyspark.txt $(VENV)/.installed
	rm -rf $(PS) && $(PYTHON) -m venv $(PS)
	$(PS)/bin/python -m pip install -q -U pip
	$(PS)/bin/python -m pip install -q --no-deps -r requirements/pyspark.txt
	echo "import site; site.addsitedir('$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")')" \
	  > "$$($(PS)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/zz_main_venv.pth"
	touch $@

test-pyspark: $(PS)/.installed java
	$(PS)/bin/python -c "import pyspark, os; assert os.path.isdir(os.path.join(os.path.dirname(pyspark.__file__), 'jars')), pyspark.__file__"
	$(PS)/bin/python -m pytest -q -p no:cacheprovider -m spark tests/sql

# -- Installed the way users install it: the built wheel (not editable) in venvs of its own ----------
# test-light:  the light core (`pip install agent_magics`, newest dependencies, only ipykernel beside)
# test-lowest: the same with every core dependency at the lower bound pyproject.toml states
# test-newest: the wheel's [local,sql] extras and the test tools resolved fresh (requirements/newest.txt),
#              then the suite minus the browser, the notebooks and the tests that import
#              databricks_openai (the heavy extra; .ci/without_heavy.py finds them)
# The light venvs' kernels are driven from the main venv, whose local workspace is their configured
# workspace. Fresh venvs every run: newest cannot be locked, so it is re-resolved, bounded in time.
WHEEL_DIR       := build/wheel
LIGHT           := .venv-light
LOWEST          := .venv-lowest
LOWEST_EXTRAS   := .venv-lowest-extras
NEWEST          := .venv-newest
RESOLVE_TIMEOUT := 600
RESOLVE_FAILED   = { echo "$(1): pip could not install from the registry within $(RESOLVE_TIMEOUT) s (see above). Nothing is locked in this leg: the registry's current releases do not resolve or install together, or the registry is unreachable."; exit 1; }

test-installs: test-light test-lowest test-lowest-extras test-newest

wheel: setup
	rm -rf $(WHEEL_DIR)
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w $(WHEEL_DIR) .

test-light: wheel
	rm -rf $(LIGHT) && $(PYTHON) -m venv $(LIGHT) && $(LIGHT)/bin/python -m pip install -q -U pip
	timeout $(RESOLVE_TIMEOUT) $(LIGHT)/bin/python -m pip install -q $(WHEEL_DIR)/agent_magics-*.whl ipykernel \
	  || $(call RESOLVE_FAILED,test-light)
	@$(LIGHT)/bin/python -m pip list --format=freeze 2>/dev/null | grep -iE '^(ipython|traitlets|ipywidgets|httpx|openai|databricks-sdk|markdown-it-py|nh3|ipykernel)=='
	AGENT_MAGICS_LIGHT_PYTHON=$(CURDIR)/$(LIGHT)/bin/python $(BIN)/python -m pytest -q -p no:cacheprovider tests/install/test_light_core.py

test-lowest: wheel
	rm -rf $(LOWEST) && $(PYTHON) -m venv $(LOWEST) && $(LOWEST)/bin/python -m pip install -q -U pip
	$(PYTHON) .ci/lowest_constraints.py > $(LOWEST)/constraints.txt
	timeout $(RESOLVE_TIMEOUT) $(LOWEST)/bin/python -m pip install -q -c $(LOWEST)/constraints.txt \
	  $(WHEEL_DIR)/agent_magics-*.whl ipykernel \
	  || { echo "test-lowest: the lower bounds in pyproject.toml do not install together ($(LOWEST)/constraints.txt): raise the bound that conflicts."; exit 1; }
	$(LOWEST)/bin/python .ci/lowest_constraints.py --check $(LOWEST)/constraints.txt
	AGENT_MAGICS_LIGHT_PYTHON=$(CURDIR)/$(LOWEST)/bin/python $(BIN)/python -m pytest -q -p no:cacheprovider tests/install/test_light_core.py

# [local] and [sql] at their lower bounds: the embedded workspace and the DuckDB engine run on them
test-lowest-extras: wheel
	rm -rf $(LOWEST_EXTRAS) && $(PYTHON) -m venv $(LOWEST_EXTRAS) && $(LOWEST_EXTRAS)/bin/python -m pip install -q -U pip
	$(PYTHON) .ci/lowest_constraints.py local sql > $(LOWEST_EXTRAS)/constraints.txt
	timeout $(RESOLVE_TIMEOUT) $(LOWEST_EXTRAS)/bin/python -m pip install -q -c $(LOWEST_EXTRAS)/constraints.txt \
	  "$$(ls $(WHEEL_DIR)/agent_magics-*.whl)[local,sql]" ipykernel \
	  || { echo "test-lowest-extras: the lower bounds of [local,sql] in pyproject.toml do not install together ($(LOWEST_EXTRAS)/constraints.txt): raise the bound that conflicts."; exit 1; }
	$(LOWEST_EXTRAS)/bin/python .ci/lowest_constraints.py --check $(LOWEST_EXTRAS)/constraints.txt
	AGENT_MAGICS_EXTRAS_PYTHON=$(CURDIR)/$(LOWEST_EXTRAS)/bin/python $(BIN)/python -m pytest -q -p no:cacheprovider tests/install/test_lowest_extras.py

test-newest: wheel
	rm -rf $(NEWEST) && $(PYTHON) -m venv $(NEWEST) && $(NEWEST)/bin/python -m pip install -q -U pip
	timeout $(RESOLVE_TIMEOUT) $(NEWEST)/bin/python -m pip install -q "$$(ls $(WHEEL_DIR)/agent_magics-*.whl)[local,sql]" \
	  -r requirements/newest.txt || $(call RESOLVE_FAILED,test-newest)
	@$(NEWEST)/bin/python -m pip list --format=freeze 2>/dev/null | grep -iE '^(ipython|httpx|openai|databricks-sdk|mlflow-skinny|starlette|uvicorn|duckdb|sqlglot|pandas)=='
	# bin/pytest, not python -m pytest: the source tree must not shadow the installed wheel
	AGENT_MAGICS_EXPECT_INSTALLED=1 PYTHONPATH=.ci $(NEWEST)/bin/pytest -q -p no:cacheprovider -p without_heavy \
	  -m "not browser" --ignore=tests/test_notebooks.py --ignore=tests/local/clients tests

test-fast: setup
	$(BIN)/python -m pytest -q -m "not browser"

# The property tests with fresh random examples (the suite itself always tries the same ones).
fuzz: setup
	AGENT_MAGICS_HYPOTHESIS=explore $(BIN)/python -m pytest -q -p no:cacheprovider -m "not browser" \
	  $$(grep -rlE "^from hypothesis|^import hypothesis" tests)

lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/quickstart.ipynb

workspace: setup
	$(BIN)/agent-magics workspace

# The README's picture, docs/screenshot.png: a finished %%agent answer with its tool call and trace,
# taken in JupyterLab in Chromium by the browser test that checks that cell.
screenshot: setup browser
	AGENT_MAGICS_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/frontend/test_lab.py -k test_tool_calls_and_trace_render_and_expand

bench: setup $(PS)/.installed java
	$(BIN)/python -m benchmarks.run

# Re-resolve the lock (slow; needs the registries): only when changing dependencies.
lock:
	rm -rf /tmp/agent-magics-lock && $(PYTHON) -m venv /tmp/agent-magics-lock
	/tmp/agent-magics-lock/bin/python -m pip install -q -U pip
	/tmp/agent-magics-lock/bin/python -m pip install -q -e ".[test,lab]" playwright hatchling editables
	/tmp/agent-magics-lock/bin/python -m pip freeze --exclude-editable | grep -v '^agent.magics' > $(LOCK)

# Re-resolve the clients' lock (slow; needs the registries).
lock-clients:
	rm -rf /tmp/agent-magics-lock-clients && $(PYTHON) -m venv /tmp/agent-magics-lock-clients
	/tmp/agent-magics-lock-clients/bin/python -m pip install -q -U pip
	/tmp/agent-magics-lock-clients/bin/python -m pip install -q litellm databricks-langchain pytest pytest-timeout
	{ sed -n '1,3p' requirements/clients.txt; /tmp/agent-magics-lock-clients/bin/python -m pip freeze; } > requirements/clients.new
	mv requirements/clients.new requirements/clients.txt

clean:
	rm -rf $(VENV) $(W7) $(CV) $(PS) $(LIGHT) $(LOWEST) $(NEWEST) $(WHEEL_DIR) .pytest_cache .ruff_cache
