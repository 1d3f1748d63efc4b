"""The CDK app: `python -m infra.app` synthesizes one stage (`-c stage=dev|prod`, default: both).

No account is named and nothing is looked up, so synth needs no AWS credentials. The region is
fixed (ap-northeast-1); the account is the one `cdk deploy` runs with. A ward sets its own
values with context (cdk.json or `-c`): `prefix` (names every resource; S3 bucket names are
global, so a ward picks one nobody else uses), `alarm_emails` (comma-separated), `ses_domain`,
`ses_sender`, `web_origin`, `line_login_channel_id`, `api_url` (the API's public base URL, a custom
domain), `liff_url` (the ward's LIFF app), `paypay_merchant_id`, `paypay_api_base` (a sandbox
stage), `staff_console_url`, `staff_email_from_ses` (true: staff invitations come from
`ses_sender`, once the SES domain is verified), `log_hash_salt` (the salt of the LINE user id pseudonyms in logs;
default: the stack's own id). Synth warns about each of stack.WARD_SETTINGS a stage leaves
unset or at its example placeholder (`make synth` reads cdk.json's context, as the CLI does).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")
REGION = "ap-northeast-1"


def _prepare_environment() -> None:
    """Settings are read at import: the CDK process reads the models with a neutral local prefix."""
    os.environ.setdefault("MADOGUCHI_STAGE", "synth")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    # The machine's Node.js (20) still runs jsii; its end-of-life banner is not ours to act on here.
    for name in ("END_OF_LIFE", "DEPRECATED", "UNTESTED"):
        os.environ.setdefault(f"JSII_SILENCE_WARNING_{name}_NODE_VERSION", "20")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def stage_config(app, stage: str):  # noqa: ANN001, ANN201 (aws_cdk imported late)
    from aws_cdk import aws_logs as logs

    from infra import ward_settings
    from infra.stack import StageConfig

    def context(name: str, default: str = "") -> str:
        value = app.node.try_get_context(f"{stage}:{name}") or app.node.try_get_context(name)
        if isinstance(value, list | tuple):  # a JSON list in cdk.json: the comma-separated form
            value = ",".join(str(item) for item in value)
        return str(value) if value else default

    emails = tuple(e.strip() for e in context("alarm_emails").split(",") if e.strip())
    domain = context("ses_domain", "madoguchi.example.jp")
    config = StageConfig(
        stage=stage,
        prefix=context("prefix", f"madoguchi-{stage}"),
        protect=stage == "prod",
        alarm_emails=emails,
        ses_domain=domain,
        ses_sender=context("ses_sender", f"no-reply@{domain}"),
        # An origin written with its root's slash is the same origin (a browser sends none).
        web_origin=context("web_origin", "https://forms.madoguchi.example.jp").removesuffix("/"),
        line_login_channel_id=context("line_login_channel_id"),
        api_url=context("api_url"),
        liff_url=context("liff_url"),
        paypay_merchant_id=context("paypay_merchant_id"),
        paypay_api_base=context("paypay_api_base"),
        paypay_webhook_cidrs=tuple(
            c.strip() for c in context("paypay_webhook_cidrs").split(",") if c.strip()
        ),
        staff_console_url=context("staff_console_url"),
        staff_email_from_ses=context("staff_email_from_ses").lower() == "true",
        log_hash_salt=context("log_hash_salt"),
        log_retention=logs.RetentionDays.ONE_YEAR if stage == "prod" else logs.RetentionDays.ONE_MONTH,
    )
    found = ward_settings.problems({name: getattr(config, name) for name in ward_settings.CHECKED})
    if found:
        # One line per setting, naming it: not a template that fails at deploy, or a jsii traceback.
        # Where it came from: cdk.json or `-c` on the command line (a walkthrough was sent to cdk.json).
        raise SystemExit(
            f"the {stage} settings (cdk.json's context or -c NAME=VALUE) are malformed:\n  "
            + "\n  ".join(found)
        )
    return config


def build(  # noqa: ANN201
    outdir: str | None = None,
    stages: tuple[str, ...] | None = None,
    nag: bool = True,
    context: dict[str, object] | None = None,
):
    """The app with one stack per stage; `nag` adds cdk-nag's AWS Solutions checks; `context` as `-c`."""
    _prepare_environment()
    import aws_cdk as cdk

    from infra.stack import MadoguchiStack

    # Access-log delivery through a bucket policy, not the legacy ACL (cfn-lint W3045).
    context = {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True, **(context or {})}
    app = cdk.App(outdir=outdir, context=context) if outdir else cdk.App(context=context)
    chosen = app.node.try_get_context("stage")
    for stage in stages or ((chosen,) if chosen else STAGES):
        if stage not in STAGES:
            raise SystemExit(f"unknown stage {stage!r}: one of {', '.join(STAGES)}")
        config = stage_config(app, stage)
        MadoguchiStack(
            app,
            f"madoguchi-{stage}",
            config=config,
            env=cdk.Environment(region=REGION),
            description=f"madoguchi {stage}: Katsushika digital front door (issue 12)",
        )
    if nag:
        from cdk_nag import AwsSolutionsChecks

        cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app


def findings(assembly) -> tuple[list[str], list[str]]:  # noqa: ANN001 (aws_cdk imported late)
    """What synth must fail on (cdk-nag findings nobody justified, CDK's own errors) and what it
    must show (our warnings: a ward setting left unset, a function with no access entry; the CDK
    CLI would print them, but `make synth` runs the app alone)."""
    from aws_cdk.cx_api import SynthesisMessageLevel

    errors, warnings = [], []
    for stack in assembly.stacks:
        for message in stack.messages:
            text = str(message.entry.data)
            if message.level == SynthesisMessageLevel.ERROR:
                errors.append(f"{message.id}: {text}")
            elif message.level == SynthesisMessageLevel.WARNING and "[ack: madoguchi:" in text:
                warnings.append(f"{stack.stack_name}: {text.split(' [ack:')[0]}")
    return errors, warnings


def ward_context() -> dict[str, object]:
    """cdk.json's context: the CDK CLI hands it to the app itself, but `make synth` runs the app
    alone, and must show the templates (and warnings) the ward's settings give, as a deploy would.
    Context given by the CLI still wins (cdk.App's own order)."""
    import json

    return dict(json.loads((ROOT / "cdk.json").read_text(encoding="utf-8")).get("context", {}))


def context_with(arguments: list[str]) -> dict[str, object]:
    """cdk.json's context with `-c NAME=VALUE` (`-c prod:NAME=VALUE`) given on the command line
    over it, as the CDK CLI gives them: run by hand, the app had ignored them (a walkthrough: an
    operator checking a value before committing it saw it pass unread)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m infra.app", description=__doc__.split("\n", 1)[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="NAME=VALUE")
    context = ward_context()
    for item in parser.parse_args(arguments).context:
        name, equals, value = item.partition("=")
        if not equals or not name:
            parser.error(f"-c {item}: give NAME=VALUE")
        context[name] = value
    return context


def main(arguments: list[str] | None = None) -> int:
    # The CDK CLI names the output folder; run by hand (make synth) it is cdk.out/.
    outdir = os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out")
    context = context_with(sys.argv[1:] if arguments is None else arguments)
    assembly = build(outdir=outdir, context=context).synth()
    errors, warnings = findings(assembly)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in errors:
        print(error, file=sys.stderr)
    print(f"synthesized {', '.join(s.stack_name for s in assembly.stacks)} into {assembly.directory}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
