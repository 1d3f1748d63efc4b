"""Least privilege (issue 12): every function's role, secrets and settings against chalicelib/access.py
and against what the function's code reaches (tests/infra/code_access.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import access
from infra import definitions, package
from tests.infra import code_access
from tests.infra.conftest import Synth, resources

STAGES = ("dev", "prod")
# The webhooks: a function of its own each, reading only the secret it verifies requests with...
WEBHOOK_SECRETS = {
    "line_webhook": {access.LINE_CHANNEL_SECRET},
    "payment_webhooks": {access.STRIPE_WEBHOOK_SECRET},  # PayPay does not sign
    "queue_webhook": set(access.QUEUE_WEBHOOK_SECRETS),
}
# ... and, for the queue webhook, the one that signs the link an issued ticket prints (its answer).
WEBHOOK_ALSO = {"queue_webhook": {access.QUEUE_TICKET_SECRET}}
# Settings whose default in config.py is right in AWS, and why (every other setting a function's
# code reads must reach it through its environment).
SAFE_DEFAULTS = {
    "region": "Lambda sets AWS_REGION",
    "line_api_base": "LINE's own host",
    "line_data_api_base": "LINE's own content host",
    "stripe_api_base": "Stripe's one host; test or live is the key's choice",
    "paypay_api_base": "PayPay's production host; a sandbox stage sets context paypay_api_base",
    "staff_jwks_url": "Cognito serves the pool's keys at <issuer>/.well-known/jwks.json",
    "refund_approval_yen": "the ward's rule unless it changes it (REFUND_APPROVAL_YEN)",
    "staff_console_url": "empty: digests name receipts without links",
    "payment_withdraw_after_days": "14 unless a form says otherwise (PAYMENT_WITHDRAW_AFTER_DAYS)",
    "paypay_report_source": "s3 (the ward's PayPay transaction CSV) on every stage but local",
    "queue_always_open": "off on every stage but local (QUEUE_ALWAYS_OPEN, a demo after hours)",
    "anonymous_sends_per_day": "20 unless ANONYMOUS_SENDS_PER_DAY says otherwise (the local stack's 10,000)",
    "anonymous_uploads_per_hour": "60 unless ANONYMOUS_UPLOADS_PER_HOUR says otherwise (the local stack's 100,000)",
    "consult_session_hours": "07:00-22:00 unless CONSULT_SESSION_HOURS says otherwise (a night line: off)",
}
# Settings a ward gives as context (README "How a ward deploys"): the prod stage of the tests is
# synthesized with them (conftest WARD_CONTEXT), dev without, where synth must warn instead.
WARD_SETTINGS = {
    "liff_url": "liff_url",
    "line_login_channel_id": "line_login_channel_id",
    "paypay_merchant_id": "paypay_merchant_id",
    "queue_page_url": "api_url",
    "staff_api_base": "api_url",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def code() -> dict[str, code_access.Function]:
    return code_access.functions(access.ROUTE_FUNCTIONS)


@pytest.fixture(scope="module")
def reach(code: dict[str, code_access.Function]) -> dict[str, code_access.Reach]:
    return {name: code_access.reach_of(f, access.QUEUE_WEBHOOK_SECRETS) for name, f in code.items()}


class Deployed:
    """One stage's functions as synthesized: logical id, role, environment, readable secrets."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.logical_ids = package.functions(template)
        self.secret_ids = {
            r["Properties"]["Name"].split("/", 1)[1]: k
            for k, r in resources(template, "AWS::SecretsManager::Secret").items()
        }

    def properties(self, function: str) -> dict[str, Any]:
        return self.template["Resources"][self.logical_ids[function]]["Properties"]

    def role(self, function: str) -> str:
        return self.properties(function)["Role"]["Fn::GetAtt"][0]

    def environment(self, function: str) -> dict[str, Any]:
        return self.properties(function)["Environment"]["Variables"]

    def statements(self, function: str) -> list[dict[str, Any]]:
        role = {"Ref": self.role(function)}
        return [
            s
            for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            for p in resources(self.template, kind).values()
            if role in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]

    def readable_secrets(self, function: str) -> set[str]:
        """The secrets (by config name) the function's role may read."""
        by_id = {logical_id: name for name, logical_id in self.secret_ids.items()}
        found = set()
        for statement in self.statements(function):
            if "secretsmanager:GetSecretValue" in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    found.add(by_id[resource["Ref"]])
        names = {access.secret_name(s): s for s in access.SECRETS}
        return {names[n] for n in found}

    def secret_environment(self, function: str) -> set[str]:
        return {
            k.removesuffix("_ARN")
            for k in self.environment(function)
            if k.endswith("_ARN") and k != "SCHEDULER_ROLE_ARN"
        }


