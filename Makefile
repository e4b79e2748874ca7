# The two commands of the README: `make run` (the suite on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint install servers stop-servers bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start all services on the embedded default (SQLite + the SQLite event log); Ctrl-C stops them.
run: $(STAMP)
	$(PY) -m devstack.stack

## The whole test suite. Production-mode tests need PostgreSQL and Kafka (`make servers`);
## without them they are skipped locally and fail in CI (CI=true).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## Install (if needed) and start PostgreSQL and the Kafka broker for production mode and its tests; install
## Prometheus and Alertmanager (the alert tests start their own instances).
servers: $(STAMP)
	deploy/postgres/postgres.sh start
	deploy/kafka/kafka.sh start
	deploy/prometheus/install.sh
	deploy/alertmanager/install.sh

stop-servers:
	-deploy/kafka/kafka.sh stop
	-deploy/postgres/postgres.sh stop

clean:
	rm -rf var
