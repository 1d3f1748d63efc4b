"""One Settings object, read from the environment.

Secrets (their names: chalicelib/resources.py; LINE, payment providers, window queues) are
plain environment values on the local stage. In AWS `NAME_ARN` names a Secrets Manager secret
(or an SSM parameter) instead, read on first use and again after SECRET_CACHE_SECONDS, so a
rotation is picked up by warm functions: callers ask for the value when they use it, never
keep it.
Nothing here imports boto3 at module scope: the webhook's cold start depends on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from urllib.parse import quote

from chalicelib.resources import (
    LINE_CHANNEL_ACCESS_TOKEN,
    LINE_CHANNEL_SECRET,
    PAYPAY_API_KEY,
    PAYPAY_API_SECRET,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
)

SECRET_CACHE_SECONDS = 300
# The local stack's LINE Login channel id (the LIFF app's channel): the LINE sandbox mints ID
# tokens for it. Used only on the local stage; any other stage must set LINE_LOGIN_CHANNEL_ID.
LOCAL_LINE_LOGIN_CHANNEL_ID = "1000000001"


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    prefix: str
    line_api_base: str
    line_data_api_base: str
    staff_jwt_issuer: str
    staff_jwt_audience: str
    staff_jwks_url: str
    ses_sender: str
    log_hash_salt: str
    # e.g. https://sqs.ap-northeast-1.amazonaws.com/123456789012/{name}; empty: look the URL up.
    sqs_queue_url_template: str
    # Where staff reach the API: the links in digest emails point there.
    staff_api_base: str
    # The staff console (a web app over the staff API) that digest links open:
    # `<url>/submissions/<receipt>` and `<url>/submissions?<list filters>`. Empty: no links.
    staff_console_url: str = ""
    # The LINE Login channel of the LIFF pages: the audience their ID tokens must carry.
    # Not a secret (LIFF pages show it); empty outside the local stage unless set, which
    # turns LIFF sign-in off (503) rather than accepting tokens for a made-up channel.
    line_login_channel_id: str = ""
    # The LIFF app that shows the online forms inside LINE: `<liff_url>/forms/<form id>`.
    liff_url: str = "https://liff.line.me/0000000001-madoguchi"
    # The site serving the LIFF pages and mobile web forms: browsers there may call the resident routes.
    web_origin: str = "https://forms.madoguchi.example.jp"
    # The IAM role EventBridge Scheduler assumes to put a scheduled announcement's start on SQS.
    scheduler_role_arn: str = ""
    # Payments (issue 13). Provider API bases (the sandbox locally), PayPay's merchant id (not a
    # secret), refunds above this many yen need a supervisor's approval. Keys: see the properties.
    paypay_api_base: str = "https://api.paypay.ne.jp"
    paypay_merchant_id: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    refund_approval_yen: int = 5000
    # A submission waiting for its fee (before_received) is withdrawn after this many calendar
    # days unpaid, unless its form says otherwise (`fee.payment.withdrawAfterDays`).
    payment_withdraw_after_days: int = 14
    # When consultation sessions may run, Tokyo time (CONSULT_SESSION_HOURS "HH:MM-HH:MM" or
    # "off": None), read here so a malformed value fails the cold start, not every staff change.
    consult_session_hours: tuple[time, time] | None = (time(7), time(22))
    # Where the nightly reconciliation reads PayPay's side of a day: "sandbox" (the devstack
    # sandbox's JSON report; local only) or "s3" (the ward's PayPay for Business transaction
    # history CSV in the payment-reports bucket, services/payment_reconciliation.py).
    paypay_report_source: str = "s3"
    # Local only (QUEUE_ALWAYS_OPEN=on): every office open at every hour, so the wait page shows
    # its figures on an evening or a weekend, when the ward's windows are closed.
    queue_always_open: bool = False
    # Web forms and bookings one address may send a day without signing in (anonymous_limits).
    # The local stack sets far more (devstack/env.py): make run, its tests and the browser all
    # send from 127.0.0.1.
    anonymous_sends_per_day: int = 20
    # Photo uploads one address may start an hour (a form takes up to 3, an answer up to 3).
    anonymous_uploads_per_hour: int = 60

    def name(self, resource: str) -> str:
        """The deployed name of a table, queue or bucket: one prefix per stage."""
        return f"{self.prefix}-{resource}"

    def liff_link(self, path: str, language: str | None = None) -> str:
        """A link from LINE into the resident pages (`path` under /web, e.g. "/forms/inquiry"),
        opening in the language the resident chose on LINE: the page cannot know it before
        the LIFF SDK signs them in, and the phone's own language may be another one. LIFF
        passes the path and query on to the endpoint (`<web origin>/web`)."""
        link = f"{self.liff_url}{path}"
        return f"{link}?lang={quote(language, safe='')}" if language else link

    def web_page(self, path: str, language: str) -> str:
        """A resident page on the web (`path` under /web), in `language`: for an email, read
        outside LINE."""
        return f"{self.web_origin}/web{path}?lang={quote(language, safe='')}"

    @property
    def line_channel_secret(self) -> str:
        return _secret(LINE_CHANNEL_SECRET)

    @property
    def line_channel_access_token(self) -> str:
        return _secret(LINE_CHANNEL_ACCESS_TOKEN)

    # Window queues (issue 14): a ticket system's secret, named in chalicelib/data/queue.json.
    def secret(self, name: str) -> str:
        return _secret(name)

    # Payment provider credentials: Secrets Manager in AWS (`NAME_ARN`), plain values locally.
    @property
    def paypay_api_key(self) -> str:
        return _secret(PAYPAY_API_KEY)

    @property
    def paypay_api_secret(self) -> str:
        return _secret(PAYPAY_API_SECRET)

    @property
    def stripe_secret_key(self) -> str:
        return _secret(STRIPE_SECRET_KEY)

    @property
    def stripe_webhook_secret(self) -> str:
        return _secret(STRIPE_WEBHOOK_SECRET)

    @property
    def queue_page_url(self) -> str:
        """The public wait page (GET /queue), linked from LINE."""
        return os.environ.get("QUEUE_PAGE_URL") or f"{self.staff_api_base}/queue"


def _secret(name: str, *, fresh: bool = False) -> str:
    """`NAME` in the environment, else the secret or parameter that `NAME_ARN` names.

    `fresh` skips the cache (after the value was refused, e.g. a 401 for a rotated token).
    """
    value = os.environ.get(name)
    if value:
        return value
    ref = os.environ.get(f"{name}_ARN")
    if not ref:
        raise RuntimeError(f"{name} is not configured (set {name} or {name}_ARN)")
    from aws_lambda_powertools.utilities import parameters  # only in AWS, only once per cache period

    if ref.startswith("arn:aws:secretsmanager:"):
        return parameters.get_secret(ref, max_age=SECRET_CACHE_SECONDS, force_fetch=fresh)
    return parameters.get_parameter(ref, decrypt=True, max_age=SECRET_CACHE_SECONDS, force_fetch=fresh)


def line_channel_access_token(*, fresh: bool = False) -> str:
    """The LINE channel access token as configured now (re-read: see SECRET_CACHE_SECONDS)."""
    return _secret(LINE_CHANNEL_ACCESS_TOKEN, fresh=fresh)


def _session_hours(text: str | None) -> tuple[time, time] | None:
    from chalicelib.domain.consultations import parse_session_hours

    return Settings.consult_session_hours if text is None else parse_session_hours(text)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    stage = env.get("MADOGUCHI_STAGE", "local")
    issuer = env.get("STAFF_JWT_ISSUER", "http://127.0.0.1:4590/dev-issuer")
    return Settings(
        stage=stage,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "ap-northeast-1",
        prefix=env.get("MADOGUCHI_PREFIX", f"madoguchi-{stage}"),
        line_api_base=env.get("LINE_API_BASE", "https://api.line.me"),
        line_data_api_base=env.get("LINE_DATA_API_BASE", "https://api-data.line.me"),
        staff_jwt_issuer=issuer,
        staff_jwt_audience=env.get("STAFF_JWT_AUDIENCE", "madoguchi-staff"),
        staff_jwks_url=env.get("STAFF_JWKS_URL", f"{issuer}/.well-known/jwks.json"),
        ses_sender=env.get("SES_SENDER", "no-reply@madoguchi.example.jp"),
        log_hash_salt=env.get("LOG_HASH_SALT", "madoguchi"),
        sqs_queue_url_template=env.get("SQS_QUEUE_URL_TEMPLATE", ""),
        staff_api_base=env.get("STAFF_API_BASE", "https://api.madoguchi.example.jp"),
        staff_console_url=env.get("STAFF_CONSOLE_URL", "").strip(),
        line_login_channel_id=env.get("LINE_LOGIN_CHANNEL_ID")
        or (LOCAL_LINE_LOGIN_CHANNEL_ID if stage == "local" else ""),
        liff_url=env.get("LIFF_URL", Settings.liff_url).rstrip("/"),
        web_origin=env.get("WEB_ORIGIN", Settings.web_origin).rstrip("/"),
        scheduler_role_arn=env.get("SCHEDULER_ROLE_ARN")
        or (f"arn:aws:iam::123456789012:role/madoguchi-{stage}-scheduler" if stage == "local" else ""),
        paypay_api_base=env.get("PAYPAY_API_BASE", Settings.paypay_api_base).rstrip("/"),
        paypay_merchant_id=env.get("PAYPAY_MERCHANT_ID", ""),
        stripe_api_base=env.get("STRIPE_API_BASE", Settings.stripe_api_base).rstrip("/"),
        refund_approval_yen=int(env.get("REFUND_APPROVAL_YEN", Settings.refund_approval_yen)),
        consult_session_hours=_session_hours(env.get("CONSULT_SESSION_HOURS")),
        paypay_report_source=env.get("PAYPAY_REPORT_SOURCE") or ("sandbox" if stage == "local" else "s3"),
        queue_always_open=stage == "local" and env.get("QUEUE_ALWAYS_OPEN") == "on",
        anonymous_sends_per_day=int(env.get("ANONYMOUS_SENDS_PER_DAY") or Settings.anonymous_sends_per_day),
        anonymous_uploads_per_hour=int(
            env.get("ANONYMOUS_UPLOADS_PER_HOUR") or Settings.anonymous_uploads_per_hour
        ),
        payment_withdraw_after_days=int(
            env.get("PAYMENT_WITHDRAW_AFTER_DAYS", Settings.payment_withdraw_after_days)
        ),
    )
