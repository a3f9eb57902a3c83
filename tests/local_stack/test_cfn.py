"""The local stack's reading of CloudFormation templates."""

from typing import Any

import cfn_tools  # type: ignore[import-untyped]
import pytest

from local_stack.cfn import Template, TemplateError

TEMPLATE = """
Parameters:
  Prefix:
    Type: String
    Default: incoming/
    AllowedPattern: "^[a-z]+/$"
  Retries:
    Type: Number
    Default: 5
    MinValue: 1
    MaxValue: 10
  Flag:
    Type: String
    Default: true
    AllowedValues: ["true", "false"]
  Topic:
    Type: String
    Default: ""
Conditions:
  HasTopic: !Not [!Equals [!Ref Topic, ""]]
  FlagOn: !Equals [!Ref Flag, "true"]
  Both: !And [!Condition HasTopic, !Condition FlagOn]
Globals:
  Function:
    Timeout: 30
    MemorySize: 256
    Environment:
      Variables:
        SHARED: from-globals
        LEVEL: INFO
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Queue:
    Type: AWS::SQS::Queue
  Layer:
    Type: AWS::Serverless::LayerVersion
  Function:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 60
      Layers: [!Ref Layer]
      Environment:
        Variables:
          LEVEL: DEBUG
          BUCKET: !Ref Bucket
          QUEUE_ARN: !GetAtt Queue.Arn
          KEYS: !Sub "${Bucket.Arn}/${Prefix}*"
          WHERE: !Sub "${AWS::Region}:${AWS::AccountId}:${AWS::StackName}"
          RETRIES: !Ref Retries
          JOINED: !Join ["-", [a, !Ref Retries, !Ref Flag]]
          TOPIC: !If [HasTopic, !Ref Topic, none]
          BOTH: !If [Both, both, not-both]
          OPTIONAL: !If [HasTopic, !Ref Topic, !Ref AWS::NoValue]
      Actions: !If [HasTopic, [!Ref Topic], !Ref AWS::NoValue]
"""


def template(overrides: dict[str, str] | None = None, text: str = TEMPLATE) -> Template:
    return Template(
        cfn_tools.load_yaml(text),
        overrides=overrides,
        stack_name="stack",
        region="eu-west-1",
        account_id="123456789012",
    )


def registered(overrides: dict[str, str] | None = None) -> Template:
    result = template(overrides)
    result.register("Bucket", "local-bucket", Arn="arn:aws:s3:::local-bucket")
    result.register("Queue", "http://queue", Arn="arn:aws:sqs:eu-west-1:123456789012:q")
    return result


def variables(result: Template) -> dict[str, Any]:
    env: dict[str, Any] = result.properties("Function", "Environment")["Environment"]["Variables"]
    return env


def test_parameters_take_defaults_as_cloudformation_renders_them() -> None:
    assert template().parameters == {
        "Prefix": "incoming/",
        "Retries": "5",
        "Flag": "true",
        "Topic": "",
    }


def test_references_resolve_to_parameters_pseudo_parameters_and_local_resources() -> None:
    env = variables(registered())
    assert env["BUCKET"] == "local-bucket"
    assert env["QUEUE_ARN"] == "arn:aws:sqs:eu-west-1:123456789012:q"
    assert env["KEYS"] == "arn:aws:s3:::local-bucket/incoming/*"
    assert env["WHERE"] == "eu-west-1:123456789012:stack"
    assert env["RETRIES"] == "5"
    assert env["JOINED"] == "a-5-true"


def test_sub_keeps_escaped_literals_and_uses_its_own_variables() -> None:
    result = registered()
    resolved = result.resolve({"Fn::Sub": ["${!NotAVariable}-${Mine}", {"Mine": "m"}]})
    assert resolved == "${NotAVariable}-m"


def test_globals_merge_under_the_functions_own_properties() -> None:
    result = registered()
    properties = result.properties("Function", "Timeout", "MemorySize", "Environment")
    assert (properties["Timeout"], properties["MemorySize"]) == (60, 256)
    env = properties["Environment"]["Variables"]
    assert (env["SHARED"], env["LEVEL"]) == ("from-globals", "DEBUG")


@pytest.mark.parametrize(
    ("overrides", "topic", "both", "optional"),
    [
        ({}, "none", "not-both", None),
        ({"Topic": "t"}, "t", "both", "t"),
        ({"Topic": "t", "Flag": "false"}, "t", "not-both", "t"),
    ],
)
def test_conditions_pick_branches_and_no_value_removes_the_key(
    overrides: dict[str, str], topic: str, both: str, optional: str | None
) -> None:
    result = registered(overrides)
    env = variables(result)
    assert (env["TOPIC"], env["BOTH"], env.get("OPTIONAL")) == (topic, both, optional)
    assert ("Actions" in result.properties("Function", "Actions")) == (optional is not None)


def test_only_the_requested_properties_are_resolved() -> None:
    # Layers refers to a resource the local stack never creates: untouched unless asked.
    result = registered()
    assert set(result.properties("Function", "Timeout")) == {"Timeout"}
    with pytest.raises(TemplateError, match="Layer, which the local stack does not provision"):
        result.properties("Function", "Layers")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Nope": "x"}, "undeclared parameters: Nope"),
        ({"Prefix": "Upper/"}, "does not match"),
        ({"Retries": "11"}, "outside"),
        ({"Retries": "many"}, "not a number"),
        ({"Flag": "yes"}, "is not one of"),
    ],
)
def test_overrides_cloudformation_would_refuse_are_refused(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        template(overrides)


def test_a_parameter_without_default_needs_an_override() -> None:
    text = "Parameters:\n  Key:\n    Type: String\n"
    with pytest.raises(TemplateError, match="Key has no default"):
        template(text=text)
    assert template({"Key": "v"}, text=text).parameters == {"Key": "v"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Queue"}, "Queue, which the local stack does not provision"),
        ({"Ref": "Ghost"}, "Ghost, which the template does not declare"),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "Bucket, which the local stack does not provision"),
        ({"Fn::FindInMap": ["M", "k", "v"]}, "Fn::FindInMap at here is not supported"),
        ({"Fn::If": ["Missing", 1, 2]}, "no condition Missing"),
    ],
)
def test_what_cannot_be_resolved_locally_fails_with_a_clear_error(
    value: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        template().resolve(value, "here")
