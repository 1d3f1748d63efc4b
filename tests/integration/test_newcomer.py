"""A newcomer's helpers: without the stack, or with a wrong argument, one clear line and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.env import free_port

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MADOGUCHI_AWS_PORT": str(free_port()),
        "MADOGUCHI_LINE_PORT": str(free_port()),
        "MADOGUCHI_ISSUER_PORT": str(free_port()),
        "MADOGUCHI_API_PORT": str(free_port()),
    }
    for name in (
        "STAFF_JWT_ISSUER",
        "STAFF_JWKS_URL",
        "AWS_ENDPOINT_URL",
        "LINE_API_BASE",
        "LINE_DATA_API_BASE",
    ):
        env.pop(name, None)  # the tests' own stack: these helpers must look for `make run`'s
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("devstack.pump", "--fire", "daily-digest"), "no local stack"),
        (("devstack.pump", "--fire", "no-such-job"), "unknown job 'no-such-job'"),
        (("devstack.pump", "--fire", ""), "usage: make fire JOB="),
        (("devstack.pump", "--fire", "queue-nightly", "--at", "2026-12-05T03:00"), "with its offset"),
        (("devstack.pump", "--fire", "queue-nightly", "--at", "yesterday"), "AT='yesterday'"),
        (("infra.richmenu", "--local"), "no local stack"),
        (("devstack.dev_issuer", "token", "--section", "kocho", "--role", "staff"), "no local stack"),
        (("devstack.dev_issuer", "token", "--section", "citizens", "--role", "staff"), "unknown section"),
        (("devstack.dev_issuer", "token", "--section", "kocho", "--role", "boss"), "unknown role 'boss'"),
        (("devstack.mailbox",), "no local stack"),
    ],
)
def test_one_clear_line_and_no_traceback(args, says):
    result = run(*args)

    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip() and "pynamodb" not in line.lower()]
    lines = [line for line in lines if not line.startswith(("Override settings", "Using Default"))]
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_make_token_prints_a_token_the_running_stack_accepts(local_stack, client):
    env_ports = {
        "MADOGUCHI_AWS_PORT": str(local_stack.ports.aws),
        "MADOGUCHI_LINE_PORT": str(local_stack.ports.line),
        "MADOGUCHI_ISSUER_PORT": str(local_stack.ports.issuer),
        "MADOGUCHI_API_PORT": str(local_stack.ports.api),
    }
    result = subprocess.run(
        [sys.executable, "-m", "devstack.dev_issuer", "token", "--section", "kocho", "--role", "announcer"],
        cwd=ROOT,
        env={**os.environ, **env_ports},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    me = client.http.get("/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.body


def test_make_mail_shows_plain_and_raw_messages(local_stack):
    from email.message import EmailMessage

    from chalicelib.aws import client as aws_client
    from chalicelib.config import get_settings

    ses = aws_client("ses")
    sender = get_settings().ses_sender
    ses.send_email(
        Source=sender,
        Destination={"ToAddresses": ["plain@example.jp"]},
        Message={"Subject": {"Data": "Plain digest"}, "Body": {"Text": {"Data": "plain body"}}},
    )
    raw = EmailMessage()
    raw["Subject"], raw["From"], raw["To"] = "相談の予約 (raw)", sender, "raw@example.jp"
    raw.set_content("予約が確定しました。", cte="base64")  # as the app sends it
    raw.add_attachment(b"BEGIN:VCALENDAR", maintype="text", subtype="calendar", filename="booking.ics")
    ses.send_raw_email(RawMessage={"Data": raw.as_bytes()})

    result = subprocess.run(
        [sys.executable, "-m", "devstack.mailbox", "-n", "100000"],  # the shared stack has sent many
        cwd=ROOT,
        env={**os.environ, "MADOGUCHI_AWS_PORT": str(local_stack.ports.aws)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "subject: Plain digest" in result.stdout and "plain body" in result.stdout
    assert "=== to raw@example.jp" in result.stdout and "subject: 相談の予約 (raw)" in result.stdout
    assert "予約が確定しました。" in result.stdout and "BEGIN:VCALENDAR" not in result.stdout
    # TO= keeps one address's messages.
    only = subprocess.run(
        [sys.executable, "-m", "devstack.mailbox", "-n", "100000", "--to", "RAW@example.jp"],
        cwd=ROOT,
        env={**os.environ, "MADOGUCHI_AWS_PORT": str(local_stack.ports.aws)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "=== to raw@example.jp" in only.stdout and "plain@example.jp" not in only.stdout


def test_make_fire_prints_the_jobs_result_not_metric_or_log_lines(local_stack):
    """Metric (EMF) lines go to .devstack/metrics.jsonl, as `make run`'s do, not between the
    output; the job's own log lines only when asked (`make fire LOG=INFO`)."""
    env = {**os.environ, "MADOGUCHI_AWS_PORT": str(local_stack.ports.aws)}
    for name in ("MADOGUCHI_METRICS_FILE", "MADOGUCHI_METRICS"):
        env.pop(name, None)

    def fire(*extra: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-m", "devstack.pump", "--fire", "daily-digest", *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()

    [result] = fire()  # what each section got, one line
    assert "'koseki-jumin'" in result and '"level"' not in result and '"_aws"' not in result
    logged = fire("--log-level", "INFO")
    assert "'koseki-jumin'" in logged[-1] and all('"_aws"' not in line for line in logged)
    assert any(json.loads(line)["level"] == "INFO" for line in logged[:-1])


def test_metric_lines_go_to_the_file_when_one_is_set(tmp_path, monkeypatch, capsys):
    from chalicelib import observability

    target = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("MADOGUCHI_METRICS_FILE", str(target))
    observability.metrics.add_metric(name="NewcomerTest", unit="Count", value=1)
    observability.flush_metrics()

    assert '"NewcomerTest"' in target.read_text()
    assert "NewcomerTest" not in capsys.readouterr().out
    # A metric with dimensions of its own (the dead-letter watch's) goes to the same file.
    observability.single_metric("NewcomerDepth", 2, queue="some-dlq")
    [line] = [json.loads(x) for x in target.read_text().splitlines() if "NewcomerDepth" in x]
    assert line["queue"] == "some-dlq" and line["NewcomerDepth"] in (2, [2])
    assert "NewcomerDepth" not in capsys.readouterr().out


def test_the_docs_examples_follow_a_moved_port():
    """A walkthrough: `curl -s 'localhost:${MADOGUCHI_API_PORT:-8000}/…'` is not expanded in
    single quotes (curl fails, silently with -s); a bare localhost:8000 would reach another
    engineer's stack on a shared machine."""
    import re

    for doc in ("README.md", "infra/README.md", "docs/runbook.md"):
        for number, line in enumerate((ROOT / doc).read_text(encoding="utf-8").splitlines(), start=1):
            quoted = re.findall(r"'[^']*'", line)
            assert not any("${MADOGUCHI_" in part for part in quoted), f"{doc}:{number}: {line}"
            if "curl" in line or "open " in line:
                assert not re.search(r"localhost:\d", line), f"{doc}:{number}: {line}"
