"""Erasure finds a pair's records by key and index: its requests do not grow with the table.

One erasure on a table of a few records and on one of tens of thousands makes the same
DynamoDB and S3 requests, counted on the clients it is given (botocore's own events).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local_stack.aws import LocalStack, MotoServer
from local_stack.lambda_runtime import LambdaContext
from portrait_fusion.aws.erasure import PairLocations, erase_pair
from portrait_fusion.aws.pair_records import ApiPair, PairRecords
from portrait_fusion.core.errors import StorageError
from portrait_fusion.guards.idempotency import DynamoDBIdempotencyGuard
from portrait_fusion.pairs.pair_index import INDEX_ATTRIBUTE, pair_ref
from tests import images
from tests.harness import provision_tier

LARGE_TABLE = 20_000


def an_invocation() -> LambdaContext:
    """The context of an invocation starting now, as the handler registers it with the guard
    (Powertools reads the time left from it for an in-progress record's expiry)."""
    return LambdaContext.create(timeout_s=30)


def counted(client: Any) -> Counter[str]:
    """Every request `client` sends from now on, by operation name."""
    requests: Counter[str] = Counter()

    def note(model: Any, **_: Any) -> None:
        requests[model.name] += 1

    client.meta.events.register("before-call.*.*", note)
    return requests


@pytest.fixture(scope="module")
def stacks(moto: MotoServer) -> Iterator[dict[str, LocalStack]]:
    yield {
        size: provision_tier(moto.endpoint_url, f"erase-{size}-{uuid.uuid4().hex[:6]}")
        for size in ("small", "large")
    }


def fill(stack: LocalStack, count: int) -> None:
    """`count` records of other pairs, written with batch writes on a few threads."""
    dynamodb = stack.client("dynamodb")

    def write(start: int) -> None:
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "id": {"S": f"reuse#{start + n:08d}"},
                        "pair_id": {"S": f"other-{start + n}"},
                        INDEX_ATTRIBUTE: {"S": pair_ref(f"other-{start + n}")},
                    }
                }
            }
            for n in range(min(25, count - start))
        ]
        dynamodb.batch_write_item(RequestItems={stack.table_name: items})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(0, count, 25)))


def one_pair(stack: LocalStack) -> str:
    """A pair the Pair API created, with two uploaded halves, a result, and its records:
    the API's, an idempotency record written by Powertools, a re-use record."""
    pair_id = uuid.uuid4().hex
    s3, dynamodb = stack.client("s3"), stack.client("dynamodb")
    PairRecords(stack.table_name, lambda: dynamodb).create(
        ApiPair(pair_id, owner="owner-1", created_at="2030-01-01T00:00:00.000Z")
    )
    for role in ("target", "template"):
        s3.put_object(
            Bucket=stack.input_bucket, Key=f"incoming/{pair_id}/{role}.jpg", Body=images.as_jpeg()
        )
    s3.put_object(Bucket=stack.output_bucket, Key=f"results/{pair_id}/result.json", Body=b"{}")
    guard = DynamoDBIdempotencyGuard(stack.table_name, dynamodb)
    guard.register_context(an_invocation())  # as the handler does, for the record's timeout
    guard.run({"pair_id": pair_id, "etag": "e"}, lambda: {"status": "succeeded"})
    dynamodb.put_item(
        TableName=stack.table_name,
        Item={
            "id": {"S": f"reuse#{pair_id}"},
            "pair_id": {"S": pair_id},
            INDEX_ATTRIBUTE: {"S": pair_ref(pair_id)},
        },
    )
    return pair_id


def erasure_requests(stack: LocalStack, pair_id: str) -> tuple[Counter[str], list[str]]:
    s3, dynamodb = stack.client("s3"), stack.client("dynamodb")
    s3_requests, dynamodb_requests = counted(s3), counted(dynamodb)
    report = erase_pair(
        pair_id, PairLocations.from_env(stack.pair_api_env), s3=s3, dynamodb=dynamodb
    )
    return s3_requests + dynamodb_requests, report.records


def test_the_records_of_a_pair_carry_the_index_key_powertools_included(
    stacks: dict[str, LocalStack],
) -> None:
    stack = stacks["small"]
    pair_id = one_pair(stack)
    found = stack.client("dynamodb").query(
        TableName=stack.table_name,
        IndexName="by-pair",
        KeyConditionExpression="pair_ref = :ref",
        ExpressionAttributeValues={":ref": {"S": pair_ref(pair_id)}},
    )["Items"]
    ids = sorted(item["id"]["S"] for item in found)
    assert len(ids) == 3
    assert f"pair#{pair_id}" in ids and f"reuse#{pair_id}" in ids
    # the third is the one Powertools wrote, under its own hashed id
    assert any("#" in record and not record.startswith(("pair#", "reuse#")) for record in ids)


def test_one_erasure_costs_the_same_on_a_small_and_a_large_table(
    stacks: dict[str, LocalStack],
) -> None:
    fill(stacks["small"], 10)
    fill(stacks["large"], LARGE_TABLE)
    assert (
        stacks["large"]
        .client("dynamodb")
        .describe_table(TableName=stacks["large"].table_name)["Table"]["ItemCount"]
        >= LARGE_TABLE
    )
    costs = {}
    for size, stack in stacks.items():
        requests, records = erasure_requests(stack, one_pair(stack))
        assert len(records) == 3, records  # the pair's record, Powertools', the re-use record
        costs[size] = requests
    assert costs["large"] == costs["small"]
    assert "Scan" not in costs["large"]
    assert costs["large"]["Query"] == 1


def test_erasing_an_id_that_never_existed_costs_no_more(stacks: dict[str, LocalStack]) -> None:
    requests, records = erasure_requests(stacks["large"], uuid.uuid4().hex)
    assert records == []
    assert requests["Query"] == 1 and "Scan" not in requests
    assert sum(requests.values()) <= 5


def test_a_record_from_before_the_index_is_never_merged_again(
    stacks: dict[str, LocalStack],
) -> None:
    """Records written before `pair_ref` existed carry no digest: Powertools' validation
    refuses them, and the guard says so instead of running the work (a second paid call)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from portrait_fusion.guards import idempotency

    stack = stacks["small"]
    dynamodb = stack.client("dynamodb")
    config = IdempotencyConfig(expires_after_seconds=600)
    config.register_lambda_context(an_invocation())
    earlier = idempotent_function(
        data_keyword_argument="key",
        persistence_store=DynamoDBPersistenceLayer(
            table_name=stack.table_name, boto3_client=dynamodb
        ),
        config=config,
    )(idempotency._call_work)
    key = {"pair_id": uuid.uuid4().hex, "etag": "e"}
    earlier(key=key, work=lambda: {"status": "succeeded"})
    ran = []
    guard = DynamoDBIdempotencyGuard(stack.table_name, dynamodb)
    guard.register_context(an_invocation())
    with pytest.raises(StorageError) as refused:
        guard.run(key, lambda: ran.append(1) or {"status": "succeeded"})
    assert refused.value.code == "IDEMPOTENCY_RECORD_OUTDATED"
    assert ran == []
