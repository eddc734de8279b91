# opsdesk — the two commands a newcomer needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export OPSDESK_DATA_DIR ?= ./var

.PHONY: install install-dev run demo test test-postgres bench lint messages clean

$(STAMP): pyproject.toml setup.py opsdesk/monitoring/_pushscan.c
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install: $(STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages the tests need: chromium for the browser tests, gettext for the check that
# every message is translated, and the real peers the monitoring tests talk to on 127.0.0.1
# (an SNMP agent, Prometheus exporters, a Zabbix agent, VictoriaMetrics, openssl for a
# self-signed certificate, Dovecot for the mail intake). The tests start their own instances on free ports; the packages'
# own services are not used. Fonts let the screenshots render Chinese. PostgreSQL, MariaDB and Redis
# are used both ways: the machine's own servers on their usual ports, and a primary and a replica
# of each that the tests start from the same programs.
TEST_PACKAGES := chromium gettext snmpd snmp prometheus-node-exporter prometheus-redis-exporter \
  zabbix-agent victoria-metrics openssl fonts-wqy-microhei prometheus-alertmanager dovecot-imapd \
  postgresql mariadb-server redis-server
TEST_COMMANDS := chromium xgettext snmpd prometheus-node-exporter prometheus-redis-exporter \
  zabbix_agentd victoria-metrics openssl prometheus-alertmanager dovecot pg_ctlcluster mariadbd redis-server
test-deps: $(DEV_STAMP)
	@for c in $(TEST_COMMANDS); do command -v $$c >/dev/null || missing=1; done; [ -z "$$missing" ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends $(TEST_PACKAGES) >/dev/null; }

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
