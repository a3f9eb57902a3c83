"""template.yaml against the pipeline's contract: wiring, least privilege, data protection.

sam validate --lint, cfn-lint and sam build run from the Makefile (`make template`); these tests
pin down what those tools cannot know: what this pipeline needs and must not be granted.
"""

import json
import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from portrait_fusion.core.settings import record_ttl_seconds

# AWS guidance for SQS event sources: visibility timeout >= 6x the function timeout.
VISIBILITY_TO_TIMEOUT_RATIO = 6
# S3 bucket naming rules, minus the dotted names the stack never builds.
S3_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
NO_VALUE = {"Ref": "AWS::NoValue"}
TLS_ONLY_CONDITION = {"Bool": {"aws:SecureTransport": "false"}}
LAMBDA_APPLICATION_LOG_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

# What the conftest fixture `resolver_for` returns: pseudo parameters -> intrinsic evaluator.
ResolverFactory = Callable[[Mapping[str, str]], Callable[[Any], Any]]


def getatt(resource: str, attribute: str = "Arn") -> dict[str, list[str]]:
    """The long form of !GetAtt resource.attribute."""
    return {"Fn::GetAtt": [resource, attribute]}


def ref(name: str) -> dict[str, str]:
    """The long form of !Ref name."""
    return {"Ref": name}


def sub(text: str) -> dict[str, str]:
    """The long form of !Sub text."""
    return {"Fn::Sub": text}


def as_list(value: Any) -> list[Any]:
    """IAM accepts a string or a list for Action and Resource; read both as a list."""
    return value if isinstance(value, list) else [value]


