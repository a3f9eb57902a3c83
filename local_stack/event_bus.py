"""The local stack's event bus: moto's EventBridge, with a rule delivering every pipeline
event to a local queue, so that a developer (and ``make demo``) can see what subscribers get.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

SOURCE = "portrait-fusion"
RULE_SUFFIX = "completion-events"


def subscribe_queue(events: Any, sqs: Any, bus_name: str, names_prefix: str) -> str:
    """Create ``<names_prefix>-events`` and a rule on ``bus_name`` sending it every event
    whose source is the pipeline's; the queue's URL. A bus other than ``default`` is created.
    """
    if bus_name != "default":
        buses = {bus["Name"] for bus in events.list_event_buses()["EventBuses"]}
        if bus_name not in buses:
            events.create_event_bus(Name=bus_name)
    name = f"{names_prefix}-events"
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rule = f"{names_prefix}-{RULE_SUFFIX}"
    rule_arn = events.put_rule(
        Name=rule,
        EventBusName=bus_name,
        EventPattern=json.dumps({"source": [SOURCE]}),
        State="ENABLED",
    )["RuleArn"]
    # What AWS needs before EventBridge may send to the queue (moto does not check it).
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                        }
                    ],
                }
            )
        },
    )
    events.put_targets(
        Rule=rule, EventBusName=bus_name, Targets=[{"Id": "local-queue", "Arn": queue_arn}]
    )
    return url


def receive_events(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Take every event waiting on the queue (deleting them), in arrival order."""
    received: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return received
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def by_pair(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Events grouped by the pair they are about."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[event["detail"]["pair_id"]].append(event)
    return dict(grouped)
