"""The AWS side of the local stack: a moto server provisioned from template.yaml.

``provision`` reads the resources the function depends on out of the template (see
:mod:`local_stack.cfn`) and creates them with boto3 against the moto endpoint, so the local
buckets, notification filter, queue + redrive, table and secret cannot drift from what
``sam deploy`` creates.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local_stack.account import REGION
from local_stack.cfn import Template, TemplateError, is_true, to_text
from local_stack.event_bus import subscribe_queue
from local_stack.http_api import HttpApi, read_http_api
from local_stack.request_log import RequestLog
from local_stack.running import Stopping
from local_stack.sweep import SweepFunction, sweep_function

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
FUNCTION_ID = "FusionFunction"
PAIR_API_FUNCTION_ID = "PairApiFunction"
SQS_EVENT_ID = "FusionQueueEvent"
# SAM's defaults when the template leaves these out.
DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_BATCH_SIZE = 10
QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "VisibilityTimeout",
)
# The CreateTable arguments that shape behaviour; encryption, PITR and tags change nothing here.
TABLE_SHAPE = (
    "AttributeDefinitions",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "KeySchema",
    "LocalSecondaryIndexes",
    "ProvisionedThroughput",
)


def aws_env(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """Environment variables that point any AWS SDK or the AWS CLI at the local stack."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        **DUMMY_CREDENTIALS,
    }


def local_client(service: str, endpoint_url: str, region: str = REGION, **options: Any) -> Any:
    """A boto3 client for ``service`` on a local endpoint, with the dummy credentials.

    Each call makes a new client (callers may hook its events), from a session kept per
    thread and region: a new session reads botocore's models again (~100 ms of CPU, against
    ~5 ms for a client of a warm one), and a session is not safe to share between threads.
    """
    sessions: dict[str, boto3.Session] = _SESSIONS.__dict__.setdefault("by_region", {})
    session = sessions.get(region)
    if session is None:
        session = sessions[region] = boto3.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
    return session.client(service, endpoint_url=endpoint_url, **options)  # type: ignore[call-overload]


_SESSIONS = threading.local()


class MotoServer(Stopping):
    """moto's threaded server on 127.0.0.1; a context manager.

    moto keeps its state per process, not per server: two servers in one process share
    every resource, so callers wanting isolation use distinct names. With
    ``log_requests=True``, ``request_log`` can record every request served (a benchmark
    counts a handler's round trips with it).
    """

    def __init__(self, port: int = 0, *, log_requests: bool = False) -> None:
        # ThreadedMotoServer reports the port it bound, but only port 0 can't collide.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._log_requests = log_requests
        self.request_log: RequestLog | None = None
        self.endpoint_url = ""

    def start(self) -> None:
        """Serve in a daemon thread; returns once the socket is listening."""
        # werkzeug logs every request at INFO; the ESM's long polls would flood the console.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        if self._log_requests:
            # ThreadedMotoServer builds its WSGI app inside start(); werkzeug's handlers
            # read `server.app` per request, so wrapping it now covers every request.
            wsgi = self._server._server
            assert wsgi is not None
            self.request_log = RequestLog(wsgi.app)
            wsgi.app = self.request_log
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        self._server.stop()


def start_moto(port: int = 0, *, log_requests: bool = False) -> MotoServer:
    """Start a moto server on 127.0.0.1 (``port=0``: a free port)."""
    if port:
        _check_port_free(port)
    server = MotoServer(port, log_requests=log_requests)
    server.start()
    return server


def _check_port_free(port: int) -> None:
    # werkzeug would fail inside moto's thread and leave start() waiting forever. It binds
    # with SO_REUSEADDR, so the probe does too: a port in TIME_WAIT is usable.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise OSError(f"port {port} on 127.0.0.1 is in use: {exc.strerror}") from exc