def role_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of an AWS::IAM::Role's inline policies (a conditional one, `!If [c,
    statement, !Ref AWS::NoValue]`, counts as granted: the widest the role can be)."""
    statements = []
    for policy in role["Properties"].get("Policies", []):
        for declared in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in declared:
                _, granted, otherwise = declared["Fn::If"]
                assert otherwise == NO_VALUE, declared
                statements.append(granted)
            else:
                statements.append(declared)
    return statements


def normalized(statements: list[dict[str, Any]]) -> list[str]:
    """Statements as sorted canonical JSON (Sid ignored, action order ignored) for comparison."""
    canonical = []
    for statement in statements:
        body = {key: value for key, value in statement.items() if key != "Sid"}
        body["Action"] = sorted(as_list(body["Action"]))
        canonical.append(json.dumps(body, sort_keys=True))
    return sorted(canonical)


def allow(
    actions: list[str], resource: Any, condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An Allow statement as the template is expected to write it."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return statement


# ----------------------------------------------------------------------------- the function


def test_function_runs_the_fixed_handler_on_python313_arm64(
    function_properties: dict[str, Any],
) -> None:
    """The handler path, runtime and architecture other parts of the project rely on."""
    assert function_properties["CodeUri"] == "functions/fusion/"
    assert function_properties["Handler"] == "portrait_fusion.entry.handler.lambda_handler"
    assert function_properties["Runtime"] == "python3.13"
    assert function_properties["Architectures"] == ["arm64"]
    assert function_properties["MemorySize"] == 1024
    assert function_properties["Timeout"] == 120
    assert function_properties["Tracing"] == "Active"
    assert function_properties["Layers"] == [ref("DependenciesLayer")]
    assert function_properties["Role"] == getatt("FusionFunctionRole")


def test_dependency_layer_is_built_for_python313_arm64(
    resources: dict[str, Any], repo_root: Path
) -> None:
    """sam build installs layers/dependencies/requirements.txt as aarch64 wheels."""
    layer = resources["DependenciesLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/dependencies/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    assert (repo_root / "layers/dependencies/requirements.txt").is_file()


def test_function_environment_covers_every_configuration_variable(
    function_properties: dict[str, Any],
) -> None:
    """Every documented environment variable, each fed by its parameter or resource."""
    assert function_properties["Environment"]["Variables"] == {
        "INPUT_BUCKET": ref("InputBucket"),
        "INPUT_PREFIX": ref("InputPrefix"),
        "OUTPUT_BUCKET": ref("OutputBucket"),
        "OUTPUT_PREFIX": ref("OutputPrefix"),
        "PAIR_PATTERN": ref("PairPattern"),
        "API_KEY_SECRET_ID": ref("ApiKeySecret"),
        "FUSION_API_URL": ref("FusionApiUrl"),
        "DEFAULT_SOURCE_SIMILARITY": ref("DefaultSourceSimilarity"),
        "IDEMPOTENCY_TABLE": ref("IdempotencyTable"),
        "API_TIMEOUT_SECONDS": ref("ApiTimeoutSeconds"),
        "API_MAX_ATTEMPTS": ref("ApiMaxAttempts"),
        "SECRET_MAX_AGE_SECONDS": ref("SecretMaxAgeSeconds"),
        "AUTO_FIT": ref("AutoFit"),
        "DAILY_CALL_BUDGET": ref("DailyCallBudget"),
        "TENANT_DAILY_CALL_BUDGET": ref("TenantDailyCallBudget"),
        "OWNER_DAILY_CALL_BUDGET": ref("OwnerDailyCallBudget"),
        "REUSE_IDENTICAL_RESULTS": ref("ReuseIdenticalResults"),
        "REUSE_ACROSS_OWNERS": ref("ReuseAcrossOwners"),
        "RESULT_RETENTION_DAYS": ref("ResultRetentionDays"),
        "PULL_FROM_QUEUE": ref("PullFromQueue"),
        "POWERTOOLS_SERVICE_NAME": "portrait-fusion",
        "POWERTOOLS_METRICS_NAMESPACE": "PortraitFusion",
        "POWERTOOLS_LOG_LEVEL": ref("LogLevel"),
        "EVENT_BUS_NAME": ref("EventBusName"),
        "PARTNER_TIMEOUT_MINUTES": ref("PartnerTimeoutMinutes"),
    }


def test_function_logs_json_to_its_own_log_group_with_retention(
    function_properties: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    """JSON logs, filtered at LogLevel, in a stack-owned group whose retention is a parameter."""
    assert function_properties["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": ref("LogLevel"),
        "LogGroup": ref("FusionFunctionLogGroup"),
    }
    # Lambda's filter and Python's logging must both accept every choice.
    for level in parameters["LogLevel"]["AllowedValues"]:
        assert level in LAMBDA_APPLICATION_LOG_LEVELS
        assert isinstance(logging.getLevelName(level), int)
    log_group = resources["FusionFunctionLogGroup"]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == ref("LogRetentionDays")


def test_sqs_event_reports_item_failures_and_caps_concurrency(
    function_properties: dict[str, Any], parameters: dict[str, Any]
) -> None:
    """Partial batch failures and an API-sized concurrency cap on the queue's event source."""
    event = function_properties["Events"]["FusionQueueEvent"]
    assert event["Type"] == "SQS"
    assert event["Properties"] == {
        "Queue": getatt("FusionQueue"),
        "BatchSize": ref("BatchSize"),
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": ref("MaxConcurrency")},
    }
    # Lambda rejects a MaximumConcurrency below 2; SQS batches above 10 need a batching window.
    assert parameters["MaxConcurrency"]["MinValue"] >= 2
    assert parameters["BatchSize"]["MaxValue"] <= 10


def test_api_timeout_cannot_exceed_the_function_timeout(
    function_properties: dict[str, Any], parameters: dict[str, Any]
) -> None:
    """One API call must leave the invocation time to record its outcome."""
    assert parameters["ApiTimeoutSeconds"]["MaxValue"] < function_properties["Timeout"]


# ----------------------------------------------------------------------------- least privilege

EVENT_BUS_ARN = sub(
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"
)

FUNCTION_GRANTS = [
    allow(["logs:CreateLogStream", "logs:PutLogEvents"], getatt("FusionFunctionLogGroup")),
    allow(["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
    allow(
        [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
        getatt("FusionQueue"),
    ),
    allow(["s3:GetObject", "s3:GetObjectVersion"], sub("${InputBucket.Arn}/${InputPrefix}*")),
    allow(
        ["s3:ListBucket"],
        getatt("InputBucket"),
        {"StringLike": {"s3:prefix": sub("${InputPrefix}*")}},
    ),
    allow(["s3:PutObject"], sub("${OutputBucket.Arn}/${OutputPrefix}*")),
    allow(["s3:GetObject"], sub("${OutputBucket.Arn}/${OutputPrefix}*")),
    allow(
        ["s3:ListBucket"],
        getatt("OutputBucket"),
        {"StringLike": {"s3:prefix": sub("${OutputPrefix}*")}},
    ),
    allow(["secretsmanager:GetSecretValue"], ref("ApiKeySecret")),
    allow(
        ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        getatt("IdempotencyTable"),
    ),
    allow(["s3:PutObject"], sub("${OutputBucket.Arn}/partner-timeouts/*")),
    # an upload to an erased Pair API pair (a re-posted form) is removed on arrival
    allow(
        ["s3:ListBucketVersions"],
        getatt("InputBucket"),
        {"StringLike": {"s3:prefix": sub("${InputPrefix}*")}},
    ),
    allow(["s3:DeleteObjectVersion"], sub("${InputBucket.Arn}/${InputPrefix}*")),
    allow(["events:PutEvents"], EVENT_BUS_ARN),
]

SWEEP_GRANTS = [
    allow(["logs:CreateLogStream", "logs:PutLogEvents"], getatt("PartnerSweepFunctionLogGroup")),
    allow(["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
    allow(
        ["s3:ListBucket"],
        getatt("OutputBucket"),
        {"StringLike": {"s3:prefix": "partner-timeouts/*"}},
    ),
    allow(["s3:DeleteObject", "s3:GetObject"], sub("${OutputBucket.Arn}/partner-timeouts/*")),
    allow(["s3:GetObject", "s3:GetObjectVersion"], sub("${InputBucket.Arn}/${InputPrefix}*")),
    allow(
        ["s3:ListBucket"],
        getatt("InputBucket"),
        {"StringLike": {"s3:prefix": sub("${InputPrefix}*")}},
    ),
    allow(["s3:PutObject"], sub("${OutputBucket.Arn}/${OutputPrefix}*")),
    allow(["events:PutEvents"], EVENT_BUS_ARN),
]

BATCH_OPERATIONS_GRANTS = [
    allow(["lambda:InvokeFunction"], [getatt("FusionFunction"), sub("${FusionFunction.Arn}:*")]),
    allow(
        ["s3:GetObject", "s3:GetObjectVersion"],
        sub("${OutputBucket.Arn}/batch-operations/manifests/*"),
    ),
    allow(["s3:PutObject"], sub("${OutputBucket.Arn}/batch-operations/reports/*")),
    allow(["s3:GetBucketLocation"], getatt("OutputBucket")),
]

PAIR_API_GRANTS = [
    allow(["logs:CreateLogStream", "logs:PutLogEvents"], getatt("PairApiFunctionLogGroup")),
    # presigned POSTs are signed with this role: what it may put is what an upload may create
    allow(["s3:PutObject"], sub("${InputBucket.Arn}/${InputPrefix}*")),
    allow(["s3:GetObject"], sub("${InputBucket.Arn}/${CataloguePrefix}*")),
    allow(
        ["s3:ListBucket"],
        getatt("InputBucket"),
        {"StringLike": {"s3:prefix": [sub("${InputPrefix}*"), sub("${CataloguePrefix}*")]}},
    ),
    # the result URL is a presigned GET of the document's version of the result
    allow(["s3:GetObject", "s3:GetObjectVersion"], sub("${OutputBucket.Arn}/${OutputPrefix}*")),
    # each pair's record (its owner) and the owners' call counters, and nothing else
    allow(
        ["dynamodb:GetItem"],
        getatt("IdempotencyTable"),
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["pair#*", "budget#*"]}},
    ),
    allow(
        ["dynamodb:PutItem"],
        getatt("IdempotencyTable"),
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["pair#*"]}},
    ),
    # DELETE /pairs/{pair_id}: the erasure of one pair
    allow(
        ["s3:ListBucketVersions"],
        [getatt("InputBucket"), getatt("OutputBucket")],
        {"StringLike": {"s3:prefix": [sub("${InputPrefix}*"), sub("${OutputPrefix}*")]}},
    ),
    allow(
        ["s3:DeleteObject", "s3:DeleteObjectVersion"],
        [sub("${InputBucket.Arn}/${InputPrefix}*"), sub("${OutputBucket.Arn}/${OutputPrefix}*")],
    ),
    allow(["dynamodb:DeleteItem"], getatt("IdempotencyTable")),
    # a pair's records by the by-pair index: never a Scan
    allow(["dynamodb:Query"], sub("${IdempotencyTable.Arn}/index/by-pair")),
]

# AWS offers no resource-level permissions for these, so "*" is the only possible resource.
ACTIONS_WITHOUT_RESOURCE_SCOPE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.mark.parametrize(
    ("role_id", "service", "grants"),
    [
        ("FusionFunctionRole", "lambda.amazonaws.com", FUNCTION_GRANTS),
        ("BatchOperationsRole", "batchoperations.s3.amazonaws.com", BATCH_OPERATIONS_GRANTS),
        ("PartnerSweepFunctionRole", "lambda.amazonaws.com", SWEEP_GRANTS),
        ("PairApiFunctionRole", "lambda.amazonaws.com", PAIR_API_GRANTS),
    ],
)
def test_role_grants_exactly_the_scoped_permissions(
    resources: dict[str, Any], role_id: str, service: str, grants: list[dict[str, Any]]
) -> None:
    """Any grant added, widened or unscoped fails here, with the offending statement shown."""
    role = resources[role_id]
    assert role["Type"] == "AWS::IAM::Role"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert normalized(role_statements(role)) == normalized(grants)


def test_no_role_uses_wildcard_actions_or_unscoped_resources(resources: dict[str, Any]) -> None:
    """No `s3:*`-style action anywhere, and `*` resources only where AWS allows nothing else."""
    roles = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    for statement in (s for role in roles for s in role_statements(role)):
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), statement
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= ACTIONS_WITHOUT_RESOURCE_SCOPE, statement


def test_function_uses_no_implicit_sam_role_or_policy_templates(
    function_properties: dict[str, Any],
) -> None:
    """SAM's generated role would add managed policies that grant on every resource."""
    assert "Policies" not in function_properties
    assert "Role" in function_properties


# ----------------------------------------------------------------------------- buckets


@pytest.mark.parametrize("bucket_id", ["InputBucket", "OutputBucket"])
def test_bucket_blocks_public_access_and_encrypts(
    resources: dict[str, Any], bucket_id: str
) -> None:
    """Biometric data: never public, encrypted at rest, no ACLs."""
    properties = resources[bucket_id]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }


@pytest.mark.parametrize("bucket_id", ["InputBucket", "OutputBucket"])
def test_bucket_policy_denies_requests_without_tls(
    resources: dict[str, Any], bucket_id: str
) -> None:
    """Every action on the bucket and its objects is refused over plain HTTP."""
    policy = resources[f"{bucket_id}Policy"]
    assert policy["Type"] == "AWS::S3::BucketPolicy"
    assert policy["Properties"]["Bucket"] == ref(bucket_id)
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [getatt(bucket_id), sub(f"${{{bucket_id}.Arn}}/*")],
        "Condition": TLS_ONLY_CONDITION,
    }


def test_input_bucket_expires_every_upload_and_old_version(resources: dict[str, Any]) -> None:
    """Inputs are deleted after InputRetentionDays, versioning notwithstanding."""
    properties = resources["InputBucket"]["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
    expire = rules["ExpireInputs"]
    assert expire["Status"] == "Enabled"
    assert expire["ExpirationInDays"] == ref("InputRetentionDays")
    # No Prefix or Filter: the rule covers the whole bucket, not only the trigger prefix.
    assert "Prefix" not in expire
    assert "Filter" not in expire
    assert expire["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
    assert rules["RemoveExpiredDeleteMarkers"]["ExpiredObjectDeleteMarker"] is True


def output_lifecycle_rules(resources: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The output bucket's lifecycle rules by Id: those that apply only with
    ResultRetentionDays > 0 (`!If [HasResultRetention, rule, !Ref AWS::NoValue]`), and those
    that always apply."""
    conditional, always = {}, {}
    for declared in resources["OutputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]:
        if "Fn::If" in declared:
            condition, rule, otherwise = declared["Fn::If"]
            assert (condition, otherwise) == ("HasResultRetention", NO_VALUE)
            conditional[rule["Id"]] = rule
        else:
            always[declared["Id"]] = declared
    return conditional, always


def test_result_retention_applies_only_when_set(
    template: dict[str, Any], resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    """ResultRetentionDays (30 by default) expires results and the batch-operations/ prefix,
    and every version a later merge replaced, as long after; 0 keeps them."""
    assert parameters["ResultRetentionDays"]["Default"] == 30
    assert template["Conditions"]["HasResultRetention"] == {
        "Fn::Not": [{"Fn::Equals": [ref("ResultRetentionDays"), "0"]}]
    }
    conditional, _ = output_lifecycle_rules(resources)
    assert {rule_id: rule["Prefix"] for rule_id, rule in conditional.items()} == {
        "ExpireResults": ref("OutputPrefix"),
        "ExpireBatchOperations": "batch-operations/",
    }
    for rule in conditional.values():
        assert rule["Status"] == "Enabled"
        assert rule["ExpirationInDays"] == ref("ResultRetentionDays")
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": ref("ResultRetentionDays")}
    # So a version lives at least ResultRetentionDays after it was written, and no
    # idempotency record that may answer with a document naming it lives longer.
    for days in (1, 7, 30, 3650):
        assert record_ttl_seconds(days) <= days * 24 * 3600


def test_output_bucket_keeps_each_documents_version_and_cleans_up_after_itself(
    resources: dict[str, Any],
) -> None:
    """Versioned, so every document's result stays at its version; what versioning keeps of
    the sweep's settled markers goes after a day, and delete markers left alone go too."""
    properties = resources["OutputBucket"]["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    _, always = output_lifecycle_rules(resources)
    assert always["ExpireSettledMarkers"] == {
        "Id": "ExpireSettledMarkers",
        "Status": "Enabled",
        "Prefix": "partner-timeouts/",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    }
    assert always["RemoveExpiredDeleteMarkers"] == {
        "Id": "RemoveExpiredDeleteMarkers",
        "Status": "Enabled",
        "ExpiredObjectDeleteMarker": True,
    }


def test_only_the_input_prefix_notifies_the_queue(resources: dict[str, Any]) -> None:
    """Object creation under InputPrefix, and nothing else, reaches FusionQueue."""
    notification = resources["InputBucket"]["Properties"]["NotificationConfiguration"]
    assert notification == {
        "QueueConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Queue": getatt("FusionQueue"),
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": ref("InputPrefix")}]}},
            }
        ]
    }


def test_results_can_never_trigger_the_pipeline(
    resources: dict[str, Any], function_properties: dict[str, Any], parameters: dict[str, Any]
) -> None:
    """Results go to a distinct bucket with no notification, and never parse as inputs."""
    variables = function_properties["Environment"]["Variables"]
    assert variables["INPUT_BUCKET"] == ref("InputBucket")
    assert variables["OUTPUT_BUCKET"] == ref("OutputBucket")
    assert "NotificationConfiguration" not in resources["OutputBucket"]["Properties"]
    writes = [
        statement
        for statement in role_statements(resources["FusionFunctionRole"])
        if "s3:PutObject" in as_list(statement["Action"])
    ]
    assert writes
    assert all("${OutputBucket.Arn}/" in w["Resource"]["Fn::Sub"] for w in writes)

    input_prefix = parameters["InputPrefix"]["Default"]
    output_prefix = parameters["OutputPrefix"]["Default"]
    assert not input_prefix.startswith(output_prefix)
    assert not output_prefix.startswith(input_prefix)
    pair_pattern = re.compile(parameters["PairPattern"]["Default"])
    assert pair_pattern.match(f"{input_prefix}abc/target.jpg")
    assert not pair_pattern.match(f"{output_prefix}abc/target.jpg")


STACKS = [
    ("portrait-fusion", "us-east-1", "51af3dc0-da77-11e4-872e-1234567db123"),
    # Upper-case, maximal stack name and one of the longest region names.
    ("Portrait-Fusion-" + "X" * 112, "ap-southeast-5", "0a1b2c3d-0000-11ef-9f00-0123456789ab"),
]


def _pseudo(stack_name: str, region: str, stack_uuid: str) -> dict[str, str]:
    account = "123456789012"
    return {
        "AWS::StackName": stack_name,
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::StackId": (
            f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{stack_uuid}"
        ),
    }


@pytest.mark.parametrize(("stack_name", "region", "stack_uuid"), STACKS)
def test_input_bucket_name_is_valid_and_is_the_one_the_queue_policy_admits(
    resolver_for: ResolverFactory,
    resources: dict[str, Any],
    stack_name: str,
    region: str,
    stack_uuid: str,
) -> None:
    """The deterministic name that breaks the dependency cycle is legal for any stack."""
    resolve = resolver_for(_pseudo(stack_name, region, stack_uuid))
    bucket_name = resolve(resources["InputBucket"]["Properties"]["BucketName"])
    assert S3_BUCKET_NAME.match(bucket_name), bucket_name

    (statement,) = resources["FusionQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    source_arn = resolve(statement["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert source_arn == f"arn:aws:s3:::{bucket_name}"
    assert resources["InputBucket"]["DependsOn"] == "FusionQueuePolicy"


def test_input_bucket_names_differ_between_stacks(
    resolver_for: ResolverFactory, resources: dict[str, Any]
) -> None:
    """Two stacks in one account and region must not collide on the global bucket name."""
    names = {
        resolver_for(_pseudo("portrait-fusion", "us-east-1", uuid))(
            resources["InputBucket"]["Properties"]["BucketName"]
        )
        for uuid in ("51af3dc0-da77-11e4-872e-1234567db123", "7c0e1f22-da77-11e4-872e-1234567db123")
    }
    assert len(names) == 2


# ----------------------------------------------------------------------------- queues


def test_queue_policy_admits_only_the_input_bucket_of_this_account(
    resources: dict[str, Any],
) -> None:
    """S3 may send to the queue, only for the input bucket and only from the stack's account."""
    properties = resources["FusionQueuePolicy"]["Properties"]
    assert properties["Queues"] == [ref("FusionQueue")]
    (statement,) = properties["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == getatt("FusionQueue")
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ref("AWS::AccountId")}
    assert set(statement["Condition"]) == {"ArnEquals", "StringEquals"}


def test_queue_redrives_to_the_dlq_after_max_receive_count(
    resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    """Failed pairs end in FusionDLQ, kept longer than the source queue keeps messages."""
    queue = resources["FusionQueue"]["Properties"]
    dlq = resources["FusionDLQ"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": getatt("FusionDLQ"),
        "maxReceiveCount": ref("MaxReceiveCount"),
    }
    assert parameters["MaxReceiveCount"]["Default"] == 5
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["MessageRetentionPeriod"] < dlq["MessageRetentionPeriod"]


def test_visibility_timeout_is_at_least_six_function_timeouts(
    resources: dict[str, Any], function_properties: dict[str, Any]
) -> None:
    """A message stays hidden while its batch, retries included, can still be running."""
    visibility = resources["FusionQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= VISIBILITY_TO_TIMEOUT_RATIO * function_properties["Timeout"]


@pytest.mark.parametrize("queue_id", ["FusionQueue", "FusionDLQ"])
def test_queue_is_encrypted(resources: dict[str, Any], queue_id: str) -> None:
    """S3 keys of biometric uploads sit in these messages."""
    assert resources[queue_id]["Properties"]["SqsManagedSseEnabled"] is True


# ----------------------------------------------------------------------------- state and secret


def test_idempotency_table_is_on_demand_with_ttl(resources: dict[str, Any]) -> None:
    """The Powertools idempotency layout: key `id`, TTL on `expiration`, billed per request."""
    properties = resources["IdempotencyTable"]["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "pair_ref", "AttributeType": "S"},
    ]
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-pair",
            "KeySchema": [{"AttributeName": "pair_ref", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_api_key_secret_holds_a_placeholder_in_the_documented_shape(
    resources: dict[str, Any],
) -> None:
    """The stack creates the secret; the user replaces the value with put-secret-value."""
    secret = resources["ApiKeySecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert set(json.loads(secret["Properties"]["SecretString"])) == {"api_key"}


# ----------------------------------------------------------------------------- alarms


@pytest.mark.parametrize(
    ("alarm_id", "metric"),
    [
        ("DlqDepthAlarm", ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                           {"Name": "QueueName", "Value": getatt("FusionDLQ", "QueueName")})),
        ("FunctionErrorsAlarm", ("AWS/Lambda", "Errors",
                                 {"Name": "FunctionName", "Value": ref("FusionFunction")})),
        ("BudgetExhaustedAlarm", ("PortraitFusion", "BudgetExhausted",
                                  {"Name": "service", "Value": "portrait-fusion"})),
    ],
)  # fmt: skip
def test_alarm_fires_on_the_first_occurrence_and_notifies_the_alarm_topic(
    template: dict[str, Any],
    resources: dict[str, Any],
    alarm_id: str,
    metric: tuple[str, str, dict[str, Any]],
) -> None:
    """One message in the DLQ or one failed invocation is worth a look."""
    namespace, metric_name, dimension = metric
    properties = resources[alarm_id]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric_name)
    assert properties["Dimensions"] == [dimension]
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == [ALARM_TOPIC]
    assert properties["OKActions"] == [ALARM_TOPIC]
    assert template["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]
    }


# The given topic, or the stack's own: every alarm reaches someone who subscribed.
ALARM_TOPIC = {"Fn::If": ["HasAlarmTopic", ref("AlarmTopicArn"), ref("AlarmTopic")]}


@pytest.mark.parametrize(
    ("alarm_id", "metric", "threshold"),
    [
        ("FunctionThrottlesAlarm", ("AWS/Lambda", "Throttles",
                                    {"Name": "FunctionName", "Value": ref("FusionFunction")}), 1),
        ("QueueAgeAlarm", ("AWS/SQS", "ApproximateAgeOfOldestMessage",
                           {"Name": "QueueName", "Value": getatt("FusionQueue", "QueueName")}),
         ref("QueueAgeAlarmSeconds")),
    ],
)  # fmt: skip
def test_throttles_and_a_backed_up_queue_raise_alarms(
    resources: dict[str, Any], alarm_id: str, metric: tuple[str, str, Any], threshold: Any
) -> None:
    namespace, metric_name, dimension = metric
    properties = resources[alarm_id]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric_name)
    assert properties["Dimensions"] == [dimension]
    assert properties["Threshold"] == threshold
    assert properties["AlarmActions"] == [ALARM_TOPIC]


def test_the_stack_creates_its_alarm_topic_and_an_optional_e_mail_subscription(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert resources["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "Protocol": "email",
        "Endpoint": ref("AlarmEmail"),
        "TopicArn": ALARM_TOPIC,
    }
    assert template["Conditions"]["CreateAlarmTopic"] == {"Fn::Equals": [ref("AlarmTopicArn"), ""]}


def test_the_dashboard_shows_outcomes_failures_latency_queue_and_dlq(
    resources: dict[str, Any],
) -> None:
    body, names = resources["FusionDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = body
    for name in ("AWS::Region", "LogGroup", "QueueName", "DlqName", "FunctionName"):
        rendered = rendered.replace("${" + name + "}", "x")
    widgets = json.loads(rendered)["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert titles == [
        "Pairs by outcome",
        "Failures by code",
        "API latency (ms)",
        "Queue depth and age",
        "Dead-letter queue depth",
        "Function: concurrency, errors, throttles",
    ]
    latency = widgets[2]["properties"]["metrics"]
    assert [m[-1]["stat"] for m in latency] == ["p50", "p99"]
    assert names["DlqName"] == getatt("FusionDLQ", "QueueName")


def test_reserved_concurrency_caps_every_entry_point_at_max_concurrency(
    function_properties: dict[str, Any],
) -> None:
    """Queue, Batch Operations, async S3/EventBridge and ad-hoc invokes share one cap."""
    assert function_properties["ReservedConcurrentExecutions"] == ref("MaxConcurrency")
    queue = function_properties["Events"]["FusionQueueEvent"]["Properties"]
    assert queue["ScalingConfig"]["MaximumConcurrency"] == ref("MaxConcurrency")


# ----------------------------------------------------------------------------- parameters


def test_parameter_defaults(parameters: dict[str, Any]) -> None:
    """The defaults a `sam deploy --guided` user accepts by pressing Enter."""
    defaults = {name: parameter.get("Default") for name, parameter in parameters.items()}
    assert defaults == {
        "InputPrefix": "incoming/",
        "OutputPrefix": "results/",
        "PairPattern": (
            r"^incoming/(?P<pair>.+)/(?i:(?P<role>target|template))"
            r"\.(?i:jpe?g|png|bmp|heic|heif|avif|webp)$"
        ),
        "FusionApiUrl": "https://www.ailabapi.com/api/portrait/effects/face-fusion",
        "DefaultSourceSimilarity": "",
        "ApiTimeoutSeconds": 30,
        "ApiMaxAttempts": 4,
        "SecretMaxAgeSeconds": 300,
        "AutoFit": "true",
        "MaxConcurrency": 3,
        "BatchSize": 1,
        "PullFromQueue": "true",
        "MaxReceiveCount": 5,
        "InputRetentionDays": 7,
        "ResultRetentionDays": 30,
        "DailyCallBudget": 2000,
        "TenantDailyCallBudget": 0,
        "OwnerDailyCallBudget": 50,
        "ReuseIdenticalResults": "true",
        "ReuseAcrossOwners": "false",
        "LogRetentionDays": 30,
        "LogLevel": "INFO",
        "AlarmTopicArn": "",
        "AlarmEmail": "",
        "QueueAgeAlarmSeconds": 1800,
        "EventBusName": "default",
        "PartnerTimeoutMinutes": 1440,
        "EnableSnapStart": "false",
        "PartnerSweepMinutes": 15,
        "CompletionWebhookUrl": "",
        "CompletionWebhookToken": "",
        "PairApiAuth": "IAM",
        "JwtIssuer": "",
        "JwtAudience": "",
        "PairApiScopes": "",
        "PairApiThrottlingRateLimit": 10,
        "PairApiThrottlingBurstLimit": 20,
        "PairApiCorsOrigins": "",
        "CataloguePrefix": "catalogue/",
    }


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("FusionApiUrl", "https://127.0.0.1:8443/api/portrait/effects/face-fusion", True),
        ("FusionApiUrl", "http://www.ailabapi.com/api/portrait/effects/face-fusion", False),
        ("DefaultSourceSimilarity", "", True),
        ("DefaultSourceSimilarity", "0.6", True),
        ("DefaultSourceSimilarity", "1", True),
        ("DefaultSourceSimilarity", "1.5", False),
        ("DefaultSourceSimilarity", "-0.1", False),
        ("InputPrefix", "uploads/portraits/", True),
        ("InputPrefix", "incoming", False),
        ("InputPrefix", "/incoming/", False),
        ("InputPrefix", "in*/", False),
        ("OutputPrefix", "", False),
        ("AlarmTopicArn", "arn:aws:sns:eu-west-1:123456789012:ops-alerts", True),
        ("AlarmTopicArn", "arn:aws:sqs:eu-west-1:123456789012:ops-alerts", False),
        ("EventBusName", "", True),
        ("EventBusName", "orders-bus", True),
        ("EventBusName", "arn:aws:events:us-east-1:123456789012:event-bus/x", False),
        ("CompletionWebhookUrl", "", True),
        ("CompletionWebhookUrl", "https://hooks.example.com/pairs", True),
        ("CompletionWebhookUrl", "http://hooks.example.com/pairs", False),
    ],
)
def test_parameter_pattern_rejects_unsafe_values(
    parameters: dict[str, Any], name: str, value: str, accepted: bool
) -> None:
    """CloudFormation refuses the deploy, rather than the function failing at cold start."""
    pattern = parameters[name]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


def test_outputs_name_every_resource_a_user_or_test_looks_up(template: dict[str, Any]) -> None:
    """Integration tests and the README find the deployed resources from these outputs."""
    values = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert values == {
        "InputBucketName": ref("InputBucket"),
        "OutputBucketName": ref("OutputBucket"),
        "FusionQueueUrl": ref("FusionQueue"),
        "FusionDLQUrl": ref("FusionDLQ"),
        "FusionFunctionName": ref("FusionFunction"),
        "FusionFunctionArn": getatt("FusionFunction"),
        "FusionFunctionAliasArn": ref("FusionFunctionAliaslive"),
        "ApiKeySecretArn": ref("ApiKeySecret"),
        "IdempotencyTableName": ref("IdempotencyTable"),
        "BatchOperationsRoleArn": getatt("BatchOperationsRole"),
        "FusionDLQArn": getatt("FusionDLQ"),
        "AlarmTopicArnOutput": ALARM_TOPIC,
        "DashboardName": ref("FusionDashboard"),
        "PartnerSweepFunctionName": ref("PartnerSweepFunction"),
        "PairApiUrl": sub("https://${PairApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
    }


def test_samconfig_defaults_suit_a_guided_deploy(repo_root: Path) -> None:
    """`sam deploy --guided` starts from the project's stack name and needed capabilities."""
    config = tomllib.loads((repo_root / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config["default"]["global"]["parameters"] | config["default"]["deploy"]["parameters"]
    assert deploy["stack_name"] == "portrait-fusion"
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True


# ----------------------------------------------------------------------------- completion events


def test_event_publishing_is_granted_only_while_a_bus_is_named(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    """An empty EventBusName turns events off: no PutEvents grant on a bus named ''."""
    assert template["Conditions"]["HasEventBus"] == {
        "Fn::Not": [{"Fn::Equals": [ref("EventBusName"), ""]}]
    }
    for role_id in ("FusionFunctionRole", "PartnerSweepFunctionRole"):
        statements = resources[role_id]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        conditional = [s["Fn::If"] for s in statements if "Fn::If" in s]
        assert [(c[0], c[1]["Action"]) for c in conditional] == [
            ("HasEventBus", "events:PutEvents")
        ]


def test_the_sweep_runs_on_a_schedule_with_the_partner_timeout(
    resources: dict[str, Any],
) -> None:
    sweep = resources["PartnerSweepFunction"]["Properties"]
    assert sweep["Handler"] == "portrait_fusion.entry.sweep_handler.lambda_handler"
    assert sweep["Role"] == getatt("PartnerSweepFunctionRole")
    variables = sweep["Environment"]["Variables"]
    assert variables["PARTNER_TIMEOUT_MINUTES"] == ref("PartnerTimeoutMinutes")
    assert variables["EVENT_BUS_NAME"] == ref("EventBusName")
    assert variables["OUTPUT_PREFIX"] == ref("OutputPrefix")
    assert variables["PAIR_PATTERN"] == ref("PairPattern")
    schedule = sweep["Events"]["PartnerSweepSchedule"]
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == sub(
        "rate(${PartnerSweepMinutes} minutes)"
    )


def test_the_webhook_exists_only_with_a_url_and_forwards_every_pipeline_event(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    webhook = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if logical_id.startswith("CompletionWebhook")
    }
    assert {r["Type"] for r in webhook.values()} == {
        "AWS::Events::Connection",
        "AWS::Events::ApiDestination",
        "AWS::IAM::Role",
        "AWS::Events::Rule",
    }
    assert all(r["Condition"] == "HasCompletionWebhook" for r in webhook.values())
    condition = template["Conditions"]["HasCompletionWebhook"]["Fn::And"]
    assert {"Condition": "HasEventBus"} in condition
    destination = resources["CompletionWebhookDestination"]["Properties"]
    assert destination["InvocationEndpoint"] == ref("CompletionWebhookUrl")
    assert destination["HttpMethod"] == "POST"
    rule = resources["CompletionWebhookRule"]["Properties"]
    assert rule["EventBusName"] == ref("EventBusName")
    assert rule["EventPattern"] == {"source": ["portrait-fusion"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == getatt("CompletionWebhookDestination")
    assert target["RoleArn"] == getatt("CompletionWebhookRole")
    assert role_statements(resources["CompletionWebhookRole"]) == [
        {
            "Sid": "InvokeWebhook",
            "Effect": "Allow",
            "Action": "events:InvokeApiDestination",
            "Resource": getatt("CompletionWebhookDestination"),
        }
    ]


def test_snapstart_is_a_switch_on_the_alias_the_queue_invokes(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SnapStart only starts published versions from a snapshot: every deploy publishes one
    # behind `live`, the queue's mapping invokes that alias, and the switch is ApplyOn.
    from tests.template.test_cloudformation_deploy import transformed

    function = template["Resources"]["FusionFunction"]["Properties"]
    assert function["AutoPublishAlias"] == "live"
    assert function["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}
    }
    assert template["Conditions"]["SnapStartOn"] == {"Fn::Equals": [ref("EnableSnapStart"), "true"]}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM's pseudo parameters
    resources = transformed(template)["Resources"]
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert [m["Properties"]["FunctionName"] for m in mappings] == [ref("FusionFunctionAliaslive")]
