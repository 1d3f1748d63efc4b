"""One stage of madoguchi on AWS: every table, queue, bucket, secret and function, from the code's lists.

Nothing here names a table or a queue: tables come from chalicelib/store/models.py MODELS, queues,
buckets and the schedule group from chalicelib/resources.py, what each function may touch from
chalicelib/access.py. The Chalice app is packaged by infra/package.py and included with
`chalice.cdk.Chalice`; the overrides below give each function its role, log group, environment
and event-source settings that Chalice cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_cloudwatch as cloudwatch,
)
from aws_cdk import (
    aws_cloudwatch_actions as cw_actions,
)
from aws_cdk import (
    aws_cognito as cognito,
)
from aws_cdk import (
    aws_dynamodb as dynamodb,
)
from aws_cdk import (
    aws_iam as iam,
)
from aws_cdk import (
    aws_logs as logs,
)
from aws_cdk import (
    aws_s3 as s3,
)
from aws_cdk import (
    aws_scheduler as scheduler,
)
from aws_cdk import (
    aws_secretsmanager as secretsmanager,
)
from aws_cdk import (
    aws_ses as ses,
)
from aws_cdk import (
    aws_sns as sns,
)
from aws_cdk import (
    aws_sns_subscriptions as subscriptions,
)
from aws_cdk import (
    aws_sqs as sqs,
)
from chalice.cdk import Chalice
from constructs import Construct

from infra import definitions, package

STAFF_GROUPS = ("staff", "announcer", "supervisor", "admin")
# Queues whose work is rate-limited downstream: at most this many concurrent consumers
# (Lambda's SQS maximum concurrency; 2 is the least it allows). announce-send shares LINE's
# multicast rate through a token bucket, so more senders only wait on each other.
MAX_CONCURRENCY = {"announce-send": 5}
# API Gateway stage throttling (every route; the token bucket of the whole stage).
API_RATE_PER_SECOND = 50
API_BURST = 100

_TABLE_READ = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
_TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
_QUEUE_CONSUME = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
_QUEUE_SEND = ("sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes")


@dataclass(frozen=True)
class StageConfig:
    """What differs between stages and wards: set in infra/app.py (or `-c name=value`)."""

    stage: str
    prefix: str
    protect: bool  # deletion protection and RETAIN: the stage holds residents' data
    alarm_emails: tuple[str, ...] = ()
    ses_domain: str = "madoguchi.example.jp"
    ses_sender: str = "no-reply@madoguchi.example.jp"
    web_origin: str = "https://forms.madoguchi.example.jp"
    line_login_channel_id: str = ""
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    extra_environment: dict[str, str] = field(default_factory=dict)


class ChaliceApp(Chalice):
    """`chalice.cdk.Chalice`, packaged by infra/package.py (a stage of our choosing, bytecode included)."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, prefix: str) -> None:
        import glob
        import os

        self._madoguchi_stage, self._madoguchi_prefix = stage, prefix
        out = os.path.join(os.getcwd(), "chalice.out")  # where the construct writes its template copy
        os.makedirs(out, exist_ok=True)
        super().__init__(scope, construct_id, source_dir=str(package.ROOT))
        for leftover in glob.glob(os.path.join(out, "*.sam_with_assets.json")):
            os.remove(leftover)  # CfnInclude has read it

    def _package_app(self) -> None:
        self._sam_package_dir = str(package.build(self._madoguchi_stage, self._madoguchi_prefix))


class MadoguchiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.removal = cdk.RemovalPolicy.RETAIN if config.protect else cdk.RemovalPolicy.DESTROY
        self.alarm_topic = self._alarm_topic()
        self.tables = {t.resource: self._table(t) for t in definitions.tables()}
        self.queues: dict[str, sqs.Queue] = {}
        self.dlqs: dict[str, sqs.Queue] = {}
        for spec in definitions.queues():
            self._queue(spec)
        self.access_logs = self._access_log_bucket()
        self.buckets = {name: self._bucket(name) for name in definitions.buckets()}
        self.schedule_group, self.scheduler_role = self._scheduler()
        self.secrets = self._secrets()
        self.user_pool, self.user_pool_client = self._staff_pool()
        self.ses_identity = self._ses()
        self.chalice = ChaliceApp(self, "ChaliceApp", stage=config.stage, prefix=config.prefix)
        self.functions = self._wire_functions()
        self._api()
        self._outputs()

    # --- names ---------------------------------------------------------------------------

    def name(self, resource: str) -> str:
        return f"{self.config.prefix}-{resource}"

    # --- data ----------------------------------------------------------------------------

    def _table(self, table: definitions.TableDef) -> dynamodb.Table:
        def attribute(key: definitions.Key) -> dynamodb.Attribute:
            return dynamodb.Attribute(name=key.name, type=dynamodb.AttributeType(_ATTRIBUTE_TYPES[key.type]))

        resource = dynamodb.Table(
            self,
            f"Table{package.camel(table.resource)}",
            table_name=self.name(table.resource),
            partition_key=attribute(table.hash_key),
            sort_key=attribute(table.range_key) if table.range_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=self.config.protect,
            removal_policy=self.removal,
            time_to_live_attribute=table.ttl_attribute,
        )
        for index in table.indexes:
            resource.add_global_secondary_index(
                index_name=index.name,
                partition_key=attribute(index.hash_key),
                sort_key=attribute(index.range_key) if index.range_key else None,
                projection_type=dynamodb.ProjectionType(index.projection),
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        for index in table.local_indexes:
            assert index.range_key is not None
            resource.add_local_secondary_index(
                index_name=index.name,
                sort_key=attribute(index.range_key),
                projection_type=dynamodb.ProjectionType(index.projection),
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        return resource

    def _queue(self, spec: Any) -> None:
        dlq = sqs.Queue(
            self,
            f"Queue{package.camel(spec.dlq_name)}",
            queue_name=self.name(spec.dlq_name),
            retention_period=cdk.Duration.seconds(spec.dlq_retention_seconds),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        queue = sqs.Queue(
            self,
            f"Queue{package.camel(spec.name)}",
            queue_name=self.name(spec.name),
            visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout),
            retention_period=cdk.Duration.seconds(spec.retention_seconds),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dlq),
        )
        self.queues[spec.name], self.dlqs[spec.dlq_name] = queue, dlq
        depth = dlq.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(5), statistic="Maximum"
        )
        self._alarm(
            f"Dlq{package.camel(spec.name)}",
            depth,
            f"{self.name(spec.dlq_name)} holds messages that failed every retry: an operator must look",
        )

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=self.name("access-logs"),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
            removal_policy=self.removal,
        )
        _suppress(
            bucket, "AwsSolutions-S1", "This is the access-log bucket; logging it into itself would loop."
        )
        return bucket

    def _bucket(self, name: str) -> s3.Bucket:
        staging = definitions.upload_staging_prefix()
        return s3.Bucket(
            self,
            f"Bucket{package.camel(name)}",
            bucket_name=self.name(name),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{name}/",
            lifecycle_rules=[
                # Uploads not taken by a submission within the upload window are abandoned.
                s3.LifecycleRule(id="upload-staging", prefix=staging, expiration=cdk.Duration.days(1)),
                s3.LifecycleRule(
                    id="incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                ),
            ],
            # Residents' browsers (LIFF pages, web forms) POST straight to S3 with a presigned form.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=[self.config.web_origin],
                    allowed_headers=["*"],
                    max_age=3600,
                )
            ],
            removal_policy=self.removal,
        )

    def _scheduler(self) -> tuple[scheduler.CfnScheduleGroup, iam.Role]:
        from chalicelib import resources

        group = scheduler.CfnScheduleGroup(
            self, "ScheduleGroup", name=self.name(definitions.schedule_group())
        )
        role = iam.Role(
            self,
            "SchedulerRole",
            description="Assumed by EventBridge Scheduler to put a scheduled start on its queue",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self.account}}
            ),
        )
        targets = [self.queues[q.name].queue_arn for q in getattr(resources, "SCHEDULE_TARGETS", ())]
        if targets:
            role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=targets))
        return group, role

    def _secrets(self) -> dict[str, secretsmanager.Secret]:
        from chalicelib.access import SECRETS

        secrets = {}
        for name in SECRETS:
            secret = secretsmanager.Secret(
                self,
                f"Secret{package.camel(name)}",
                secret_name=f"{self.config.prefix}/{name}",
                description=f"madoguchi {self.config.stage}: {name} (set with put-secret-value; see README)",
                removal_policy=self.removal,
            )
            _suppress(
                secret,
                "AwsSolutions-SMG4",
                "LINE issues these in the LINE Developers console; there is no API a rotation Lambda could call. "
                "README 'Rotating the LINE secrets' is the procedure; the app re-reads within 5 minutes.",
            )
            secrets[name] = secret
        return secrets

    def _staff_pool(self) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        pool = cognito.UserPool(
            self,
            "StaffPool",
            user_pool_name=self.name("staff"),
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            custom_attributes={"section": cognito.StringAttribute(min_len=1, max_len=64, mutable=True)},
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=self.config.protect,
            removal_policy=self.removal,
        )
        for group in STAFF_GROUPS:
            cognito.CfnUserPoolGroup(
                self, f"StaffGroup{package.camel(group)}", user_pool_id=pool.user_pool_id, group_name=group
            )
        # Staff may read their section but never write it: only an admin (AdminUpdateUserAttributes) sets it.
        readable = cognito.ClientAttributes().with_standard_attributes(email=True, email_verified=True)
        client = pool.add_client(
            "StaffClient",
            user_pool_client_name=self.name("staff-app"),
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.hours(12),
            read_attributes=readable.with_custom_attributes("section"),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
        )
        return pool, client

    def _ses(self) -> ses.EmailIdentity:
        configuration = ses.ConfigurationSet(
            self, "EmailConfiguration", configuration_set_name=self.name("email"), reputation_metrics=True
        )
        return ses.EmailIdentity(
            self,
            "EmailIdentity",
            identity=ses.Identity.domain(self.config.ses_domain),
            configuration_set=configuration,
        )

    # --- alarms --------------------------------------------------------------------------

    def _alarm_topic(self) -> sns.Topic:
        topic = sns.Topic(self, "Alarms", topic_name=self.name("alarms"), enforce_ssl=True)
        for email in self.config.alarm_emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        _suppress(
            topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry metric names only, no personal data; CloudWatch cannot publish to a "
            "topic encrypted with the AWS-managed SNS key, and a customer key for this alone is not worth it.",
        )
        return topic

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm{construct_id}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.alarm_topic))

    # --- functions -----------------------------------------------------------------------

    def _wire_functions(self) -> dict[str, cdk.CfnResource]:
        from chalicelib.access import FUNCTIONS, access_for

        template = self.chalice.sam_template
        sam = _sam_json(self.chalice)
        functions = {}
        for function, logical_id in package.functions(sam).items():
            resource = template.get_resource(logical_id)
            properties = sam["Resources"][logical_id]["Properties"]
            access = access_for(function)
            if function not in FUNCTIONS:
                cdk.Annotations.of(resource).add_warning_v2(
                    "madoguchi:access-default",
                    f"{function} has no entry in chalicelib/access.py: it may touch no table, queue, bucket or secret",
                )
            role = self._function_role(function, access, properties)
            log_group = logs.LogGroup(
                self,
                f"Logs{package.camel(function)}",
                log_group_name=f"/madoguchi/{self.config.prefix}/{function}",
                retention=self.config.log_retention,
                removal_policy=self.removal,
            )
            log_group.grant_write(role)
            resource.add_property_override("Role", role.role_arn)
            resource.add_property_override(
                "LoggingConfig", {"LogGroup": log_group.log_group_name, "LogFormat": "Text"}
            )
            for key, value in self._environment(access).items():
                resource.add_property_override(f"Environment.Variables.{key}", value)
            self._event_sources(resource, properties, role)
            self._function_alarms(function, resource)
            functions[function] = resource
        return functions

    def _environment(self, access: Any) -> dict[str, str]:
        from chalicelib.access import LINE_CHANNEL_ACCESS_TOKEN, LINE_CHANNEL_SECRET

        env = {
            "MADOGUCHI_PREFIX": self.config.prefix,
            "SQS_QUEUE_URL_TEMPLATE": cdk.Fn.sub(
                "https://sqs.${AWS::Region}.${AWS::URLSuffix}/${AWS::AccountId}/{name}"
            ),
            "STAFF_JWT_ISSUER": f"https://cognito-idp.{self.region}.{self.url_suffix}/{self.user_pool.user_pool_id}",
            "STAFF_JWT_AUDIENCE": self.user_pool_client.user_pool_client_id,
            "SES_SENDER": self.config.ses_sender,
            "SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
            "WEB_ORIGIN": self.config.web_origin,
        }
        if self.config.line_login_channel_id:
            env["LINE_LOGIN_CHANNEL_ID"] = self.config.line_login_channel_id
        # A function gets a secret's ARN only if it may read it: no half-configured access.
        if LINE_CHANNEL_SECRET in access.secrets:
            env["LINE_CHANNEL_SECRET_ARN"] = self.secrets[LINE_CHANNEL_SECRET].secret_arn
        if LINE_CHANNEL_ACCESS_TOKEN in access.secrets:
            env["LINE_CHANNEL_ACCESS_TOKEN_ARN"] = self.secrets[LINE_CHANNEL_ACCESS_TOKEN].secret_arn
        env.update(self.config.extra_environment)
        return env

    def _function_role(self, function: str, access: Any, properties: dict[str, Any]) -> iam.Role:
        role = iam.Role(
            self,
            f"Role{package.camel(function)}",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"madoguchi {self.config.stage} {function}: chalicelib/access.py",
        )

        def allow(actions: tuple[str, ...], resources: list[str]) -> None:
            if resources:
                role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=resources))

        def known(kind: str, names: tuple[str, ...], found: dict[str, Any]) -> list[Any]:
            missing = [name for name in names if name not in found]
            if missing:
                raise ValueError(f"chalicelib/access.py: {function} names unknown {kind} {missing}")
            return [found[name] for name in names]

        def table_arns(names: tuple[str, ...]) -> list[str]:
            arns: list[str] = []
            for table in known("tables", names, self.tables):
                arns += [table.table_arn, f"{table.table_arn}/index/*"]
            return arns

        allow(_TABLE_READ, table_arns(tuple(dict.fromkeys(access.reads + access.writes))))
        allow(_TABLE_WRITE, table_arns(access.writes))
        allow(_QUEUE_SEND, [q.queue_arn for q in known("queues", access.sends, self.queues)])
        peeks = [
            q.queue_arn for name, q in self.dlqs.items() if "*dlq" in access.peeks or name in access.peeks
        ]
        peeks += [q.queue_arn for name, q in self.queues.items() if name in access.peeks]
        allow(("sqs:GetQueueAttributes", "sqs:GetQueueUrl"), peeks)
        allow(
            ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
            [f"{b.bucket_arn}/*" for b in known("buckets", access.buckets, self.buckets)],
        )
        allow(
            ("secretsmanager:GetSecretValue",),
            [s.secret_arn for s in known("secrets", access.secrets, self.secrets)],
        )
        if access.schedules:
            group_arn = self.format_arn(
                service="scheduler", resource="schedule", resource_name=f"{self.schedule_group.name}/*"
            )
            allow(
                (
                    "scheduler:CreateSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                ),
                [group_arn],
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.scheduler_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
                )
            )
        if access.email:
            allow(
                ("ses:SendEmail", "ses:SendRawEmail"),
                [
                    self.format_arn(service="ses", resource="identity", resource_name=self.config.ses_domain),
                    self.format_arn(
                        service="ses", resource="configuration-set", resource_name=self.name("email")
                    ),
                ],
            )
        if properties.get("Tracing") == "Active":
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
                )
            )
        _suppress(
            role,
            "AwsSolutions-IAM5",
            "Wildcards are limited to: a table's own indexes (<table>/index/*), objects in one bucket "
            "(<bucket>/*), schedules in our one group, log streams of the function's own log group, and "
            "X-Ray trace segments (which accept no resource). tests/infra checks no data action has '*'.",
            apply_to_children=True,
            applies_to=[{"regex": _IAM5_ALLOWED}],
        )
        return role

    def _event_sources(self, resource: cdk.CfnResource, properties: dict[str, Any], role: iam.Role) -> None:
        for event_name, event in (properties.get("Events") or {}).items():
            if event["Type"] != "SQS":
                continue
            arn = event["Properties"]["Queue"]
            arn = arn.get("Fn::Sub", "") if isinstance(arn, dict) else arn
            queue_name = arn.rsplit(":", 1)[-1].removeprefix(self.config.prefix + "-")
            queue = self.queues.get(queue_name)
            if queue is None:
                raise ValueError(
                    f"app.py consumes queue {queue_name!r}, which chalicelib/resources.py QUEUES lacks"
                )
            path = f"Events.{event_name}.Properties"
            # A real reference (and so a dependency): the mapping is created after its queue.
            resource.add_property_override(f"{path}.Queue", queue.queue_arn)
            # Without this, a worker's batchItemFailures answer is ignored and the whole batch retried.
            resource.add_property_override(f"{path}.FunctionResponseTypes", ["ReportBatchItemFailures"])
            if queue_name in MAX_CONCURRENCY:
                resource.add_property_override(
                    f"{path}.ScalingConfig", {"MaximumConcurrency": MAX_CONCURRENCY[queue_name]}
                )
            role.add_to_policy(iam.PolicyStatement(actions=list(_QUEUE_CONSUME), resources=[queue.queue_arn]))

    def _function_alarms(self, function: str, resource: cdk.CfnResource) -> None:
        for metric_name in ("Errors", "Throttles"):
            metric = cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name=metric_name,
                dimensions_map={"FunctionName": resource.ref},
                statistic="Sum",
                period=cdk.Duration.minutes(5),
            )
            self._alarm(
                f"{package.camel(function)}{metric_name}", metric, f"{function}: Lambda {metric_name.lower()}"
            )

    # --- API -----------------------------------------------------------------------------

    def _api(self) -> None:
        api = self.chalice.sam_template.get_resource("RestAPI")
        api.add_property_override("Name", self.config.prefix)
        api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": API_RATE_PER_SECOND,
                    "ThrottlingBurstLimit": API_BURST,
                    "MetricsEnabled": True,
                }
            ],
        )
        metric = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={"ApiName": self.config.prefix, "Stage": "api"},
            statistic="Sum",
            period=cdk.Duration.minutes(5),
        )
        self._alarm(
            "Api5xx", metric, "API Gateway answered 5xx (a Lambda error, timeout or throttle)", threshold=5
        )

    def _outputs(self) -> None:
        cdk.CfnOutput(self, "StaffUserPoolId", value=self.user_pool.user_pool_id)
        cdk.CfnOutput(self, "StaffAppClientId", value=self.user_pool_client.user_pool_client_id)
        for name, secret in self.secrets.items():
            cdk.CfnOutput(self, f"SecretArn{package.camel(name)}", value=secret.secret_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)


_ATTRIBUTE_TYPES = {"S": "STRING", "N": "NUMBER", "B": "BINARY"}


def _sam_json(chalice: Chalice) -> dict[str, Any]:
    import json
    from pathlib import Path

    return json.loads((Path(chalice._sam_package_dir) / "sam.json").read_text(encoding="utf-8"))


# The IAM5 findings the suppression above covers, and no other (cdk-nag's "Resource::..." form).
_IAM5_ALLOWED = (
    r"/^Resource::(<[A-Za-z0-9]+\.Arn>(\/index\/\*|\/\*|:\*)"
    r"|arn:<AWS::Partition>:scheduler:[a-z0-9-]+:<AWS::AccountId>:schedule\/[A-Za-z0-9_.-]+\/\*"
    r"|\*)$/g"
)


def _suppress(
    construct: Construct,
    rule: str,
    reason: str,
    *,
    apply_to_children: bool = False,
    applies_to: list[dict[str, str]] | None = None,
) -> None:
    from cdk_nag import NagSuppressions

    suppression: dict[str, Any] = {"id": rule, "reason": reason}
    if applies_to:
        suppression["applies_to"] = applies_to
    NagSuppressions.add_resource_suppressions(construct, [suppression], apply_to_children=apply_to_children)
