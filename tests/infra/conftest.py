"""The CDK app, synthesized once per test session (both stages), offline and without AWS credentials."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Synth:
    outdir: Path
    stacks: dict[str, Any]  # stage -> MadoguchiStack
    templates: dict[str, dict[str, Any]]  # stage -> the template as written to cdk.out
    assembly: Any = None  # the cloud assembly synth made

    def template(self, stage: str) -> Any:
        from aws_cdk.assertions import Template

        return Template.from_stack(self.stacks[stage])


_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


# prod as a ward configures it (README "How a ward deploys"); dev with nothing but the defaults.
WARD_CONTEXT = {
    "prod:api_url": "https://api.madoguchi.city.example.jp",
    "prod:liff_url": "https://liff.line.me/2000000000-AbCdEfGh",
    "prod:line_login_channel_id": "2000000000",
    "prod:paypay_merchant_id": "123456789012345678",
    "prod:web_origin": "https://api.madoguchi.city.example.jp",
    "prod:ses_domain": "madoguchi.city.example.jp",
    "prod:alarm_emails": "ops@city.example.jp",
    "prod:paypay_webhook_cidrs": "203.0.113.0/24, 198.51.100.7/32",  # documentation ranges (RFC 5737)
    "prod:staff_email_from_ses": "true",
}


def synthesize(
    outdir: Path,
    stages: tuple[str, ...] = ("dev", "prod"),
    nag: bool = True,
    context: dict[str, object] | None = None,
) -> Synth:
    from infra.app import build

    # No credentials while synthesizing (the local stack's fake ones are put back for other tests).
    hidden = {n: os.environ.pop(n) for n in _CREDENTIALS if n in os.environ}
    try:
        app = build(outdir=str(outdir), stages=stages, nag=nag, context=context)
        assembly = app.synth()
    finally:
        os.environ.update(hidden)
    stacks = {stage: app.node.find_child(f"madoguchi-{stage}") for stage in stages}
    templates = {
        stage: json.loads((outdir / f"madoguchi-{stage}.template.json").read_text(encoding="utf-8"))
        for stage in stages
    }
    return Synth(outdir=outdir, stacks=stacks, templates=templates, assembly=assembly)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    started = time.perf_counter()
    found = synthesize(tmp_path_factory.mktemp("cdk.out"), context=WARD_CONTEXT)
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{stage} {len(t['Resources'])}" for stage, t in found.templates.items())
    print(f"\nsynth: both stages in {seconds:.1f} s; resources: {counts}")
    return found


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}
