"""The local stack is provisioned from template.yaml: this holds the two together.

The expected values are read from the template here, independently of local_stack.cfn,
so a change on either side that makes them disagree fails this test.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.aws import LocalStack, MotoServer, local_client, provision, start_moto

API_KEY = "drift-test-key"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with start_moto() as server:
        yield server


@pytest.fixture(scope="module")
def stack(moto: MotoServer, repo_root: Path) -> LocalStack:
    # moto's state is per process: a unique prefix keeps other tiers' stacks apart.
    return provision(
        moto.endpoint_url,
        repo_root / "template.yaml",
        api_key=API_KEY,
        names_prefix=f"drift-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture(scope="module")
def client(moto: MotoServer) -> Any:
    return lambda service: local_client(service, moto.endpoint_url)


@pytest.fixture(scope="module")
def default(parameters: dict[str, Any]) -> Any:
    """A template value with a `Ref` to a parameter replaced by that parameter's default."""

    def value(node: Any) -> str:
        if isinstance(node, dict):
            return str(parameters[node["Ref"]]["Default"])
        return str(node)

    return value


def test_the_input_bucket_notifies_the_queue_for_the_templates_events_and_prefix(
    stack: LocalStack, client: Any, resources: dict[str, Any], default: Any
) -> None:
    declared = resources["InputBucket"]["Properties"]["NotificationConfiguration"]
    expected = [
        (
            "FusionQueue",
            [entry["Event"]],
            {rule["Name"]: default(rule["Value"]) for rule in entry["Filter"]["S3Key"]["Rules"]},
        )
        for entry in declared["QueueConfigurations"]
    ]
    assert all(
        entry["Queue"] == {"Fn::GetAtt": ["FusionQueue", "Arn"]}
        for entry in declared["QueueConfigurations"]
    )
    actual = client("s3").get_bucket_notification_configuration(Bucket=stack.input_bucket)
    assert [
        (
            "FusionQueue" if queue["QueueArn"] == stack.queue_arn else queue["QueueArn"],
            queue["Events"],
            {rule["Name"].lower(): rule["Value"] for rule in queue["Filter"]["Key"]["FilterRules"]},
        )
        for queue in actual["QueueConfigurations"]
    ] == expected


def test_bucket_versioning_and_notifications_match(
    stack: LocalStack, client: Any, resources: dict[str, Any]
) -> None:
    s3 = client("s3")
    for logical_id, name in (
        ("InputBucket", stack.input_bucket),
        ("OutputBucket", stack.output_bucket),
    ):
        properties = resources[logical_id]["Properties"]
        status = s3.get_bucket_versioning(Bucket=name).get("Status")
        assert status == properties.get("VersioningConfiguration", {}).get("Status")
        notifications = s3.get_bucket_notification_configuration(Bucket=name)
        assert ("QueueConfigurations" in notifications) == (
            "NotificationConfiguration" in properties
        )


def test_the_queue_has_the_templates_timeout_retention_and_redrive(
    stack: LocalStack, client: Any, resources: dict[str, Any], default: Any
) -> None:
    sqs = client("sqs")
    for url, logical_id in ((stack.queue_url, "FusionQueue"), (stack.dlq_url, "FusionDLQ")):
        properties = resources[logical_id]["Properties"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if name in properties:
                assert attributes[name] == str(properties[name]), (logical_id, name)
    queue = resources["FusionQueue"]["Properties"]
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=stack.dlq_url, AttributeNames=["QueueArn"])
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["FusionDLQ", "Arn"]}
    assert redrive["deadLetterTargetArn"] == dlq_arn["Attributes"]["QueueArn"]
    assert str(redrive["maxReceiveCount"]) == default(queue["RedrivePolicy"]["maxReceiveCount"])
    assert stack.max_receive_count == int(redrive["maxReceiveCount"])
    assert stack.visibility_timeout == queue["VisibilityTimeout"]


def test_the_idempotency_table_has_the_templates_key_and_ttl(
    stack: LocalStack, client: Any, resources: dict[str, Any]
) -> None:
    declared = resources["IdempotencyTable"]["Properties"]
    dynamodb = client("dynamodb")
    table = dynamodb.describe_table(TableName=stack.table_name)["Table"]
    assert table["KeySchema"] == declared["KeySchema"]
    assert table["AttributeDefinitions"] == declared["AttributeDefinitions"]
    indexes = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in table.get("GlobalSecondaryIndexes", [])
    }
    assert indexes == {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in declared.get("GlobalSecondaryIndexes", [])
    }
    assert "by-pair" in indexes  # erasure queries it
    assert table["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    ttl = dynamodb.describe_time_to_live(TableName=stack.table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == declared["TimeToLiveSpecification"]["AttributeName"]
    assert (ttl["TimeToLiveStatus"] == "ENABLED") == declared["TimeToLiveSpecification"]["Enabled"]


def test_the_api_key_secret_holds_the_given_key(
    stack: LocalStack, client: Any, resources: dict[str, Any]
) -> None:
    assert resources["ApiKeySecret"]["Type"] == "AWS::SecretsManager::Secret"
    secret = client("secretsmanager").get_secret_value(SecretId=stack.secret_id)
    assert json.loads(secret["SecretString"]) == {"api_key": API_KEY}


def test_the_function_environment_has_exactly_the_templates_variables(
    stack: LocalStack, template: dict[str, Any], function_properties: dict[str, Any], default: Any
) -> None:
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    declared = {
        **globals_env.get("Variables", {}),
        **function_properties["Environment"]["Variables"],
    }
    assert set(stack.function_env) == set(declared)
    local_names = {
        "InputBucket": stack.input_bucket,
        "OutputBucket": stack.output_bucket,
        "IdempotencyTable": stack.table_name,
        "ApiKeySecret": stack.secret_id,
    }
    for name, value in declared.items():
        reference = value.get("Ref") if isinstance(value, dict) else None
        expected = local_names[reference] if reference in local_names else default(value)
        assert stack.function_env[name] == expected, name


def test_the_function_and_its_queue_event_settings_come_from_the_template(
    stack: LocalStack, function_properties: dict[str, Any], default: Any
) -> None:
    event = function_properties["Events"]["FusionQueueEvent"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["FusionQueue", "Arn"]}
    assert stack.batch_size == int(default(event["Properties"]["BatchSize"]))
    maximum = event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    assert stack.max_concurrency == int(default(maximum))
    assert stack.function_timeout == function_properties["Timeout"]
    assert stack.memory_size == function_properties["MemorySize"]
    assert stack.handler == function_properties["Handler"]
