# SynsetLab: `make run` sets everything up and serves the demo; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SHARED := $(abspath ../shared/data)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Zero-config local run: DEBUG, SQLite and the embedded filesystem broker unless set otherwise;
# the demo photos' folder is also a folder staff may collect from in the app.
RUN_ENV := DEBUG=$${DEBUG:-1} \
	OMW_DIR=$${OMW_DIR:-$(if $(wildcard $(SHARED)/omw),$(SHARED)/omw,var/nltk_data/corpora/omw-2.0)} \
	DEMO_IMAGES=$${DEMO_IMAGES:-$(if $(wildcard $(SHARED)/imagenet-samples),$(SHARED)/imagenet-samples,)} \
	CANDIDATES_FOLDER_ROOTS=$${CANDIDATES_FOLDER_ROOTS:-$(if $(wildcard $(SHARED)/imagenet-samples),$(SHARED)/imagenet-samples,)}

.PHONY: run setup test lint system-deps system-deps-test venv clean bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps-run: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.deps-test: pyproject.toml $(VENV)/.deps-run
	$(PIP) install -q -e '.[test]'
	touch $@

$(VENV)/.deps-bench: pyproject.toml $(VENV)/.deps-run
	$(PIP) install -q -e '.[bench]'
	touch $@

# Debian packages: WordNet 3.0 (read by nltk offline), and for tests Chromium and docker-compose.
system-deps:
	@if [ ! -f /usr/share/wordnet/data.noun ] && command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wordnet-base wordnet-sense-index; fi

system-deps-test: system-deps
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; fi

# The .env it writes (DEBUG=1, a generated SECRET_KEY, the data folders) makes every later
# `.venv/bin/python manage.py …` in this checkout see what `make run` sees.
setup: system-deps $(VENV)/.deps-run
	$(RUN_ENV) $(PY) -m config.envfile OMW_DIR DEMO_IMAGES CANDIDATES_FOLDER_ROOTS
	$(RUN_ENV) $(PY) manage.py migrate --no-input -v0
	$(RUN_ENV) $(PY) manage.py import_wordnet --if-empty
	$(RUN_ENV) $(PY) manage.py collectstatic --no-input -v0
	$(RUN_ENV) $(PY) manage.py demo_setup

# Web app, Celery worker and beat; once the app answers, a simulated crowd labels part of the
# demo (first run only) so the dashboards have numbers and real grids are left for you. Sixteen
# workers, so that every seed image can reach its ten votes (the consensus certifies nothing
# before it has such reference images or gold) even when a spammer among them is blocked.
run: setup
	@echo "Serving on http://127.0.0.1:8000 (Ctrl-C stops the web app, worker and beat)"
	@trap 'kill 0' EXIT INT TERM; \
	$(RUN_ENV) $(VENV)/bin/celery -A config worker -Q default,downloads,consensus,crowd \
		--concurrency 2 --loglevel WARNING & \
	$(RUN_ENV) $(VENV)/bin/celery -A config beat --loglevel WARNING \
		--schedule var/celerybeat-schedule & \
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:8000 --noreload & \
	if [ ! -f var/demo-crowd-done ]; then \
		until curl -sf http://127.0.0.1:8000/healthz >/dev/null; do sleep 1; done; \
		$(RUN_ENV) $(PY) manage.py simulate_crowd --project demo --workers 16 \
			--hits-per-worker 8 --truth var/demo-truth.csv && touch var/demo-crowd-done; \
	fi; \
	wait

lint: $(VENV)/.deps-test
	$(VENV)/bin/ruff check .

# The whole suite on PostgreSQL and Redis (DATABASE_URL / CELERY_BROKER_URL defaults in
# pyproject.toml). pytest's exit code 5 ("no tests ran") counts as failure.
test: system-deps-test $(VENV)/.deps-test lint
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# Benchmarks (scripts, never part of the suite): `make bench` runs them all, `make bench
# NAME=ingest_pipeline` one of them, BENCH_ARGS passes options (e.g. BENCH_ARGS=--repeats=5).
# Each creates its own scratch PostgreSQL database (bench_<name>_<pid>) and drops it at the end.
BENCHMARKS := $(sort $(basename $(notdir $(filter-out benchmarks/_%,$(wildcard benchmarks/*.py)))))

bench: system-deps $(VENV)/.deps-bench
	@set -e; for name in $(or $(NAME),$(BENCHMARKS)); do \
		if [ ! -f benchmarks/$$name.py ]; then echo "no benchmark $$name; one of: $(BENCHMARKS)"; exit 2; fi; \
		echo "### benchmarks/$$name.py $(BENCH_ARGS)"; $(PY) benchmarks/$$name.py $(BENCH_ARGS); \
	done

clean:
	rm -rf $(VENV) var staticfiles
