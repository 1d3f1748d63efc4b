"""The webhook's path stays thin: importing the app and answering a webhook loads no heavy SDK."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from app import app
from chalice.test import Client
from devstack.send_event import prepare
from pathlib import Path
route, body, headers = prepare(Path("events/line/follow.json"))
with Client(app, stage_name="local") as client:
    assert client.http.post(route, body=body, headers=headers).status_code == 200
print("loaded:" + ",".join(sorted(m for m in ("linebot", "jsonschema", "aws_xray_sdk", "jwt", "boto3") if m in sys.modules)))
"""


def test_answering_a_webhook_loads_no_line_sdk_jsonschema_xray_jwt_or_boto3(local_stack):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [loaded] = [line for line in result.stdout.splitlines() if line.startswith("loaded:")]
    assert loaded == "loaded:"
