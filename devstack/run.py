"""`make run`: the whole of madoguchi on one machine, no AWS account, no internet.

Starts moto (AWS), the LINE sandbox and the dev issuer in this process, creates every
resource, runs the event pump, and runs `chalice local` as a child process. Ctrl-C
(or SIGTERM) stops all of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from devstack.env import Ports, local_environ, metrics_to_file

ROOT = Path(__file__).resolve().parent.parent


class LocalStack:
    """The in-process services: moto, the LINE sandbox, the dev issuer. Used by `make run` and the tests."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self._stoppers: list = []

    def start(self) -> None:
        _check_free(self.ports)
        from devstack.local_aws import LocalAws

        # moto logs every request it serves; the stack's own output is what matters here.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        from devstack.dev_issuer import DevIssuer, ensure_key
        from devstack.line_sandbox import LineSandbox

        aws = LocalAws(port=self.ports.aws)
        aws.start()
        self._stoppers.append(aws.stop)
        sandbox = LineSandbox(port=self.ports.line, access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"])
        sandbox.start()
        self._stoppers.append(sandbox.stop)
        issuer = DevIssuer(port=self.ports.issuer, key=ensure_key())
        issuer.start()
        self._stoppers.append(issuer.stop)
        self.pay = _pay_sandbox(self.ports)
        self.pay.start()
        self._stoppers.append(self.pay.stop)

        from devstack.bootstrap import bootstrap

        bootstrap()

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            with contextlib.suppress(Exception):  # best effort: keep stopping the rest
                stop()
        self._stoppers.clear()


def _pay_sandbox(ports: Ports):
    """The payment providers' stand-in; webhooks wait in its outbox until `make run` points it at the API."""
    from devstack.pay_sandbox import PaySandbox

    env = os.environ
    return PaySandbox(
        ports.pay,
        paypay_key=env["PAYPAY_API_KEY"],
        paypay_secret=env["PAYPAY_API_SECRET"],
        merchant_id=env["PAYPAY_MERCHANT_ID"],
        stripe_key=env["STRIPE_SECRET_KEY"],
        webhook_secret=env["STRIPE_WEBHOOK_SECRET"],
    )


def _check_free(ports: Ports) -> None:
    """Fail at once, naming the port, rather than half-start next to another stack."""
    for name, port in vars(ports).items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                variable = f"MADOGUCHI_{name.upper()}_PORT"
                raise SystemExit(
                    f"port {port} ({name}) is in use: stop what holds it or set {variable}"
                ) from None


def wait_for_http(url: str, timeout: float = 60.0, alive=lambda: True) -> bool:
    """True once `url` answers at all; False if `alive()` turns false first."""
    deadline = time.monotonic() + timeout
    while alive():
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except urllib.error.HTTPError:
            return True  # it answered: up
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not come up in {timeout:.0f}s") from None
            time.sleep(0.2)
    return False


def _console_setup() -> None:
    """Line-buffered output (redirected to a file, it shows as it happens, not at the end),
    and EMF metric lines to .devstack/metrics.jsonl unless MADOGUCHI_METRICS=console."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ["PYTHONUNBUFFERED"] = "1"  # chalice local, the child process, too
    metrics_to_file()


def main() -> int:
    _console_setup()
    ports = Ports.from_env()
    os.environ.update(local_environ(ports))
    stack = LocalStack(ports)
    stack.start()
    from devstack.demo_consultations import seed

    print(f"consultations: {seed()} demo slots over the next weeks", flush=True)
    stack.pay.webhook_base = f"http://127.0.0.1:{ports.api}"  # the provider sandbox calls our webhooks

    from devstack.pump import Pump

    pump = Pump()
    pump_thread = threading.Thread(target=pump.run, name="pump", daemon=True)
    pump_thread.start()

    chalice = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("chalice")),
            "local",
            "--stage",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports.api),
            "--no-autoreload",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if wait_for_http(
            f"http://127.0.0.1:{ports.api}/", alive=lambda: chalice.poll() is None and not stopping.is_set()
        ):
            print(_banner(ports), flush=True)
        while not stopping.is_set() and chalice.poll() is None:
            stopping.wait(0.5)
    finally:
        pump.stop()
        chalice.terminate()
        try:
            chalice.wait(timeout=10)
        except subprocess.TimeoutExpired:
            chalice.kill()
        stack.stop()
        print("madoguchi local stack stopped (its data is gone: it lived in memory)", flush=True)
    # Stopped on request (Ctrl-C): a clean exit, not chalice's -SIGTERM as make's "Error 241".
    return 0 if stopping.is_set() else (chalice.returncode or 0)


def _banner(ports: Ports) -> str:
    return "\n".join(
        [
            "",
            "madoguchi is running (stage local). Ctrl-C stops everything.",
            f"  API (chalice local)   http://127.0.0.1:{ports.api}        POST /line/webhook, GET /staff/me",
            f"  AWS (moto)            http://127.0.0.1:{ports.aws}        DynamoDB, SQS, SES, S3, Scheduler",
            f"  LINE sandbox          http://127.0.0.1:{ports.line}        GET /__sandbox/requests",
            f"  dev staff issuer      http://127.0.0.1:{ports.issuer}/dev-issuer/.well-known/jwks.json",
            f"  payment sandbox       http://127.0.0.1:{ports.pay}        PayPay OPA + Stripe, GET /__sandbox/requests",
            "  event pump            delivering SQS messages and schedules to the app's handlers",
            "",
            "  make event E=events/line/follow.json     send a signed sample event",
            "  make token SECTION=kocho ROLE=announcer  print a staff token",
            f"  metrics (EMF) go to {os.environ.get('MADOGUCHI_METRICS_FILE') or 'this console'}"
            " (MADOGUCHI_METRICS=console: here)",
            "  make richmenu                            register the ward's rich menu with the sandbox",
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
