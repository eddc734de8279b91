# opsdesk — the two commands a newcomer needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export OPSDESK_DATA_DIR ?= ./var

.PHONY: install install-dev run demo test test-postgres bench lint messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install: $(STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages the tests need: chromium for the browser tests, gettext for the check that
# every message is translated.
test-deps: $(DEV_STAMP)
	@command -v chromium >/dev/null && command -v xgettext >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium gettext >/dev/null; }

install-dev: test-deps

run: install
	$(BIN)/opsdesk up

demo: install
	$(BIN)/opsdesk setup
	$(BIN)/opsdesk demo

test: test-deps
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: install-dev
	mkdir -p bench/results
	@for script in bench/[!_]*.py; do \
	  name=$$(basename $$script .py); \
	  echo "== $$name"; \
	  $(BIN)/python $$script --quick | tee bench/results/$$name.log; \
	  tail -n 1 bench/results/$$name.log > bench/results/$$name.json; rm bench/results/$$name.log; \
	done

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

# Refresh the translation catalogue from the code (needs GNU gettext).
messages: $(DEV_STAMP)
	$(BIN)/python -m django makemessages --settings=opsdesk.settings -l zh_Hans --no-obsolete --no-location \
	  -i '.venv/*' -i 'tests/*' -i 'bench/*' -i 'var/*' -i 'opsdesk/static/vendor/*' -i build

clean:
	rm -rf $(VENV) var
