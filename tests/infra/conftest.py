"""The CDK app, synthesized once per test session (both stages), offline and without AWS credentials."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Synth:
    outdir: Path
    stacks: dict[str, Any]  # stage -> MadoguchiStack
    templates: dict[str, dict[str, Any]]  # stage -> the template as written to cdk.out

    def template(self, stage: str) -> Any:
        from aws_cdk.assertions import Template

        return Template.from_stack(self.stacks[stage])


_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def synthesize(outdir: Path, stages: tuple[str, ...] = ("dev", "prod"), nag: bool = True) -> Synth:
    from infra.app import build

    # No credentials while synthesizing (the local stack's fake ones are put back for other tests).
    hidden = {n: os.environ.pop(n) for n in _CREDENTIALS if n in os.environ}
    try:
        app = build(outdir=str(outdir), stages=stages, nag=nag)
        app.synth()
    finally:
        os.environ.update(hidden)
    stacks = {stage: app.node.find_child(f"madoguchi-{stage}") for stage in stages}
    templates = {
        stage: json.loads((outdir / f"madoguchi-{stage}.template.json").read_text(encoding="utf-8"))
        for stage in stages
    }
    return Synth(outdir=outdir, stacks=stacks, templates=templates)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}