@pytest.fixture(scope="module")
def deployed(synth: Synth) -> dict[str, Deployed]:
    return {stage: Deployed(synth.templates[stage]) for stage in STAGES}


def test_every_function_has_an_explicit_access_entry(
    deployed: dict[str, Deployed], code: dict[str, code_access.Function]
) -> None:
    for stage in STAGES:
        functions = set(deployed[stage].logical_ids)
        missing = functions - set(access.FUNCTIONS)
        assert not missing, f"add an entry to chalicelib/access.py FUNCTIONS for {sorted(missing)}"
        stale = set(access.FUNCTIONS) - functions
        assert not stale, f"chalicelib/access.py names functions app.py no longer has: {sorted(stale)}"
    # The code reading below starts from the same functions the template has.
    assert set(code) == set(deployed["prod"].logical_ids)


def test_access_mapping_names_only_what_exists() -> None:
    tables = {t.resource for t in definitions.tables()}
    queues = {q.name for q in definitions.queues()} | {q.dlq_name for q in definitions.queues()} | {"*dlq"}
    for name, entry in access.FUNCTIONS.items():
        assert set(entry.reads + entry.writes) <= tables, name
        assert set(entry.sends + entry.peeks) <= queues, name
        assert set(entry.buckets) <= set(definitions.buckets()), name
        assert set(entry.secrets) <= set(access.SECRETS), name
    assert access.access_for("a_function_nobody_declared") == access.DEFAULT


@pytest.mark.parametrize("stage", STAGES)
def test_the_stack_creates_each_secret_once_and_grants_exactly_the_entries(
    deployed: dict[str, Deployed], stage: str
) -> None:
    found = deployed[stage]
    assert set(found.secret_ids) == {access.secret_name(s) for s in access.SECRETS}
    assert len(access.SECRETS) == len(set(access.SECRETS)) >= 10
    for function in found.logical_ids:
        granted = set(access.FUNCTIONS[function].secrets)
        assert found.readable_secrets(function) == granted, function
        # The ARN of each, and of nothing else: a function is told only what it may read.
        assert found.secret_environment(function) == granted, function


def test_every_secret_the_code_reads_is_granted_and_nothing_more(reach: dict[str, code_access.Reach]) -> None:
    for function, found in reach.items():
        granted = set(access.FUNCTIONS[function].secrets)
        assert found.secrets <= granted, f"{function} reads {sorted(found.secrets - granted)}: grant it"
        assert granted <= found.secrets, f"{function} never reads {sorted(granted - found.secrets)}: drop it"
    read = set().union(*(r.secrets for r in reach.values()))
    assert read == set(access.SECRETS), "a secret in access.SECRETS no function reads, or the reverse"


