# The two commands that matter: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
comma := ,
STAMP := $(VENV)/.installed

.PHONY: browser-deps browser run test unit integration e2e lint typecheck lock lock-check event token fire richmenu mail metrics dlq-move bench clean queue-sim synth deploy diff

# requirements-dev.txt is the lock of everything (compiled from requirements*.in by `make lock`):
# every package pinned with its hashes, so pip installs exactly these files or stops.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

# The locks: requirements-dev.txt from requirements-dev.in (which includes requirements.in), then
# the runtime lock requirements.txt from requirements.in at the same versions. Resolved for the
# Lambda target (Linux x86_64, CPython 3.11; manylinux2014 as `chalice package` asks for), with the
# hashes of every file of each pinned release. Pins already in a lock are kept: `make lock` after
# editing a .in changes only what the edit needs; `make lock LOCK_FLAGS=--upgrade` (or
# `--upgrade-package NAME`) moves the rest. No index URL is written into the files.
LOCK_COMPILE = $(abspath $(PY)) -m uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux2014 --custom-compile-command "make lock" $(LOCK_FLAGS)
define compile_locks
$(LOCK_COMPILE) requirements-dev.in -o requirements-dev.txt && \
$(LOCK_COMPILE) requirements.in -c requirements-dev.txt -o requirements.txt
endef

run: $(STAMP)  ## the whole stack on this machine; Ctrl-C stops it
	$(PY) -m devstack.run

test: $(STAMP) browser-deps lock-check  ## every test: the locks, lint, format, types, then unit, integration, end to end, browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)  ## mypy over app.py and chalicelib: zero errors (make test runs it)
	$(PY) -m mypy

lock: $(STAMP)  ## after editing requirements*.in: recompile requirements*.txt (commit both)
	$(compile_locks)

# Recompiles into a scratch folder from the committed locks (so their pins are kept) and compares:
# a .in edited without `make lock`, or a lock edited by hand, fails here.
lock-check: $(STAMP)  ## the locks are what requirements*.in compile to
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp requirements*.in requirements*.txt "$$tmp" && \
	(cd "$$tmp" && $(compile_locks)) && \
	if ! diff -u requirements-dev.txt "$$tmp/requirements-dev.txt" || ! diff -u requirements.txt "$$tmp/requirements.txt"; then \
	  echo "requirements*.txt are not what requirements*.in compile to: run make lock and commit them" >&2; exit 1; \
	fi

event: $(STAMP)  ## make event E=events/line/follow.json [LINE_USER=U...] (needs `make run`)
	@test -n "$(E)" || (echo "usage: make event E=events/line/follow.json" && exit 2)
	$(PY) -m devstack.send_event $(E)

token: $(STAMP)  ## make token SECTION=kocho ROLE=announcer (needs `make run`): a staff token it accepts
	@$(PY) -m devstack.dev_issuer token --section "$(SECTION)" $(foreach r,$(subst $(comma), ,$(ROLE)),--role "$(r)") $(if $(STAFF_ID),--staff-id "$(STAFF_ID)")

fire: $(STAMP)  ## make fire JOB=dlq-watch [AT=2026-12-05T03:00+09:00] [LOG=INFO] (needs `make run`): run a scheduled job now, or as if at AT; its result and warnings, LOG=INFO its other log lines too
	@$(PY) -m devstack.pump --fire "$(JOB)" $(if $(AT),--at "$(AT)") $(if $(LOG),--log-level "$(LOG)")

richmenu: $(STAMP)  ## make richmenu (needs `make run`): register the rich menu with the LINE sandbox as the default
	@$(PY) -m infra.richmenu --local

mail: $(STAMP)  ## make mail [N=10] [TO=address] (needs `make run`): the emails the local stack sent (moto's SES)
	@$(PY) -m devstack.mailbox -n $(or $(N),10) --to "$(TO)"

metrics: $(STAMP)  ## make metrics [PREFIX=Faq]: each metric the local stack counted, summed (.devstack/metrics.jsonl)
	@$(PY) -m devstack.metrics --prefix "$(PREFIX)"

dlq-move: $(STAMP)  ## make dlq-move QUEUE=notifications (needs `make run`): the DLQ's messages back to their queue (docs/runbook.md)
	@$(PY) -m devstack.dlq_move "$(QUEUE)"

queue-sim: $(STAMP)  ## make queue-sim [SPEED=60] [SEED=1] (needs `make run`): a ticket machine replays a day
	$(PY) -m devstack.queue_sim --speed $(or $(SPEED),60) --seed $(or $(SEED),1)

bench: $(STAMP)
	$(PY) bench/coldstart.py
	$(PY) bench/faq_eval.py
	$(PY) bench/fanout.py
	$(PY) bench/consultations.py
	$(PY) bench/queue_estimate.py
	$(PY) bench/queue_bound.py

# --- AWS (issue 12; README "Deploying to AWS") ---------------------------------------------
STAGE ?= dev
CDK := node_modules/.bin/cdk

node_modules/.installed: package.json package-lock.json  ## the CDK CLI and axe-core, pinned in package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: $(STAMP)  ## both stages' templates into cdk.out/: offline, no AWS credentials
	$(PY) -m infra.app

deploy: $(STAMP) node_modules/.installed  ## make deploy STAGE=dev (AWS credentials, `cdk bootstrap` done once)
	$(CDK) deploy -c stage=$(STAGE) madoguchi-$(STAGE)

diff: $(STAMP) node_modules/.installed  ## make diff STAGE=prod: what a deploy would change
	$(CDK) diff -c stage=$(STAGE) madoguchi-$(STAGE)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis cdk.out chalice.out node_modules

# Browser tests (tests/browser): Chromium and its driver from Debian (with CJK and Devanagari fonts
# for the screenshots), axe-core pinned from npm.
# Installed only when missing; apt-get needs root (CI runs as root on a fresh clone).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver fonts-noto-cjk fonts-lohit-deva; \
	  else echo "browser tests need: sudo apt-get install chromium chromium-driver (they are skipped without it)"; fi; \
	fi
	@test -f node_modules/axe-core/axe.min.js || npm ci --no-audit --no-fund

browser: $(STAMP) browser-deps  ## the browser tests only (headless Chromium + axe-core)
	$(PY) -m pytest tests/browser
