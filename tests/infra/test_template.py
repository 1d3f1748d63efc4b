"""The synthesized templates against the code's own definitions (issue 12)."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.forms import catalogue, retentions
from chalicelib.resources import ATTACHMENTS_BUCKET, PHOTO_RETENTION_TAG
from infra import definitions
from tests.infra.conftest import Synth, resources

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
# Actions that read or change data: none of them may be allowed on "*".
DATA_SERVICES = ("dynamodb", "sqs", "s3", "secretsmanager", "ssm", "ses", "scheduler", "kms", "sns", "iam")


def prefix(stage: str) -> str:
    return f"madoguchi-{stage}"


def by_name(template: dict[str, Any], kind: str, key: str) -> dict[str, dict[str, Any]]:
    return {r["Properties"][key]: r for r in resources(template, kind).values() if key in r["Properties"]}


def logical_id_of(template: dict[str, Any], kind: str, key: str, value: str) -> str:
    return next(k for k, r in resources(template, kind).items() if r["Properties"].get(key) == value)


@pytest.mark.parametrize("stage", STAGES)
def test_every_model_is_a_table_with_its_keys_indexes_and_ttl(synth: Synth, stage: str) -> None:
    tables = by_name(synth.templates[stage], "AWS::DynamoDB::Table", "TableName")
    defs = definitions.tables()
    assert len(defs) >= 12
    assert set(tables) == {f"{prefix(stage)}-{t.resource}" for t in defs}
    for table in defs:
        props = tables[f"{prefix(stage)}-{table.resource}"]["Properties"]
        keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
        assert keys == {
            "HASH": table.hash_key.name,
            **({"RANGE": table.range_key.name} if table.range_key else {}),
        }
        types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        assert types[table.hash_key.name] == table.hash_key.type
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i.name for i in table.indexes}, table.model
        for index in table.indexes:
            found = indexes[index.name]
            assert {k["KeyType"]: k["AttributeName"] for k in found["KeySchema"]} == {
                "HASH": index.hash_key.name,
                **({"RANGE": index.range_key.name} if index.range_key else {}),
            }
            assert found["Projection"]["ProjectionType"] == index.projection
            assert sorted(found["Projection"].get("NonKeyAttributes", [])) == sorted(index.non_key_attributes)
        if table.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_prod_tables_are_protected_and_retained(synth: Synth) -> None:
    for stage, protected in (("prod", True), ("dev", False)):
        for table in resources(synth.templates[stage], "AWS::DynamoDB::Table").values():
            assert table["Properties"].get("DeletionProtectionEnabled", False) is protected
            assert table["DeletionPolicy"] == ("Retain" if protected else "Delete")
    for kind in ("AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::Cognito::UserPool"):
        assert {r["DeletionPolicy"] for r in resources(synth.templates["prod"], kind).values()} == {"Retain"}


@pytest.mark.parametrize("stage", STAGES)
def test_every_queue_has_its_dead_letter_queue(synth: Synth, stage: str) -> None:
    template = synth.templates[stage]
    queues = by_name(template, "AWS::SQS::Queue", "QueueName")
    specs = definitions.queues()
    assert len(specs) >= 5
    for spec in specs:
        queue = queues[f"{prefix(stage)}-{spec.name}"]["Properties"]
        dlq_id = logical_id_of(template, "AWS::SQS::Queue", "QueueName", f"{prefix(stage)}-{spec.dlq_name}")
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": spec.max_receive_count,
        }
        assert queue["VisibilityTimeout"] == spec.visibility_timeout
        assert queue["MessageRetentionPeriod"] == spec.retention_seconds
        assert queues[f"{prefix(stage)}-{spec.dlq_name}"]["Properties"]["MessageRetentionPeriod"] == (
            spec.dlq_retention_seconds
        )
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    # TLS only: every queue has a policy denying aws:SecureTransport false.
    policies = resources(template, "AWS::SQS::QueuePolicy").values()
    secured = {q["Ref"] for p in policies for q in p["Properties"]["Queues"]}
    assert secured == set(resources(template, "AWS::SQS::Queue"))


def _sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """What CloudFormation's AWS::Serverless transform makes of the template (aws-sam-translator)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-1")
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return transform(copy.deepcopy(template), {}, NoManagedPolicies())


