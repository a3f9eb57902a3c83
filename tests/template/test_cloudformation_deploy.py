"""The SAM-transformed template deployed to moto's CloudFormation, beside the drift test.

moto's CloudFormation accepts a template with resource types it does not model by skipping
them with a warning; those types are listed here, so a new resource moto would drop, or one
it starts to model, changes this test.
"""

from __future__ import annotations

import copy
import io
import json
import time
import warnings
import zipfile
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from local_stack.aws import MotoServer, local_client, start_moto

STACK = "deploy-check"
CODE_BUCKET = "deploy-check-artifacts"
# Resource types of the transformed template that moto 5.2 does not model (skipped, warned).
NOT_MODELLED_BY_MOTO = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Alias",
    "AWS::S3::BucketPolicy",
    "AWS::Scheduler::Schedule",
    "AWS::SNS::Subscription",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
}


class _NoManagedPolicies:
    """The template attaches no managed policies: SAM never needs to look one up."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def moto() -> Any:
    server: MotoServer = start_moto()
    yield server
    server.stop()


def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation receives it after `sam deploy`: code in S3, SAM expanded."""
    source = copy.deepcopy(template)
    for resource in source["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/function.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://{CODE_BUCKET}/layer.zip"
    result: dict[str, Any] = transform(source, {}, _NoManagedPolicies())
    return result


def without_aliases(template: dict[str, Any]) -> dict[str, Any]:
    """`template` with every Ref to a Lambda alias made a Ref to the alias' function.

    moto skips `AWS::Lambda::Alias` (a Ref to it would name nothing, failing the queue's
    event source mapping), so here the mapping is created on the function itself; that it
    targets the alias in AWS is `test_template.py`'s check.
    """
    aliases = {
        logical_id: resource["Properties"]["FunctionName"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Alias"
    }

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in aliases:
                return copy.deepcopy(aliases[node["Ref"]])
            return {key: swap(value) for key, value in node.items()}
        if isinstance(node, list):
            return [swap(item) for item in node]
        return node

    return {
        **template,
        "Resources": {
            logical_id: resource if logical_id in aliases else swap(resource)
            for logical_id, resource in template["Resources"].items()
        },
        "Outputs": swap(template.get("Outputs", {})),
    }


def client(moto: MotoServer, service: str) -> Any:
    return local_client(service, moto.endpoint_url)


def zipped(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def test_every_resource_of_the_transformed_template_deploys(
    moto: MotoServer, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM's pseudo parameters
    body = transformed(template)
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    for key in ("function.zip", "layer.zip"):
        s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=zipped("handler.py", "def h(e, c): ..."))
    cfn = client(moto, "cloudformation")
    with warnings.catch_warnings(record=True) as skipped:
        warnings.simplefilter("always")
        cfn.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(without_aliases(body)),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            Parameters=[{"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.com"}],
        )
        status = _settled_status(cfn)
    assert status == "CREATE_COMPLETE"
    # Every resource applies with these parameters (the e-mail subscription included), but
    # the JWT authorizer (the Pair API defaults to IAM auth) and the completion webhook (no
    # CompletionWebhookUrl given).
    declared = {
        logical_id: resource["Type"]
        for logical_id, resource in body["Resources"].items()
        if resource.get("Condition") not in {"UseJwtAuth", "HasCompletionWebhook"}
    }
    created = {
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }
    missing = {
        logical_id: kind for logical_id, kind in declared.items() if logical_id not in created
    }
    # Whatever was not created, moto said it skipped as a type it does not model: nothing
    # failed, and nothing else was dropped.
    warned = {
        kind for kind in NOT_MODELLED_BY_MOTO for w in skipped if f"parse {kind} " in str(w.message)
    }
    assert set(missing.values()) == warned == NOT_MODELLED_BY_MOTO, missing
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=STACK)["Stacks"][0].get("Outputs", [])
    }
    assert outputs["FusionDLQArn"].startswith("arn:aws:sqs:us-east-1:")
    assert outputs["AlarmTopicArnOutput"].startswith("arn:aws:sns:us-east-1:")


def _settled_status(cfn: Any) -> str:
    for _ in range(100):
        status = str(cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"])
        if not status.endswith("IN_PROGRESS"):
            return status
        time.sleep(0.1)
    return status
