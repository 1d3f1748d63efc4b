# The two commands that matter: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit integration e2e lint typecheck event token fire richmenu bench clean synth deploy diff

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)  ## the whole stack on this machine; Ctrl-C stops it
	$(PY) -m devstack.run

test: $(STAMP)  ## every test: unit, integration over the local stack, end to end
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

# --- AWS (issue 12; README "Deploying to AWS") ---------------------------------------------
STAGE ?= dev
CDK := node_modules/.bin/cdk

node_modules/.installed: package.json package-lock.json  ## the CDK CLI, pinned in package-lock.json
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
