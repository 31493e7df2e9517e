# dacu: two commands for a newcomer (see README.md).
#   make demo   - venv + install + Airflow on SQLite + demo shop + the Double 11 2026 season as dated runs
#   make test   - the whole suite (SQLite and PostgreSQL)
#   make airflow - the Airflow UI on the demo warehouse
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
DACU_HOME ?= $(CURDIR)/.dacu
DEMO_PLAYBOOK ?= tmall_double11_2026.yaml
DEMO_CUSTOMERS ?= 3000
DEMO_SEED ?= 11
PYTEST_ARGS ?=

# Airflow and the warehouse for demo/airflow (tests set their own in tests/conftest.py).
export DACU_HOME
export AIRFLOW_HOME ?= $(DACU_HOME)/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := True
export AIRFLOW_CONN_DACU_WAREHOUSE ?= {"conn_type": "sqlite", "host": "$(DACU_HOME)/warehouse.db"}
GATEWAY_PORT ?= 8765
SMTP_PORT ?= 8025

.PHONY: install browser-deps demo test test-sqlite test-integration airflow gateway bench lint clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -n "$(PY)" || { echo "Python 3.11 is needed (python3.11 not found)"; exit 2; }
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "dacu needs Python 3.11, found " + sys.version.split()[0])'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

install: $(VENV)/.installed

# Headless Chromium, its driver and a CJK font for tests/test_warroom_browser.py (Debian packages;
# never a downloaded browser). Installed only when missing.
BROWSER_PKGS := chromium chromium-driver fonts-wqy-microhei
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@{ command -v chromium && command -v chromedriver && fc-list | grep -qi wqy; } >/dev/null 2>&1 || { \
	  echo "installing $(BROWSER_PKGS) for tests/test_warroom_browser.py"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(BROWSER_PKGS); }

demo: install
	$(BIN)/python -m dacu.demo --playbook $(DEMO_PLAYBOOK) --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED)

test: install browser-deps
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider $(PYTEST_ARGS)

test-sqlite: install browser-deps
	DACU_REQUIRE_PG=0 $(BIN)/python -m pytest -q -n 2 -p no:cacheprovider -m "not postgres" $(PYTEST_ARGS)

# The multi-process CeleryExecutor proof alone (PostgreSQL + Redis; also part of `make test`).
test-integration: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m integration $(PYTEST_ARGS)

lint: install
	$(BIN)/dacu playbook lint include/playbooks/*.yaml

# The reference SMS/in-app gateway and an SMTP sink on loopback (the channel providers of dev and demo).
gateway: install
	$(BIN)/python -m dacu.devservices --gateway-port $(GATEWAY_PORT) --smtp-port $(SMTP_PORT)

# The Airflow UI on the demo warehouse, with the local channel providers running beside it.
airflow: install
	@test -f $(DACU_HOME)/warehouse.db || { echo "No demo warehouse yet: run 'make demo' first"; exit 2; }
	@echo "Airflow UI: http://localhost:8080  (login printed below and stored in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"
	$(BIN)/python -m dacu.devservices --gateway-port $(GATEWAY_PORT) --smtp-port $(SMTP_PORT) > $(DACU_HOME)/devservices.log 2>&1 & \
	trap "kill $$! 2>/dev/null" EXIT INT TERM; \
	AIRFLOW_CONN_DACU_SMS_GATEWAY=http://127.0.0.1:$(GATEWAY_PORT) \
	AIRFLOW_CONN_DACU_SMTP='{"conn_type": "smtp", "host": "127.0.0.1", "port": $(SMTP_PORT), "extra": {"sender": "crm@example.com"}}' \
	$(BIN)/airflow standalone

bench: install
	$(BIN)/python bench/bench_generate.py --customers 100000

clean:
	rm -rf $(DACU_HOME) .pytest_cache