@pytest.fixture(scope="module")
def transformed(synth: Synth) -> dict[str, dict[str, Any]]:
    return {stage: _sam_transform(synth.templates[stage]) for stage in STAGES}


@pytest.mark.parametrize("stage", STAGES)
def test_every_sqs_event_source_reports_batch_item_failures_after_the_sam_transform(
    synth: Synth, transformed: dict[str, dict[str, Any]], stage: str
) -> None:
    mappings = resources(transformed[stage], "AWS::Lambda::EventSourceMapping")
    consumed = [
        e
        for f in resources(synth.templates[stage], "AWS::Serverless::Function").values()
        for e in (f["Properties"].get("Events") or {}).values()
        if e["Type"] == "SQS"
    ]
    assert len(mappings) == len(consumed) >= 5
    queue_names = {
        k: r["Properties"]["QueueName"] for k, r in resources(transformed[stage], "AWS::SQS::Queue").items()
    }
    concurrency = {}
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue = queue_names[props["EventSourceArn"]["Fn::GetAtt"][0]]
        concurrency[queue] = props.get("ScalingConfig", {}).get("MaximumConcurrency")
    assert concurrency[f"{prefix(stage)}-announce-send"] == 5


@pytest.mark.parametrize("stage", STAGES)
def test_queue_visibility_is_six_times_its_consumer_timeout(synth: Synth, stage: str) -> None:
    template = synth.templates[stage]
    queues = {k: r["Properties"] for k, r in resources(template, "AWS::SQS::Queue").items()}
    for function in resources(template, "AWS::Serverless::Function").values():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] == "SQS":
                queue = queues[event["Properties"]["Queue"]["Fn::GetAtt"][0]]
                assert queue["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"], queue["QueueName"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_functions_own_setting_in_the_chalice_config_reaches_it(synth: Synth, stage: str) -> None:
    """Chalice keys `lambda_functions` by a schedule's `name=` (announce-due), not its Python
    name: an entry under any other key is dropped without a word."""
    from infra.package import ROOT, camel

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
    template = synth.templates[stage]
    for name, settings in config.get("lambda_functions", {}).items():
        function = template["Resources"].get(camel(name))
        assert function is not None, f"{name}: no such function in {stage}"
        assert function["Properties"]["Timeout"] == settings["lambda_timeout"], name


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found.append((logical_id, statement))
    for logical_id, role in resources(template, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            for statement in inline["PolicyDocument"]["Statement"]:
                found.append((logical_id, statement))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stage", STAGES)
def test_no_role_allows_a_data_action_on_every_resource(
    synth: Synth, transformed: dict[str, dict[str, Any]], stage: str
) -> None:
    statements = _statements(transformed[stage])
    assert statements
    for logical_id, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = _as_list(statement["Action"])
        assert all(not a.endswith(":*") and a != "*" for a in actions), (logical_id, actions)
        if "*" in _as_list(statement.get("Resource")):
            data = [a for a in actions if a.split(":", 1)[0] in DATA_SERVICES]
            assert not data, f"{logical_id} allows {data} on '*'"


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_its_own_role_and_log_group(synth: Synth, stage: str) -> None:
    functions = resources(synth.templates[stage], "AWS::Serverless::Function")
    assert len(functions) >= 10
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles)
    assert "replaced-by-infra" not in json.dumps(synth.templates[stage])
    for function in functions.values():
        assert "Ref" in function["Properties"]["LoggingConfig"]["LogGroup"]


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_cover_every_dead_letter_queue_function_and_the_api(synth: Synth, stage: str) -> None:
    template = synth.templates[stage]
    alarms = _alarms(template)
    topic = next(iter(resources(template, "AWS::SNS::Topic")))
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    dlq_alarms = {
        d["Value"]["Fn::GetAtt"][0]
        for a in alarms
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        for d in a["Dimensions"]
    }
    dlqs = {
        logical_id_of(template, "AWS::SQS::Queue", "QueueName", f"{prefix(stage)}-{spec.dlq_name}")
        for spec in definitions.queues()
    }
    assert dlq_alarms == dlqs
    for metric in ("Errors", "Throttles"):
        covered = {d["Value"]["Ref"] for a in alarms if a["MetricName"] == metric for d in a["Dimensions"]}
        assert covered == set(resources(template, "AWS::Serverless::Function"))
    assert any(a["MetricName"] == "5XXError" and a["Namespace"] == "AWS/ApiGateway" for a in alarms)


def test_every_alarmed_metric_is_one_the_app_counts() -> None:
    """A metric renamed in the code must not leave its alarm watching nothing."""
    code = "\n".join(path.read_text() for path in (ROOT / "chalicelib").rglob("*.py"))
    counted = set(re.findall(r'add_metric\(name="(\w+)"', code))
    specs, _, _ = definitions.metric_alarms()
    assert {spec.metric for spec in specs} <= counted


@pytest.mark.parametrize("stage", STAGES)
def test_every_metric_alarm_watches_the_apps_own_metric(synth: Synth, stage: str) -> None:
    specs, namespace, service = definitions.metric_alarms()
    found = {a["MetricName"]: a for a in _alarms(synth.templates[stage]) if a.get("Namespace") == namespace}
    assert set(found) == {spec.metric for spec in specs}
    for spec in specs:
        alarm = found[spec.metric]
        assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]
        assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == (
            "Sum",
            spec.minutes * 60,
            spec.threshold,
        )
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("stage", STAGES)
def test_buckets_are_private_encrypted_tls_only_and_expire_staged_uploads(synth: Synth, stage: str) -> None:
    template = synth.templates[stage]
    buckets = by_name(template, "AWS::S3::Bucket", "BucketName")
    policies = resources(template, "AWS::S3::BucketPolicy").values()
    tls_only = {
        p["Properties"]["Bucket"]["Ref"]
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert tls_only == set(resources(template, "AWS::S3::Bucket"))
    for name in definitions.buckets():
        props = buckets[f"{prefix(stage)}-{name}"]["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
        assert rules["upload-staging"]["Prefix"] == definitions.upload_staging_prefix()
        assert rules["upload-staging"]["ExpirationInDays"] == 1
        # A closed submission's photos go with it: a rule for every retention a form may give.
        closed = {
            r["ExpirationInDays"]: r["TagFilters"] for r in rules.values() if r["Id"].startswith("closed-")
        }
        if name == ATTACHMENTS_BUCKET:
            assert closed == {
                days: [{"Key": PHOTO_RETENTION_TAG, "Value": str(days)}] for days in retentions()
            }
            assert {form.retention_days for form in catalogue()} <= set(closed)
        else:
            assert closed == {}
        # The accounting office's records survive an overwrite or a delete for a while; a
        # resident's deleted photo does not linger as an old version.
        versioned, days = definitions.versioned_buckets()
        if name in versioned:
            assert props["VersioningConfiguration"] == {"Status": "Enabled"}
            assert rules["noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": days}
        else:
            assert "VersioningConfiguration" not in props and "noncurrent-versions" not in rules
    assert definitions.versioned_buckets()[0] == ("payment-reports",)


def test_scheduler_role_may_only_send_to_the_schedule_targets(synth: Synth) -> None:
    """Announcement starts and consultation reminders (test_access: the code schedules to no other),
    and their DLQs, where Scheduler puts a delivery it gave up on (adapters/scheduler.py)."""
    from chalicelib.resources import SCHEDULE_TARGETS

    template = synth.templates["prod"]
    group = resources(template, "AWS::Scheduler::ScheduleGroup")
    assert [g["Properties"]["Name"] for g in group.values()] == ["madoguchi-prod-schedules"]
    role_id = next(
        k
        for k, r in resources(template, "AWS::IAM::Role").items()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "scheduler.amazonaws.com"
    )
    statements = _role_statements(template, role_id)
    targets = [
        {
            "Fn::GetAtt": [
                logical_id_of(template, "AWS::SQS::Queue", "QueueName", f"madoguchi-prod-{name}"),
                "Arn",
            ]
        }
        for q in SCHEDULE_TARGETS
        for name in (q.name, q.dlq_name)
    ]
    assert statements == [
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": targets[0] if len(targets) == 1 else targets,
        }
    ]


def test_staff_pool_groups_section_and_app_client_reach_the_app(synth: Synth) -> None:
    template = synth.templates["prod"]
    ((pool_id, pool),) = resources(template, "AWS::Cognito::UserPool").items()
    schema = {a["Name"]: a for a in pool["Properties"]["Schema"]}
    assert schema["section"]["AttributeDataType"] == "String"
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["MfaConfiguration"] == "ON"
    groups = {
        g["Properties"]["GroupName"] for g in resources(template, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {"staff", "announcer", "supervisor", "admin"}
    ((client_id, client),) = resources(template, "AWS::Cognito::UserPoolClient").items()
    assert "custom:section" in client["Properties"]["ReadAttributes"]
    assert "custom:section" not in client["Properties"]["WriteAttributes"]
    # SRP sign-in only: no OAuth flow (the implicit grant puts tokens in a redirect URL).
    assert not client["Properties"].get("AllowedOAuthFlows")
    assert client["Properties"]["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    # Invitations from the ward's SES domain once a stage says so (prod here); dev keeps Cognito's sender.
    email = pool["Properties"]["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["From"] == "Katsushika City <no-reply@madoguchi.city.example.jp>"
    assert ":identity/madoguchi.city.example.jp" in json.dumps(email["SourceArn"])
    ((_, dev_pool),) = resources(synth.templates["dev"], "AWS::Cognito::UserPool").items()
    assert dev_pool["Properties"].get("EmailConfiguration", {}).get("EmailSendingAccount") in (
        None,
        "COGNITO_DEFAULT",
    )
    env = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["STAFF_JWT_AUDIENCE"] == {"Ref": client_id}
    assert {"Ref": pool_id} in env["STAFF_JWT_ISSUER"]["Fn::Join"][1]


def test_api_stage_is_throttled(synth: Synth) -> None:
    api = synth.templates["prod"]["Resources"]["RestAPI"]["Properties"]
    (setting,) = api["MethodSettings"]
    assert (
        setting["ThrottlingRateLimit"] > 0
        and setting["ThrottlingBurstLimit"] >= setting["ThrottlingRateLimit"]
    )


@pytest.mark.parametrize("stage", STAGES)
def test_a_waf_limits_each_address_but_not_the_webhooks_on_the_api_stage(
    synth: Synth, transformed: dict[str, dict[str, Any]], stage: str
) -> None:
    from infra.stack import WAF_EXEMPT_PATH_PART, WAF_REQUESTS_PER_5_MINUTES

    (acl,) = resources(synth.templates[stage], "AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    limit = rules["per-address"]["Statement"]["RateBasedStatement"]
    assert limit["AggregateKeyType"] == "IP" and limit["Limit"] == WAF_REQUESTS_PER_5_MINUTES
    exempt = limit["ScopeDownStatement"]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert exempt["SearchString"] == WAF_EXEMPT_PATH_PART and exempt["FieldToMatch"] == {"UriPath": {}}
    assert rules["per-address"]["Action"] == {"Block": {"CustomResponse": {"ResponseCode": 429}}}
    # After the SAM transform the association names the stage it makes, so it waits for it.
    (association,) = resources(transformed[stage], "AWS::WAFv2::WebACLAssociation").values()
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    stage_ref = arn[1]["Stage"]["Ref"]
    assert resources(transformed[stage], "AWS::ApiGateway::Stage").keys() == {stage_ref}
    assert arn[1]["Api"] == {"Ref": "RestAPI"}


@pytest.mark.parametrize("stage", STAGES)
def test_a_path_no_route_has_is_a_404_in_the_apps_error_shape(
    transformed: dict[str, dict[str, Any]], stage: str
) -> None:
    """Not API Gateway's 403 "Missing Authentication Token": in the API's own definition, so the
    deployment SAM makes carries it (a separate GatewayResponse would wait for a redeploy)."""
    (api,) = resources(transformed[stage], "AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert str(missing["statusCode"]) == "404"
    body = json.loads(missing["responseTemplates"]["application/json"])
    assert body["error"]["code"] == "not_found" and body["error"]["details"] == []
    # Readable by the resident pages, as the app's own errors are (a review: a CORS failure).
    origin = missing["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
    assert origin.startswith("'https://") and origin.endswith("'")


@pytest.mark.parametrize("stage", STAGES)
def test_a_page_posted_with_a_photo_reaches_lambda_as_its_bytes(
    transformed: dict[str, dict[str, Any]], stage: str
) -> None:
    """A multipart post (a photo chosen with JavaScript off) is a binary media type of the API:
    base64 to Lambda, which Chalice decodes; as text API Gateway would re-encode the photo."""
    (api,) = resources(transformed[stage], "AWS::ApiGateway::RestApi").values()
    assert "multipart/form-data" in api["Properties"]["Body"]["x-amazon-apigateway-binary-media-types"]


def test_cdk_nag_aws_solutions_finds_nothing_unjustified(synth: Synth) -> None:
    from aws_cdk.assertions import Annotations, Match

    for stage in STAGES:
        annotations = Annotations.from_stack(synth.stacks[stage])
        for finding in (
            annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")),
            annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")),
        ):
            assert not finding, [f"{f.id}: {f.entry.data}" for f in finding][:10]


def test_make_synth_shows_the_stage_settings_a_ward_left_unset_and_fails_on_errors(synth: Synth) -> None:
    """`make synth` runs the app without the CDK CLI, so it prints our warnings itself; dev is
    synthesized with the defaults only, prod as a ward configures it."""
    import aws_cdk as cdk

    from infra.app import findings
    from infra.stack import WARD_SETTINGS

    errors, warnings = findings(synth.assembly)
    assert errors == []
    # The shipped ward data is an example's: every stage is told where it still names one.
    examples = [w for w in warnings if "still names example addresses" in w]
    assert sorted(w.split(":")[0] for w in examples) == ["madoguchi-dev", "madoguchi-prod"]
    assert "sections.json digestRecipients of koseki-jumin, seiso" in examples[0]
    assert "consultations.json meetingLinkTemplate of legal" in examples[0]
    # The demo ticket systems (an outside walkthrough: nothing said they were still the demo's).
    assert "queue.json registeredUrl of kanamachi-qminder" in examples[0]
    assert "queue.json allowedNetworks of kameari-kiosk (this machine only)" in examples[0]
    # dev has none of the ward's settings; the test's prod has them, the README's example ones.
    unset = {
        f"madoguchi-dev: context '{setting}' is not set for dev: see README 'How a ward deploys'"
        for setting in WARD_SETTINGS
    }
    still_examples = {
        f"madoguchi-prod: context '{setting}' for prod is still an example address: see README"
        " 'How a ward deploys'"
        for setting in ("api_url", "web_origin", "ses_domain", "alarm_emails")
    }
    default_prefix = {
        f"madoguchi-{stage}: context 'prefix' for {stage} is still the default madoguchi-{stage}: S3 bucket"
        " names are global, choose one nobody else uses (see README 'How a ward deploys')"
        for stage in ("dev", "prod")
    }
    assert set(warnings) - set(examples) == unset | still_examples | default_prefix
    broken = cdk.App()
    cdk.Annotations.of(cdk.Stack(broken, "broken")).add_error("a finding nobody justified")
    assert findings(broken.synth())[0] == ["/broken: a finding nobody justified"]


def test_the_wards_web_origin_reaches_the_apis_preflights_the_functions_and_the_upload_cors(
    synth: Synth,
) -> None:
    """Chalice writes the resident routes' CORS origin into the API's OPTIONS answers when it
    packages: the prod template (a ward's context) must carry the ward's origin everywhere, and
    nothing of the example's placeholder."""
    from tests.infra.conftest import WARD_CONTEXT

    origin = WARD_CONTEXT["prod:web_origin"]
    template = synth.templates["prod"]
    assert "forms.madoguchi.example.jp" not in json.dumps(template)
    [api] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    preflights = [
        operation["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        for operations in api["Properties"]["DefinitionBody"]["paths"].values()
        for method, operation in operations.items()
        if method == "options"
    ]
    assert preflights and all(
        p["method.response.header.Access-Control-Allow-Origin"] == f"'{origin}'" for p in preflights
    )
    functions = resources(template, "AWS::Serverless::Function")
    assert {f["Properties"]["Environment"]["Variables"].get("WEB_ORIGIN") for f in functions.values()} == {
        origin
    }


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_writes_an_access_log_and_alarms_on_4xx_floods(synth: Synth, stage: str) -> None:
    template = synth.templates[stage]
    setting = template["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]
    fields = json.loads(setting["Format"])
    assert {"requestId", "ip", "route", "status"} <= set(fields) and "$context.requestTime" in fields.values()
    assert not any("querystring" in value.lower() or "header" in value.lower() for value in fields.values())
    [group_id] = setting["DestinationArn"]["Fn::GetAtt"][:1]
    group = template["Resources"][group_id]["Properties"]
    assert group["LogGroupName"].endswith("/api-access") and group["RetentionInDays"] in (30, 365)
    [account] = resources(template, "AWS::ApiGateway::Account").values()
    assert "CloudWatchRoleArn" in account["Properties"]
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    assert {a["MetricName"] for a in alarms if a.get("Namespace") == "AWS/ApiGateway"} == {
        "4XXError",
        "5XXError",
    }


def test_the_unsigned_paypay_webhook_is_open_only_to_the_configured_addresses(synth: Synth) -> None:
    """prod (a ward's context) names PayPay's addresses: the API's resource policy denies the
    webhook route to every other address and nothing else; dev names none and is not restricted."""
    from tests.infra.conftest import WARD_CONTEXT

    statements = template_policy(synth.templates["prod"])
    cidrs = [c.strip() for c in WARD_CONTEXT["prod:paypay_webhook_cidrs"].split(",")]
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Resource"] == "execute-api:/api/POST/payments/webhooks/paypay"
    assert deny["Condition"] == {"NotIpAddress": {"aws:SourceIp": cidrs}}
    assert [s["Resource"] for s in statements if s["Effect"] == "Allow"] == ["execute-api:/*"]
    assert "Auth" not in synth.templates["dev"]["Resources"]["RestAPI"]["Properties"]


def template_policy(template: dict[str, Any]) -> list[dict[str, Any]]:
    return template["Resources"]["RestAPI"]["Properties"]["Auth"]["ResourcePolicy"]["CustomStatements"]


def test_cfn_lint_finds_nothing(synth: Synth) -> None:
    import subprocess
    import sys

    templates = [str(synth.outdir / f"madoguchi-{stage}.template.json") for stage in STAGES]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--regions", "ap-northeast-1", "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
