"""One stage of madoguchi on AWS: every table, queue, bucket, secret and function, from the code's lists.

Nothing here names a table or a queue: tables come from chalicelib/store/models.py MODELS, queues,
buckets and the schedule group from chalicelib/resources.py, what each function may touch from
chalicelib/access.py. The Chalice app is packaged by infra/package.py and included with
`chalice.cdk.Chalice`; the overrides below give each function its role, log group, environment
and event-source settings that Chalice cannot express.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_apigateway as apigateway,
)
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
from aws_cdk import (
    aws_wafv2 as wafv2,
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
# 4XX answers in 5 minutes that page an operator (residents' typos stay far below).
API_4XX_ALARM = 500
# The unsigned webhook the resource policy restricts (StageConfig.paypay_webhook_cidrs).
PAYPAY_WEBHOOK_PATH = "/payments/webhooks/paypay"
# The API Gateway stage Chalice deploys to (.chalice/config.json "api_gateway_stage").
API_STAGE = "api"
# AWS WAF on the stage: requests one address may send in 5 minutes (10 a second sustained: a
# mobile carrier's shared address carries many residents), webhooks aside (LINE, the payment
# providers and the ticket machines send from few addresses, and are signed); over it, 429.
WAF_REQUESTS_PER_5_MINUTES = 3000
WAF_EXEMPT_PATH_PART = "/webhook"
# The answer to a path or method no route has, in the app's error shape (api/errors.py).
NO_ROUTE = {
    "error": {
        "code": "not_found",
        "message": "このアドレスはありません。 / There is nothing at this address.",
        "details": [],
    }
}
# StageConfig settings a ward gives (context) for its links, payments, mail and alarms to work:
# synth warns when one is unset or still the example's placeholder (StageConfig's default).
WARD_SETTINGS = (
    "api_url",
    "liff_url",
    "line_login_channel_id",
    "paypay_merchant_id",
    "web_origin",  # payment return pages, the resident routes' CORS, the S3 upload CORS
    "ses_domain",
    "alarm_emails",  # else every alarm goes to a topic nobody reads
)

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
    # The public base URL of the API (a custom domain in front of API Gateway): the address LINE,
    # the ticket systems and residents' links use. Empty: the stage's execute-api URL, which only
    # the functions outside the API can be told (the API's own address would be a circular
    # reference in its template) and which changes if the API is ever replaced.
    api_url: str = ""
    # The ward's LIFF app (`https://liff.line.me/<liff id>`): LINE links to forms, status, tickets.
    liff_url: str = ""
    # PayPay: the merchant id (not a secret) and, for a sandbox stage, the API host.
    paypay_merchant_id: str = ""
    paypay_api_base: str = ""
    # PayPay's webhook is not signed: the addresses PayPay sends from (CIDRs, from PayPay's
    # integration guide), enforced by the API's resource policy at the edge. Empty: not restricted
    # (synth warns on a stage with a merchant id).
    paypay_webhook_cidrs: tuple[str, ...] = ()
    # The staff console that digest emails link into (empty: no links).
    staff_console_url: str = ""
    # Staff invitations and password resets from `ses_sender` through the stage's SES domain, not
    # Cognito's own sender (no-reply@verificationemail.com, a few dozen emails a day). Set it
    # once the domain is verified: Cognito refuses an unverified identity.
    staff_email_from_ses: bool = False
    # Salts the LINE user id pseudonyms in logs. Empty: the stack's own id (unique per stage, not
    # in git), so a stage never logs with the code's public default.
    log_hash_salt: str = ""
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    extra_environment: dict[str, str] = field(default_factory=dict)


class ChaliceApp(Chalice):
    """`chalice.cdk.Chalice`, packaged by infra/package.py (a stage of our choosing, bytecode included)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, stage: str, prefix: str, web_origin: str
    ) -> None:
        import glob
        import os

        self._madoguchi_stage, self._madoguchi_prefix, self._web_origin = stage, prefix, web_origin
        out = os.path.join(os.getcwd(), "chalice.out")  # where the construct writes its template copy
        os.makedirs(out, exist_ok=True)
        super().__init__(scope, construct_id, source_dir=str(package.ROOT))
        for leftover in glob.glob(os.path.join(out, "*.sam_with_assets.json")):
            os.remove(leftover)  # CfnInclude has read it

    def _package_app(self) -> None:
        self._sam_package_dir = str(
            package.build(self._madoguchi_stage, self._madoguchi_prefix, web_origin=self._web_origin)
        )


class MadoguchiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.removal = cdk.RemovalPolicy.RETAIN if config.protect else cdk.RemovalPolicy.DESTROY
        self.alarm_topic = self._alarm_topic()
        self.table_defs = {t.resource: t for t in definitions.tables()}
        self.tables = {name: self._table(t) for name, t in self.table_defs.items()}
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
        self.chalice = ChaliceApp(
            self, "ChaliceApp", stage=config.stage, prefix=config.prefix, web_origin=config.web_origin
        )
        for setting in WARD_SETTINGS:
            value = getattr(config, setting)
            if not value or value == getattr(StageConfig, setting, None):
                cdk.Annotations.of(self).add_warning_v2(
                    f"madoguchi:{setting}",
                    f"context '{setting}' is not set for {config.stage}: see README 'How a ward deploys'",
                )
            elif definitions.names_example(value if isinstance(value, str) else ",".join(value)):
                cdk.Annotations.of(self).add_warning_v2(
                    f"madoguchi:{setting}",
                    f"context '{setting}' for {config.stage} is still an example address: see README"
                    " 'How a ward deploys'",
                )
        if config.prefix == f"madoguchi-{config.stage}":
            cdk.Annotations.of(self).add_warning_v2(
                "madoguchi:prefix",
                f"context 'prefix' for {config.stage} is still the default {config.prefix}: S3 bucket names"
                " are global, choose one nobody else uses (see README 'How a ward deploys')",
            )
        if examples := definitions.example_addresses():
            cdk.Annotations.of(self).add_warning_v2(
                "madoguchi:example_addresses",
                f"the ward data still names example addresses ({'; '.join(examples)}): digests, online"
                " consultations' links and ticket systems would go nowhere (see README 'How a ward deploys')",
            )
        self.functions = self._wire_functions()
        self._api()
        self._metric_alarms()
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
        tag, retentions = (
            definitions.photo_retentions() if name == definitions.attachments_bucket() else ("", ())
        )
        versioned, noncurrent_days = definitions.versioned_buckets()
        keeps_versions = name in versioned
        return s3.Bucket(
            self,
            f"Bucket{package.camel(name)}",
            bucket_name=self.name(name),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=keeps_versions,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{name}/",
            lifecycle_rules=[
                # Uploads not taken by a submission within the upload window are abandoned.
                s3.LifecycleRule(id="upload-staging", prefix=staging, expiration=cdk.Duration.days(1)),
                s3.LifecycleRule(
                    id="incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                ),
                # A closed submission's photos, tagged with its retention, go when its TTL does.
                *(
                    s3.LifecycleRule(
                        id=f"closed-{days}d", tag_filters={tag: str(days)}, expiration=cdk.Duration.days(days)
                    )
                    for days in retentions
                ),
                *(
                    [
                        s3.LifecycleRule(
                            id="noncurrent-versions",
                            noncurrent_version_expiration=cdk.Duration.days(noncurrent_days),
                        )
                    ]
                    if keeps_versions
                    else []
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
        # Each target queue, and its DLQ: where Scheduler puts a delivery it gave up on.
        targets = [
            queue.queue_arn
            for q in getattr(resources, "SCHEDULE_TARGETS", ())
            for queue in (self.queues[q.name], self.dlqs[q.dlq_name])
        ]
        if targets:
            role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=targets))
        return group, role

    def _secrets(self) -> dict[str, secretsmanager.Secret]:
        """One Secrets Manager secret per name in chalicelib/access.py SECRETS, keyed by that name."""
        from chalicelib import access

        secrets = {}
        for name in access.SECRETS:
            resource = access.secret_name(name)
            secret = secretsmanager.Secret(
                self,
                f"Secret{package.camel(resource)}",
                secret_name=f"{self.config.prefix}/{resource}",
                description=f"madoguchi {self.config.stage}: {name} (set with put-secret-value; see README)",
                # Ours alone: a random value from the start. The others hold a random placeholder
                # until the value LINE, a provider or a vendor issued is put (README).
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=64, exclude_punctuation=True
                )
                if name == access.QUEUE_TICKET_SECRET
                else None,
                removal_policy=self.removal,
            )
            _suppress(secret, "AwsSolutions-SMG4", _rotation_reason(name))
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
            email=cognito.UserPoolEmail.with_ses(
                from_email=self.config.ses_sender,
                from_name=definitions.ward_name_en(),  # ASCII: the From header as Cognito writes it
                ses_verified_domain=self.config.ses_domain,
                ses_region=self.region,
            )
            if self.config.staff_email_from_ses
            else None,
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
            # Staff sign in by SRP with MFA; no hosted UI, so no OAuth flows (CDK's default would
            # allow the implicit grant, tokens in a redirect URL, to https://example.com).
            disable_o_auth=True,
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
        from chalicelib.access import FUNCTIONS, ROUTE_FUNCTIONS, access_for

        template = self.chalice.sam_template
        sam = _sam_json(self.chalice)
        functions = {}
        for function, logical_id in package.functions(sam).items():
            resource = template.get_resource(logical_id)
            properties = sam["Resources"][logical_id]["Properties"]
            access = access_for(function)
            serves_api = function == "api_handler" or function in ROUTE_FUNCTIONS
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
            for key, value in self._environment(access, serves_api=serves_api).items():
                resource.add_property_override(f"Environment.Variables.{key}", value)
            self._event_sources(resource, properties, role)
            self._function_alarms(function, resource)
            functions[function] = resource
        return functions

    def _environment(self, access: Any, *, serves_api: bool) -> dict[str, str]:
        """What chalicelib/config.py reads, for one function (every setting without a default
        that is right in AWS; tests/infra checks each function against the settings its code reads)."""
        config = self.config
        env = {
            "MADOGUCHI_PREFIX": config.prefix,
            "SQS_QUEUE_URL_TEMPLATE": cdk.Fn.sub(
                "https://sqs.${AWS::Region}.${AWS::URLSuffix}/${AWS::AccountId}/{name}"
            ),
            "STAFF_JWT_ISSUER": f"https://cognito-idp.{self.region}.{self.url_suffix}/{self.user_pool.user_pool_id}",
            "STAFF_JWT_AUDIENCE": self.user_pool_client.user_pool_client_id,
            "SES_SENDER": config.ses_sender,
            "WEB_ORIGIN": config.web_origin,
            "LOG_HASH_SALT": config.log_hash_salt or cdk.Fn.select(2, cdk.Fn.split("/", self.stack_id)),
        }
        optional = {
            "LINE_LOGIN_CHANNEL_ID": config.line_login_channel_id,
            "LIFF_URL": config.liff_url,
            "PAYPAY_MERCHANT_ID": config.paypay_merchant_id,
            "PAYPAY_API_BASE": config.paypay_api_base,
            "STAFF_CONSOLE_URL": config.staff_console_url,
        }
        env.update({key: value for key, value in optional.items() if value})
        if access.schedules:
            env["SCHEDULER_ROLE_ARN"] = self.scheduler_role.role_arn
        api_url = config.api_url.rstrip("/") or (None if serves_api else self._execute_api_url())
        if api_url:
            env["STAFF_API_BASE"] = api_url
            env["QUEUE_PAGE_URL"] = f"{api_url}/queue"  # the public wait page (web/pages.py)
        # A function gets a secret's ARN only if it may read it: no half-configured access.
        for name in access.secrets:
            env[f"{name}_ARN"] = self.secrets[name].secret_arn
        env.update(config.extra_environment)
        return env

    def _execute_api_url(self) -> str:
        api = self.chalice.sam_template.get_resource("RestAPI")
        return f"https://{api.ref}.execute-api.{self.region}.{self.url_suffix}/{API_STAGE}"

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

        def table_arns(names: tuple[str, ...], *, indexes: bool) -> list[str]:
            """The tables' ARNs and, for reads, their indexes' (only tables that have any)."""
            names = tuple(dict.fromkeys(names))
            arns: list[str] = []
            for name, table in zip(names, known("tables", names, self.tables), strict=True):
                arns.append(table.table_arn)
                if indexes and (self.table_defs[name].indexes or self.table_defs[name].local_indexes):
                    arns.append(f"{table.table_arn}/index/*")
            return arns

        # Items only (no table management); an index is only ever read.
        allow(_TABLE_READ, table_arns(access.reads + access.writes, indexes=True))
        allow(_TABLE_WRITE, table_arns(access.writes, indexes=False))
        allow(_QUEUE_SEND, [q.queue_arn for q in known("queues", access.sends, self.queues)])
        peeks = [
            q.queue_arn for name, q in self.dlqs.items() if "*dlq" in access.peeks or name in access.peeks
        ]
        peeks += [q.queue_arn for name, q in self.queues.items() if name in access.peeks]
        allow(("sqs:GetQueueAttributes", "sqs:GetQueueUrl"), peeks)
        allow(
            # PutObjectTagging: a closed submission's photos are tagged with their retention.
            ("s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"),
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
        # Statements past an inline policy's size go into OverflowPolicyN managed policies that
        # CDK makes at synth, out of this suppression's reach (cdk-nag then reports them): one
        # reason reads and writes are one statement each, and index ARNs only where there are
        # indexes (api_handler, the largest, renders about 4.3 KB; it overflowed before).
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
        api.add_property_override("AccessLogSetting", self._api_access_log())
        # A path (or method) no route has is API Gateway's "Missing Authentication Token", a 403
        # that reads as a credentials problem: answer it as the app answers what it does not know,
        # readable by the resident pages' origin (else a mistyped path reads as a CORS failure).
        api.add_property_override(
            "GatewayResponses",
            {
                "MISSING_AUTHENTICATION_TOKEN": {
                    "StatusCode": 404,
                    "ResponseParameters": {
                        "Headers": {"Access-Control-Allow-Origin": f"'{self.config.web_origin}'"}
                    },
                    "ResponseTemplates": {"application/json": json.dumps(NO_ROUTE, ensure_ascii=False)},
                }
            },
        )
        self._web_acl()
        if self.config.paypay_webhook_cidrs:
            api.add_property_override(
                "Auth", {"ResourcePolicy": {"CustomStatements": self._webhook_policy()}}
            )
        elif self.config.paypay_merchant_id:
            cdk.Annotations.of(self).add_warning_v2(
                "madoguchi:paypay_webhook_cidrs",
                f"context 'paypay_webhook_cidrs' is not set for {self.config.stage}: PayPay's unsigned"
                " webhook is open to every address (see README 'How a ward deploys')",
            )

        def api_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiName": self.config.prefix, "Stage": API_STAGE},
                statistic="Sum",
                period=cdk.Duration.minutes(5),
            )

        self._alarm(
            "Api5xx",
            api_metric("5XXError"),
            "API Gateway answered 5xx (a Lambda error, timeout or throttle)",
            threshold=5,
        )
        # Stage throttling answers 429, a 4XX: a flood (or a broken client) shows here first.
        self._alarm(
            "Api4xx",
            api_metric("4XXError"),
            "API Gateway answered many 4xx in 5 minutes (throttling 429s, a flood, a broken client)",
            threshold=API_4XX_ALARM,
        )

    def _api_access_log(self) -> dict[str, Any]:
        """One JSON line per request (no body, no query string, no header: the source address,
        method, route, status and timing), kept as long as the functions' logs. API Gateway
        writes it through the account's CloudWatch role (AWS::ApiGateway::Account)."""
        log_group = logs.LogGroup(
            self,
            "LogsApiAccess",
            log_group_name=f"/madoguchi/{self.config.prefix}/api-access",
            retention=self.config.log_retention,
            removal_policy=self.removal,
        )
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            description="API Gateway (the account's setting) writes access and execution logs",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        _suppress(
            role,
            "AwsSolutions-IAM4",
            "AWS's own policy for API Gateway's account-wide logging role; it names no resource of ours.",
        )
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)  # an account setting other APIs may rely on
        fields = {
            "requestId": "$context.requestId",
            "ip": "$context.identity.sourceIp",
            "time": "$context.requestTime",
            "method": "$context.httpMethod",
            "route": "$context.resourcePath",
            "status": "$context.status",
            "latencyMs": "$context.responseLatency",
            "bytes": "$context.responseLength",
            "error": "$context.error.message",
        }
        return {
            "DestinationArn": log_group.log_group_arn,
            "Format": json.dumps(fields, separators=(",", ":")),
        }

    def _web_acl(self) -> None:
        """AWS WAF on the API stage: a rate limit per address (the stage's throttling is one
        bucket for everyone, so one client's flood throttled all) and AWS's list of addresses
        known for attacks. `RestAPI.Stage` is the stage the SAM transform makes (and waits for)."""

        def seen(name: str) -> dict[str, Any]:
            return {"cloudWatchMetricsEnabled": True, "metricName": name, "sampledRequestsEnabled": True}

        not_a_webhook = {
            "notStatement": {
                "statement": {
                    "byteMatchStatement": {
                        "fieldToMatch": {"uriPath": {}},
                        "positionalConstraint": "CONTAINS",
                        "searchString": WAF_EXEMPT_PATH_PART,
                        "textTransformations": [{"priority": 0, "type": "LOWERCASE"}],
                    }
                }
            }
        }
        acl = wafv2.CfnWebACL(
            self,
            "ApiWebAcl",
            name=self.name("api"),
            scope="REGIONAL",
            default_action={"allow": {}},
            visibility_config=seen(self.name("api-waf")),
            rules=[
                {
                    "name": "per-address",
                    "priority": 0,
                    "action": {"block": {"customResponse": {"responseCode": 429}}},
                    "statement": {
                        "rateBasedStatement": {
                            "limit": WAF_REQUESTS_PER_5_MINUTES,
                            "aggregateKeyType": "IP",
                            "scopeDownStatement": not_a_webhook,
                        }
                    },
                    "visibilityConfig": seen(self.name("api-waf-per-address")),
                },
                {
                    "name": "ip-reputation",
                    "priority": 1,
                    "overrideAction": {"none": {}},
                    "statement": {
                        "managedRuleGroupStatement": {
                            "vendorName": "AWS",
                            "name": "AWSManagedRulesAmazonIpReputationList",
                        }
                    },
                    "visibilityConfig": seen(self.name("api-waf-ip-reputation")),
                },
            ],
        )
        association = wafv2.CfnWebACLAssociation(
            self,
            "ApiWebAclAssociation",
            web_acl_arn=acl.attr_arn,
            resource_arn=cdk.Fn.sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}",
                {"Api": cdk.Fn.ref("RestAPI"), "Stage": cdk.Fn.ref("RestAPI.Stage")},
            ),
        )
        # CDK's template validation runs before the SAM transform that makes RestAPI.Stage, so it
        # reports the reference as broken; tests/infra checks it after the transform.
        cdk.Validations.of(association).acknowledge(
            cdk.Acknowledgment(
                id="CloudFormation-Validate::F1020", reason="RestAPI.Stage is made by the SAM transform"
            )
        )

    def _webhook_policy(self) -> list[dict[str, Any]]:
        """The API's resource policy: everyone may call it, but PayPay's webhook only from
        PayPay's addresses."""
        return [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": f"execute-api:/{API_STAGE}/POST{PAYPAY_WEBHOOK_PATH}",
                "Condition": {"NotIpAddress": {"aws:SourceIp": list(self.config.paypay_webhook_cidrs)}},
            },
        ]

    def _metric_alarms(self) -> None:
        alarms, namespace, service = definitions.metric_alarms()
        for spec in alarms:
            metric = cloudwatch.Metric(
                namespace=namespace,
                metric_name=spec.metric,
                dimensions_map={"service": service},
                statistic="Sum",
                period=cdk.Duration.minutes(spec.minutes),
            )
            self._alarm(spec.metric, metric, spec.description, threshold=spec.threshold)

    def _outputs(self) -> None:
        cdk.CfnOutput(self, "StaffUserPoolId", value=self.user_pool.user_pool_id)
        cdk.CfnOutput(self, "StaffAppClientId", value=self.user_pool_client.user_pool_client_id)
        from chalicelib.access import secret_name

        for name, secret in self.secrets.items():
            cdk.CfnOutput(self, f"SecretArn{package.camel(secret_name(name))}", value=secret.secret_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)


_ATTRIBUTE_TYPES = {"S": "STRING", "N": "NUMBER", "B": "BINARY"}


def _rotation_reason(name: str) -> str:
    """Why a secret has no rotation Lambda (cdk-nag AwsSolutions-SMG4), by who issues it."""
    from chalicelib import access

    if name in access.LINE_SECRETS:
        return (
            "LINE issues these in the LINE Developers console; there is no API a rotation Lambda could call. "
            "README 'Rotating secrets' is the procedure; the app re-reads within 5 minutes."
        )
    if name in access.PAYMENT_SECRETS:
        return (
            "PayPay and Stripe issue these in their merchant dashboards; there is no API a rotation Lambda "
            "could call. README 'Rotating secrets' is the procedure; the app re-reads within 5 minutes."
        )
    if name in access.QUEUE_WEBHOOK_SECRETS:
        return (
            "Shared with a ticket system's vendor, whose system must change at the same time; README "
            "'Rotating secrets' is the procedure; the app re-reads within 5 minutes."
        )
    return (
        "Generated here; it signs the ticket links residents hold for the day, so a timed rotation would "
        "break them mid-day. README 'Rotating secrets': by hand, after the offices close."
    )


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