@dataclass(frozen=True)
class LocalStack:
    """Names and settings of the provisioned stack, as the function and the ESM need them."""

    endpoint_url: str
    region: str
    account_id: str
    """The endpoint's own account (STS GetCallerIdentity): moto's, LocalStack's, yours."""
    input_bucket: str
    output_bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    table_name: str
    secret_id: str
    function_env: dict[str, str]
    handler: str
    function_timeout: int
    memory_size: int
    visibility_timeout: int
    max_receive_count: int
    batch_size: int
    max_concurrency: int
    pair_api_env: dict[str, str]
    """PairApiFunction's environment, as the template declares it."""
    pair_api_gateway: HttpApi
    """The Pair API's routes and throttling, as the template declares them in JWT mode."""
    events_queue_url: str | None = None
    """Where the rule on EVENT_BUS_NAME delivers every pipeline event; None with no bus."""
    sweep: SweepFunction | None = None
    """The partner-timeout sweep's handler and schedule."""
    reserved_concurrency: int | None = None
    """ReservedConcurrentExecutions: the cap on every invoke path; None when unset."""

    def client(self, service: str, **options: Any) -> Any:
        """A boto3 client for ``service`` on this stack's endpoint, with the dummy credentials."""
        return local_client(service, self.endpoint_url, self.region, **options)


def account_of(endpoint_url: str) -> str:
    """The account id of the caller on ``endpoint_url`` (STS GetCallerIdentity)."""
    account: str = local_client("sts", endpoint_url).get_caller_identity()["Account"]
    return account


def queue_arn(sqs: Any, url: str) -> str:
    """A queue's ARN, as the queue itself tells it."""
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


def provision(
    endpoint_url: str,
    template_path: str | Path = "template.yaml",
    *,
    api_key: str,
    overrides: dict[str, str] | None = None,
    names_prefix: str = "portrait-fusion",
    visibility_timeout: int | None = None,
) -> LocalStack:
    """Create the template's buckets, queues, table and secret on ``endpoint_url``.

    ``overrides`` are parameter overrides, as for ``sam deploy --parameter-overrides``;
    ``visibility_timeout`` replaces the queue's, so tests can see retries within seconds.
    Names are ``<names_prefix>-input``, ``-output``, ``-queue``, ``-dlq``, ``-idempotency``
    and ``<names_prefix>/api-key``. ARNs carry the endpoint's own account id, as STS tells
    it, so any AWS implementation serves. As S3 does, moto queues an ``s3:TestEvent``
    message when the notification is set up; it is left on the queue. Raises
    :class:`TemplateError` when the template holds something that cannot be reproduced
    locally.
    """

    def client(service: str) -> Any:
        return local_client(service, endpoint_url)

    account_id = account_of(endpoint_url)
    template = Template.load(
        template_path,
        overrides=overrides,
        stack_name=names_prefix,
        region=REGION,
        account_id=account_id,
    )

    sqs = client("sqs")
    dlq_url = _create_queue(sqs, template, "FusionDLQ", f"{names_prefix}-dlq", {})
    queue_url = _create_queue(
        sqs,
        template,
        "FusionQueue",
        f"{names_prefix}-queue",
        {} if visibility_timeout is None else {"VisibilityTimeout": str(visibility_timeout)},
    )
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    s3 = client("s3")
    output_bucket = _create_bucket(s3, template, "OutputBucket", f"{names_prefix}-output")
    input_bucket = _create_bucket(s3, template, "InputBucket", f"{names_prefix}-input")
    table_name = _create_table(client("dynamodb"), template, f"{names_prefix}-idempotency")
    secret_id = _create_secret(
        client("secretsmanager"), template, f"{names_prefix}/api-key", api_key
    )

    function = template.properties(
        FUNCTION_ID,
        "Handler",
        "Timeout",
        "MemorySize",
        "Environment",
        "Events",
        "ReservedConcurrentExecutions",
    )
    event = _sqs_event_properties(function, queue["QueueArn"])
    variables = function.get("Environment", {}).get("Variables", {})
    bus_name = to_text(variables.get("EVENT_BUS_NAME", ""))
    events_queue_url = (
        subscribe_queue(client("events"), sqs, bus_name, names_prefix) if bus_name else None
    )
    pair_api = template.properties(PAIR_API_FUNCTION_ID, "Environment")
    return LocalStack(
        endpoint_url=endpoint_url,
        region=REGION,
        account_id=account_id,
        input_bucket=input_bucket,
        output_bucket=output_bucket,
        queue_url=queue_url,
        queue_arn=queue["QueueArn"],
        dlq_url=dlq_url,
        table_name=table_name,
        secret_id=secret_id,
        function_env={name: to_text(value) for name, value in variables.items()},
        handler=function["Handler"],
        function_timeout=int(function.get("Timeout", DEFAULT_TIMEOUT_S)),
        memory_size=int(function.get("MemorySize", DEFAULT_MEMORY_MB)),
        visibility_timeout=int(queue["VisibilityTimeout"]),
        max_receive_count=int(json.loads(queue["RedrivePolicy"])["maxReceiveCount"]),
        batch_size=int(event.get("BatchSize", DEFAULT_BATCH_SIZE)),
        max_concurrency=int(event["ScalingConfig"]["MaximumConcurrency"]),
        events_queue_url=events_queue_url,
        sweep=sweep_function(template),
        reserved_concurrency=(
            int(function["ReservedConcurrentExecutions"])
            if "ReservedConcurrentExecutions" in function
            else None
        ),
        pair_api_env={
            name: to_text(value)
            for name, value in pair_api.get("Environment", {}).get("Variables", {}).items()
        },
        pair_api_gateway=read_http_api(
            template.document,
            overrides=overrides,
            stack_name=names_prefix,
            region=REGION,
            account_id=account_id,
        ),
    )