@pytest.mark.parametrize("stage", STAGES)
def test_each_webhook_function_reads_only_its_own_secret(deployed: dict[str, Deployed], stage: str) -> None:
    found = deployed[stage]
    assert set(access.ROUTE_FUNCTIONS) == set(WEBHOOK_SECRETS)
    paths = found.template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    api_role = found.role("api_handler")
    for function, own in WEBHOOK_SECRETS.items():
        expected = own | WEBHOOK_ALSO.get(function, set())
        assert found.readable_secrets(function) == expected, function
        assert found.secret_environment(function) == expected, function
        assert found.role(function) != api_role
        # Its routes are served by it, not by the shared API function.
        for path, method in access.ROUTE_FUNCTIONS[function]:
            uri = paths[path][method]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            assert f"${{{found.logical_ids[function]}.Arn}}" in uri, (path, method)
    # No other function can read a webhook's secret (LINE's channel secret also signs postbacks).
    for secret in {access.STRIPE_WEBHOOK_SECRET, *access.QUEUE_WEBHOOK_SECRETS}:
        readers = {f for f in found.logical_ids if secret in found.readable_secrets(f)}
        assert len(readers) == 1, (secret, readers)
    webhook_secrets = set().union(*WEBHOOK_SECRETS.values())
    assert not found.readable_secrets("api_handler") & webhook_secrets


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_functions_that_call_line_can_read_the_access_token(
    deployed: dict[str, Deployed], reach: dict[str, code_access.Reach], stage: str
) -> None:
    found = deployed[stage]
    readers = {f for f in found.logical_ids if access.LINE_CHANNEL_ACCESS_TOKEN in found.readable_secrets(f)}
    callers = {f for f, r in reach.items() if r.line_api}
    assert readers == callers
    assert not readers & set(WEBHOOK_SECRETS)
    assert {"notifications_worker", "announce_send_worker", "line_events_worker"} <= readers


@pytest.mark.parametrize("function", sorted(access.FUNCTIONS))
def test_each_entry_is_what_the_code_touches(function: str, reach: dict[str, code_access.Reach]) -> None:
    """Tables, queues, buckets, schedules, email: granted what the code reaches, and no more.

    Here the code reading is the judge. If it is wrong (a table touched only through an argument
    nobody annotated, say), annotate the code so it can see it, rather than bend the entry."""
    entry, found = access.FUNCTIONS[function], reach[function]
    assert set(entry.reads) | set(entry.writes) == found.tables, "tables: reads + writes"
    assert set(entry.writes) == found.writes, "tables written"
    assert not set(entry.reads) & set(entry.writes), "a table is in reads or in writes, not both"
    assert set(entry.sends) == found.sends, "queues sent to"
    assert set(entry.buckets) == found.buckets, "buckets"
    assert entry.schedules == found.schedules, "one-time schedules"
    assert entry.email == found.email, "email"
    assert bool(entry.peeks) == found.peeks, "queue depths"


def test_schedules_target_only_the_schedule_targets(reach: dict[str, code_access.Reach]) -> None:
    from chalicelib.resources import SCHEDULE_TARGETS

    targeted = set().union(*(r.schedule_targets for r in reach.values()))
    assert targeted == {q.name for q in SCHEDULE_TARGETS}
    assert {"announce-plan", "consultations"} <= targeted


@pytest.mark.parametrize("stage", STAGES)
def test_every_setting_the_code_reads_reaches_its_function(
    synth: Synth, deployed: dict[str, Deployed], reach: dict[str, code_access.Reach], stage: str
) -> None:
    from aws_cdk.assertions import Annotations, Match

    environment = code_access.graph().setting_environment()
    missing: dict[str, set[str]] = {}
    for function, found in reach.items():
        env = deployed[stage].environment(function)
        for setting in found.settings - set(SAFE_DEFAULTS):
            if not any(name in env for name in environment[setting]):
                missing.setdefault(setting, set()).add(function)
    if stage == "prod":
        assert not missing, f"settings without a value in AWS: {missing}"
        return
    assert set(missing) <= set(WARD_SETTINGS), missing
    warnings = Annotations.from_stack(synth.stacks[stage]).find_warning(
        "*", Match.string_like_regexp("context")
    )
    warned = {str(w.entry.data).split("'")[1] for w in warnings}
    assert {WARD_SETTINGS[s] for s in missing} <= warned
    # Outside the API the stage's own URL stands in for api_url (inside, it would be a cycle).
    assert "QUEUE_PAGE_URL" in deployed[stage].environment("line_events_worker")


def test_infra_readme_shows_what_each_function_may_touch_as_access_py_grants_it() -> None:
    """The README's table is printed from chalicelib/access.py, never written by hand."""
    from infra.access_table import table

    readme = (Path(__file__).resolve().parents[2] / "infra" / "README.md").read_text(encoding="utf-8")
    assert table() in readme, "run: python -m infra.access_table, and put its table in infra/README.md"
