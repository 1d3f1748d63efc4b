# The two commands that matter: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: browser-deps browser run test unit integration e2e lint typecheck event token fire richmenu bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)  ## the whole stack on this machine; Ctrl-C stops it
	$(PY) -m devstack.run

test: $(STAMP) browser-deps  ## every test: unit, integration over the local stack, end to end, browser
	$(PY) -m ruff check .
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

typecheck: $(STAMP)  ## mypy over app.py and chalicelib (new code must add no errors)
	$(PY) -m mypy

event: $(STAMP)  ## make event E=events/line/follow.json (needs `make run`)
	@test -n "$(E)" || (echo "usage: make event E=events/line/follow.json" && exit 2)
	$(PY) -m devstack.send_event $(E)

token: $(STAMP)  ## make token SECTION=citizens ROLE=staff
	@test -n "$(SECTION)" -a -n "$(ROLE)" || (echo "usage: make token SECTION=citizens ROLE=staff" && exit 2)
	@$(PY) -m devstack.dev_issuer token --section $(SECTION) --role $(ROLE)

fire: $(STAMP)  ## make fire JOB=dlq-watch (needs `make run`): run a scheduled job now
	$(PY) -m devstack.pump --fire $(JOB)

richmenu: $(STAMP)  ## make richmenu (needs `make run`): register the rich menu with the LINE sandbox as the default
	$(PY) -m infra.richmenu --local

bench: $(STAMP)
	$(PY) bench/coldstart.py
	$(PY) bench/faq_eval.py
	$(PY) bench/fanout.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

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