def _create_queue(
    sqs: Any, template: Template, logical_id: str, name: str, overrides: dict[str, str]
) -> str:
    # These AWS::SQS::Queue properties are also the SQS attribute names; encryption is
    # left out as it changes nothing locally.
    properties = template.properties(logical_id, *QUEUE_ATTRIBUTES)
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else to_text(value)
        for key, value in properties.items()
    }
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes | overrides)["QueueUrl"]
    arn = queue_arn(sqs, url)
    template.register(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)
    return url


def _create_bucket(s3: Any, template: Template, logical_id: str, name: str) -> str:
    properties = template.properties(
        logical_id, "VersioningConfiguration", "NotificationConfiguration"
    )
    s3.create_bucket(Bucket=name)
    template.register(
        logical_id,
        name,
        Arn=f"arn:aws:s3:::{name}",
        DomainName=f"{name}.s3.amazonaws.com",
        RegionalDomainName=f"{name}.s3.{REGION}.amazonaws.com",
    )
    versioning = properties.get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
        )
    notifications = properties.get("NotificationConfiguration")
    if notifications:
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration=_notification_configuration(notifications, logical_id),
        )
    return name


def _notification_configuration(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """CloudFormation's shape (one Event per entry, S3Key.Rules) to the S3 API's."""
    unsupported = sorted(set(cfn) - {"QueueConfigurations"})
    if unsupported:
        raise TemplateError(
            f"{logical_id}: notification kinds {unsupported} are not emulated locally"
        )
    queues = []
    for entry in cfn["QueueConfigurations"]:
        queue: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            queue["Filter"] = {
                "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
            }
        queues.append(queue)
    return {"QueueConfigurations": queues}


def _create_table(dynamodb: Any, template: Template, name: str) -> str:
    shape = template.properties("IdempotencyTable", *TABLE_SHAPE)
    ttl = template.properties("IdempotencyTable", "TimeToLiveSpecification").get(
        "TimeToLiveSpecification"
    )
    table = dynamodb.create_table(TableName=name, **shape)["TableDescription"]
    template.register("IdempotencyTable", name, Arn=table["TableArn"])
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": is_true(ttl.get("Enabled", False)),
            },
        )
    return name


def _create_secret(secrets: Any, template: Template, name: str, api_key: str) -> str:
    template.resource("ApiKeySecret")
    arn: str = secrets.create_secret(Name=name, SecretString=json.dumps({"api_key": api_key}))[
        "ARN"
    ]
    # Ref on AWS::SecretsManager::Secret is its ARN, as in CloudFormation.
    template.register("ApiKeySecret", arn, Id=arn)
    return arn


def _sqs_event_properties(function: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    try:
        event = function["Events"][SQS_EVENT_ID]
    except KeyError:
        raise TemplateError(f"{FUNCTION_ID} has no event {SQS_EVENT_ID}") from None
    properties: dict[str, Any] = event.get("Properties", {})
    if event.get("Type") != "SQS" or properties.get("Queue") != queue_arn:
        raise TemplateError(f"{FUNCTION_ID}.{SQS_EVENT_ID} must be an SQS event on FusionQueue")
    if "MaximumConcurrency" not in properties.get("ScalingConfig", {}):
        raise TemplateError(
            f"{SQS_EVENT_ID} needs ScalingConfig.MaximumConcurrency: it sizes the local workers"
        )
    return properties
