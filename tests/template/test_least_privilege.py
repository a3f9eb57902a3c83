"""The function's S3 and SQS calls under moto's IAM enforcement, with exactly the role's policy.

moto enforces IAM for S3 and SQS (per resource). The role's S3 and SQS statements are taken
from template.yaml, resolved for one deployment, and attached to a moto user; the function's
own adapters (`S3Storage`, `SqsQueues`) then make every call the function makes, and calls it
must not be able to make. Enforcement is switched on only around those calls: the rest of the
tier shares the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication

from local_stack.aws import MotoServer, start_moto
from portrait_fusion.aws.storage import ObjectRef, S3Storage
from portrait_fusion.core.errors import FusionError
from portrait_fusion.entry.sqs_queues import SqsQueues

REGION = "us-east-1"
ACCOUNT = "123456789012"
INPUT, OUTPUT = "lp-input", "lp-output"
QUEUE, OTHER_QUEUE = "lp-queue", "lp-other-queue"
VALUES = {
    "InputBucket.Arn": f"arn:aws:s3:::{INPUT}",
    "OutputBucket.Arn": f"arn:aws:s3:::{OUTPUT}",
    "FusionQueue.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}",
    "InputPrefix": "incoming/",
    "OutputPrefix": "results/",
}


def resolve(node: Any, values: Mapping[str, str]) -> Any:
    """The policy's intrinsics (Ref, GetAtt, Sub) evaluated for one deployment."""
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::GetAtt"}:
        return values[".".join(node["Fn::GetAtt"])]
    if set(node) == {"Ref"}:
        return values[node["Ref"]]
    if set(node) == {"Fn::Sub"}:
        text = node["Fn::Sub"]
        for name, value in values.items():
            text = text.replace("${" + name + "}", value)
        assert "${" not in text, text
        return text
    return {key: resolve(value, values) for key, value in node.items()}


def s3_and_sqs_statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = resources["FusionFunctionRole"]["Properties"]["Policies"]
    # A conditional statement (`!If [c, statement, !Ref AWS::NoValue]`) counts as granted.
    statements = [
        s["Fn::If"][1] if "Fn::If" in s else s for s in policy["PolicyDocument"]["Statement"]
    ]
    enforced = [s for s in statements if all(a.split(":")[0] in {"s3", "sqs"} for a in _actions(s))]
    return [resolve(s, VALUES) for s in enforced]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


@pytest.fixture(scope="module")
def moto_iam() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


def session_client(moto: MotoServer, service: str, keys: Mapping[str, str]) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=moto.endpoint_url,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
    )


@pytest.fixture(scope="module")
def role_keys(moto_iam: MotoServer, resources: dict[str, Any]) -> dict[str, Any]:
    """Buckets, queues and objects, and the keys of a user holding exactly the role's policy."""
    admin = {"AccessKeyId": "testing", "SecretAccessKey": "testing"}
    s3 = session_client(moto_iam, "s3", admin)
    for bucket in (INPUT, OUTPUT):
        s3.create_bucket(Bucket=bucket)
    for bucket, key in [
        (INPUT, "incoming/p/target.jpg"),
        (INPUT, "elsewhere/p/target.jpg"),
        (OUTPUT, "results/p/result.json"),
        (OUTPUT, "batch-operations/reports/r.json"),
    ]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    sqs = session_client(moto_iam, "sqs", admin)
    urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in (QUEUE, OTHER_QUEUE)}
    for url in urls.values():
        sqs.send_message(QueueUrl=url, MessageBody="{}")
    iam = session_client(moto_iam, "iam", admin)
    iam.create_user(UserName="fusion-function")
    iam.put_user_policy(
        UserName="fusion-function",
        PolicyName="fusion-function",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": s3_and_sqs_statements(resources)}
        ),
    )
    keys: dict[str, Any] = iam.create_access_key(UserName="fusion-function")["AccessKey"]
    handles = {
        name: sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
        for name, url in urls.items()
    }
    return {"keys": keys, "handles": handles}


def allowed(call: Any) -> bool:
    try:
        call()
    except FusionError:
        return False
    except Exception as exc:  # botocore's ClientError for the SQS adapter's raw calls
        if "AccessDenied" in str(exc) or "not authorized" in str(exc):
            return False
        raise
    return True


def test_the_role_allows_every_call_the_function_makes_and_nothing_near_it(
    moto_iam: MotoServer, role_keys: dict[str, Any]
) -> None:
    keys = role_keys["keys"]
    storage = S3Storage(lambda: session_client(moto_iam, "s3", keys))
    queues = SqsQueues(lambda: session_client(moto_iam, "sqs", keys))
    queue_arn = VALUES["FusionQueue.Arn"]
    other_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{OTHER_QUEUE}"
    handles = role_keys["handles"]
    calls = {
        "list the input prefix": lambda: storage.list_keys(INPUT, "incoming/p/"),
        "find an input": lambda: storage.exists(ObjectRef(INPUT, "incoming/p/target.jpg")),
        "read an input": lambda: storage.fetch(ObjectRef(INPUT, "incoming/p/target.jpg"), 99),
        "write a result": lambda: storage.write(OUTPUT, "results/p/x.jpg", b"x", "image/jpeg"),
        "find a stored document": lambda: storage.exists(
            ObjectRef(OUTPUT, "results/p/result.json")
        ),
        "read a stored document": lambda: storage.fetch(
            ObjectRef(OUTPUT, "results/p/result.json"), 99
        ),
        "read the queue's limits": lambda: queues.limits(queue_arn),
        "set a hand-back's visibility": lambda: queues.change_visibility(
            queue_arn, handles[QUEUE], 5
        ),
        "pull the queue's next message": lambda: queues.receive(queue_arn, 5),
        "delete a pulled message": lambda: queues.delete(queue_arn, handles[QUEUE]),
        # and what it must not do
        "read outside the input prefix": lambda: storage.fetch(
            ObjectRef(INPUT, "elsewhere/p/target.jpg"), 99
        ),
        "write to the input bucket": lambda: storage.write(INPUT, "incoming/p/x.jpg", b"x", "x"),
        "write outside the output prefix": lambda: storage.write(
            OUTPUT, "batch-operations/reports/r.json", b"x", "x"
        ),
        "read a Batch Operations report": lambda: storage.fetch(
            ObjectRef(OUTPUT, "batch-operations/reports/r.json"), 99
        ),
        "touch another queue": lambda: queues.change_visibility(other_arn, handles[OTHER_QUEUE], 5),
        "pull from another queue": lambda: queues.receive(other_arn, 5),
        "delete from another queue": lambda: queues.delete(other_arn, handles[OTHER_QUEUE]),
    }
    with enable_iam_authentication():
        verdicts = {name: allowed(call) for name, call in calls.items()}
    expected_denied = {
        "read outside the input prefix",
        "write to the input bucket",
        "write outside the output prefix",
        "read a Batch Operations report",
        "touch another queue",
        "pull from another queue",
        "delete from another queue",
    }
    assert {name for name, ok in verdicts.items() if not ok} == expected_denied, verdicts
