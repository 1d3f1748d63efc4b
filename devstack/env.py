"""Ports, local secrets and the environment every local process runs with.

One place, read by `make run`, the tests, `make event` and `make token`, so they all
point at the same local stack. Every port can be moved with an environment variable.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from chalicelib.config import LOCAL_LINE_LOGIN_CHANNEL_ID

# Local-only values, documented in the README; production reads real ones from Secrets Manager.
LOCAL_CHANNEL_SECRET = "local-channel-secret"
LOCAL_ACCESS_TOKEN = "local-access-token"
LOCAL_QUEUE_SECRET = "local-queue-secret"
REGION = "ap-northeast-1"
MOTO_ACCOUNT = "123456789012"  # the account moto serves by default
# The payment sandbox's local credentials (devstack/pay_sandbox.py checks them).
LOCAL_PAYPAY_API_KEY = "local-paypay-key"
LOCAL_PAYPAY_API_SECRET = "local-paypay-secret"  # noqa: S105 (local only)
LOCAL_PAYPAY_MERCHANT_ID = "000000000000000001"
LOCAL_STRIPE_SECRET_KEY = "sk_test_local"  # noqa: S105 (local only)
LOCAL_STRIPE_WEBHOOK_SECRET = "whsec_local"  # noqa: S105 (local only)


def free_port() -> int:
    """A port nothing listens on now (for tests and benchmarks that must not meet `make run`)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Ports:
    aws: int
    line: int
    api: int
    issuer: int
    pay: int = 4600

    @classmethod
    def free(cls) -> Ports:
        return cls(aws=free_port(), line=free_port(), api=free_port(), issuer=free_port(), pay=free_port())

    @classmethod
    def from_env(cls) -> Ports:
        return cls(
            aws=int(os.environ.get("MADOGUCHI_AWS_PORT", 4566)),
            line=int(os.environ.get("MADOGUCHI_LINE_PORT", 4580)),
            api=int(os.environ.get("MADOGUCHI_API_PORT", 8000)),
            issuer=int(os.environ.get("MADOGUCHI_ISSUER_PORT", 4590)),
            pay=int(os.environ.get("MADOGUCHI_PAY_PORT", 4600)),
        )


def local_environ(ports: Ports, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the app on the local stage: boto3 at moto, the LINE SDK at the sandbox.

    Secrets given in `base` (the caller's environment) pass through; otherwise the local defaults.
    """
    base = dict(os.environ if base is None else base)
    line = f"http://127.0.0.1:{ports.line}"
    issuer = f"http://127.0.0.1:{ports.issuer}/dev-issuer"
    return {
        **base,
        "MADOGUCHI_STAGE": "local",
        "MADOGUCHI_AWS_PORT": str(ports.aws),
        "MADOGUCHI_LINE_PORT": str(ports.line),
        "MADOGUCHI_API_PORT": str(ports.api),
        "MADOGUCHI_ISSUER_PORT": str(ports.issuer),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports.aws}",
        "SQS_QUEUE_URL_TEMPLATE": f"http://127.0.0.1:{ports.aws}/{MOTO_ACCOUNT}/{{name}}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LINE_API_BASE": line,
        "LINE_DATA_API_BASE": line,
        "LINE_CHANNEL_SECRET": base.get("LINE_CHANNEL_SECRET") or LOCAL_CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": base.get("LINE_CHANNEL_ACCESS_TOKEN") or LOCAL_ACCESS_TOKEN,
        # The LIFF pages' LINE Login channel; the sandbox mints ID tokens for it (POST /__sandbox/id-tokens).
        "LINE_LOGIN_CHANNEL_ID": base.get("LINE_LOGIN_CHANNEL_ID") or LOCAL_LINE_LOGIN_CHANNEL_ID,
        # Window queues: the demo ticket system's secret (README), the others' and the ticket-link key.
        "QUEUE_WEBHOOK_SECRET": base.get("QUEUE_WEBHOOK_SECRET") or LOCAL_QUEUE_SECRET,
        "QUEUE_QMINDER_SECRET": base.get("QUEUE_QMINDER_SECRET") or "local-qminder-secret",
        "QUEUE_KIOSK_SECRET": base.get("QUEUE_KIOSK_SECRET") or "local-kiosk-token",
        "QUEUE_TICKET_SECRET": base.get("QUEUE_TICKET_SECRET") or "local-ticket-secret",
        # make run, its tests and the browser all send from 127.0.0.1 (services/anonymous_limits.py).
        "ANONYMOUS_SENDS_PER_DAY": base.get("ANONYMOUS_SENDS_PER_DAY") or "10000",
        "ANONYMOUS_UPLOADS_PER_HOUR": base.get("ANONYMOUS_UPLOADS_PER_HOUR") or "100000",
        "STAFF_JWT_ISSUER": issuer,
        "STAFF_API_BASE": f"http://127.0.0.1:{ports.api}",
        # The resident pages are served by the local API: providers send the payer back there.
        "WEB_ORIGIN": base.get("WEB_ORIGIN") or f"http://localhost:{ports.api}",
        "STAFF_JWKS_URL": f"{issuer}/.well-known/jwks.json",
        # Payments: both providers' paths are served by devstack/pay_sandbox.py.
        "MADOGUCHI_PAY_PORT": str(ports.pay),
        "PAYPAY_API_BASE": f"http://127.0.0.1:{ports.pay}",
        "STRIPE_API_BASE": f"http://127.0.0.1:{ports.pay}",
        "PAYPAY_MERCHANT_ID": base.get("PAYPAY_MERCHANT_ID") or LOCAL_PAYPAY_MERCHANT_ID,
        "PAYPAY_API_KEY": base.get("PAYPAY_API_KEY") or LOCAL_PAYPAY_API_KEY,
        "PAYPAY_API_SECRET": base.get("PAYPAY_API_SECRET") or LOCAL_PAYPAY_API_SECRET,
        "STRIPE_SECRET_KEY": base.get("STRIPE_SECRET_KEY") or LOCAL_STRIPE_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": base.get("STRIPE_WEBHOOK_SECRET") or LOCAL_STRIPE_WEBHOOK_SECRET,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": base.get("POWERTOOLS_DEV", "false"),
    }


# Metric (EMF) lines are for CloudWatch; on a developer's console they drown the logs.
METRICS_FILE = Path(__file__).resolve().parent.parent / ".devstack" / "metrics.jsonl"


def metrics_to_file() -> None:
    """EMF metric lines of this process to METRICS_FILE, unless MADOGUCHI_METRICS=console: `make
    run` and the commands that run the app's handlers themselves (`make fire`, `make event`)."""
    if os.environ.get("MADOGUCHI_METRICS", "file") != "console":
        METRICS_FILE.parent.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MADOGUCHI_METRICS_FILE", str(METRICS_FILE))
