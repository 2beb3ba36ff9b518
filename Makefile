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

.PHONY: setup browser java test test-fast test-ipywidgets7 test-clients test-pyspark lint lab workspace bench lock lock-clients clean

setup: $(VENV)/.installed

# pip first: the machine's old pip backtracks for many minutes on the databricks-openai tree.
$(VENV)/.installed: pyproject.toml $(LOCK)
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
	$(BIN)/lint-imports

test: setup browser java lint
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-ipywidgets7
	$(MAKE) --no-print-directory test-clients
	$(MAKE) --no-print-directory test-pyspark

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
	$(W7)/bin/python -m pytest -q -p no:cacheprovider tests/test_view_live.py tests/test_view_render.py

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

test-fast: setup
	$(BIN)/python -m pytest -q -m "not browser"

lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/quickstart.ipynb

workspace: setup
	$(BIN)/agent-magics workspace

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
	rm -rf $(VENV) $(W7) $(CV) $(PS) .pytest_cache .ruff_cache
