"""Identical requests re-use a result; erasure removes a pair and everything naming it.

The handler runs unpatched against moto and the emulator; the emulator's ledger says how
many merges were billed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from ops import erase
from portrait_fusion.aws.erasure import PairLocations, erase_pair
from portrait_fusion.core.errors import InvalidEventError
from tests import images
from tests.harness import Buckets, unique_pair


@pytest.fixture
def reusing(function: Any, configure: Any) -> Any:
    configure(REUSE_IDENTICAL_RESULTS="true")
    return function


@pytest.fixture
def dynamodb(stack: LocalStack) -> Any:
    return stack.client("dynamodb")


def merge(function: Any, buckets: Buckets, target: bytes, template: bytes, **meta: str) -> str:
    pair_id = unique_pair("same")
    buckets.upload(pair_id, "target", target, metadata=meta)
    buckets.upload(pair_id, "template", template, ext="png")
    function.deliver()
    return pair_id


def a_target(quality: int) -> bytes:
    """A target no other test sends (re-use records outlive a test)."""
    return images.as_jpeg(quality=quality)


def test_identical_bytes_under_a_new_pair_id_copy_the_result_without_a_call(
    reusing: Any, buckets: Buckets, emulator: FusionEmulator, assert_valid_document: Any
) -> None:
    target, template = a_target(51), images.as_png()
    first = merge(reusing, buckets, target, template)
    second = merge(reusing, buckets, target, template)
    assert emulator.stats()["merges"] == 1
    earlier = assert_valid_document(buckets.document(first))
    copy = assert_valid_document(buckets.document(second))
    assert copy["status"] == "succeeded"
    assert copy["reused_from"] == first
    assert "reused_from" not in earlier
    assert copy["api"] is None
    assert copy["result"]["key"] == f"results/{second}/result.jpg"
    assert copy["result"]["sha256"] == earlier["result"]["sha256"]
    assert buckets.result_image(copy) == buckets.result_image(earlier)


def test_one_byte_changed_is_a_new_request(
    reusing: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    target, template = a_target(52), images.as_png()
    merge(reusing, buckets, target, template)
    # Bytes after the JPEG's end marker: the image is the same, the bytes sent are not.
    changed = merge(reusing, buckets, target + b"\x00", template)
    assert emulator.stats()["merges"] == 2
    assert "reused_from" not in (buckets.document(changed) or {})


def test_a_different_similarity_is_a_new_request(
    reusing: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    target, template = a_target(53), images.as_png()
    merge(reusing, buckets, target, template, **{"source-similarity": "0.3"})
    other = merge(reusing, buckets, target, template, **{"source-similarity": "0.7"})
    same = merge(reusing, buckets, target, template, **{"source-similarity": "0.3"})
    assert emulator.stats()["merges"] == 2
    assert "reused_from" not in (buckets.document(other) or {})
    assert (buckets.document(same) or {})["source_similarity"] == 0.3
    assert "reused_from" in (buckets.document(same) or {})


def test_reuse_switched_off_calls_every_time(
    function: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    target, template = a_target(54), images.as_png()
    merge(function, buckets, target, template)
    merge(function, buckets, target, template)
    assert emulator.stats()["merges"] == 2


def test_an_earlier_result_is_re_used_at_its_version_after_its_pair_is_merged_again(
    reusing: Any,
    stack: LocalStack,
    buckets: Buckets,
    emulator: FusionEmulator,
    assert_valid_document: Any,
) -> None:
    target, template = a_target(55), images.as_png()
    first = merge(reusing, buckets, target, template)
    earlier = assert_valid_document(buckets.document(first))
    # the earlier pair merged again at another similarity: its result key holds other bytes
    again = reusing.invoke(
        {
            "target": f"s3://{stack.input_bucket}/incoming/{first}/target.jpg",
            "template": f"s3://{stack.input_bucket}/incoming/{first}/template.png",
            "source_similarity": 0.6,
        }
    )
    assert again["result"]["key"] == earlier["result"]["key"]
    assert again["result"]["sha256"] != earlier["result"]["sha256"]
    # a request identical to the earlier pair's first: a copy of that first result
    second = merge(reusing, buckets, target, template)
    assert emulator.stats()["merges"] == 2
    copy = assert_valid_document(buckets.document(second))
    assert copy["reused_from"] == first
    assert copy["result"]["sha256"] == earlier["result"]["sha256"]
    stored = buckets.s3.get_object(
        Bucket=stack.output_bucket,
        Key=copy["result"]["key"],
        VersionId=copy["result"]["version_id"],
    )
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == earlier["result"]["sha256"]


def test_an_earlier_result_whose_version_is_gone_is_never_copied(
    reusing: Any, stack: LocalStack, buckets: Buckets, emulator: FusionEmulator
) -> None:
    target, template = a_target(59), images.as_png()
    first = merge(reusing, buckets, target, template)
    result = (buckets.document(first) or {})["result"]
    buckets.s3.delete_object(
        Bucket=stack.output_bucket, Key=result["key"], VersionId=result["version_id"]
    )
    second = merge(reusing, buckets, target, template)
    assert emulator.stats()["merges"] == 2
    assert "reused_from" not in (buckets.document(second) or {})


def records_naming(stack: LocalStack, dynamodb: Any, pair_id: str) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=stack.table_name, ConsistentRead=True)["Items"]
    return [
        item
        for item in items
        if item.get("pair_id", {}).get("S") == pair_id
        or json.loads(item.get("data", {}).get("S", "{}") or "{}").get("pair_id") == pair_id
    ]


def input_versions(stack: LocalStack, buckets: Buckets, pair_id: str) -> list[str]:
    listing = buckets.s3.list_object_versions(
        Bucket=stack.input_bucket, Prefix=f"incoming/{pair_id}/"
    )
    return [v["VersionId"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])]


def output_versions(stack: LocalStack, buckets: Buckets, pair_id: str) -> list[str]:
    listing = buckets.s3.list_object_versions(
        Bucket=stack.output_bucket, Prefix=f"results/{pair_id}/"
    )
    return [v["VersionId"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])]


def test_erasure_removes_every_version_output_and_record_and_a_replay_finds_nothing(
    reusing: Any,
    stack: LocalStack,
    buckets: Buckets,
    emulator: FusionEmulator,
    dynamodb: Any,
    sqs: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a pair merged twice: its target replaced once (three input versions in all)
    template = images.as_png()
    pair_id = merge(reusing, buckets, a_target(56), template)
    buckets.upload(pair_id, "target", a_target(66))
    reusing.deliver()
    neighbour = merge(reusing, buckets, a_target(76), template)
    assert emulator.stats()["merges"] == 3
    assert len(input_versions(stack, buckets, pair_id)) == 3
    assert len(output_versions(stack, buckets, pair_id)) == 4  # each merge's result and document
    assert len(records_naming(stack, dynamodb, pair_id)) == 4  # 2 idempotency, 2 re-use
    # When it is erased through the command line, with the function's environment
    assert erase.main([pair_id]) == 0
    printed = capsys.readouterr().out
    # Then every version, output and record is gone, and the output says what went
    assert input_versions(stack, buckets, pair_id) == []
    assert output_versions(stack, buckets, pair_id) == []
    assert records_naming(stack, dynamodb, pair_id) == []
    # three input versions; a result and a document from each of the two merges
    assert printed.count("  object  ") == 3 + 2 * 2
    assert printed.count("  record  ") == 4
    assert f"incoming/{pair_id}/target.jpg" in printed
    # And the pair next to it is untouched
    assert (buckets.document(neighbour) or {})["status"] == "succeeded"
    # And a second run is harmless, and says there was nothing left (exit status 3)
    assert erase.main([pair_id]) == 3
    assert "nothing left to erase" in capsys.readouterr().err
    # And a replay of the pair finds nothing to merge and writes nothing
    with pytest.raises(InvalidEventError, match="exactly one pair"):
        reusing.invoke({"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"})
    assert buckets.output_keys(pair_id) == []
    assert emulator.stats()["merges"] == 3


def locations_of(stack: LocalStack) -> PairLocations:
    """Where the local stack keeps pairs (default prefixes and pattern)."""
    return PairLocations(
        input_bucket=stack.input_bucket, output_bucket=stack.output_bucket, table=stack.table_name
    )


def test_erasure_removes_the_reuse_record_so_identical_inputs_are_merged_anew(
    reusing: Any, stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, dynamodb: Any
) -> None:
    target, template = a_target(57), images.as_png()
    first = merge(reusing, buckets, target, template)
    where = locations_of(stack)
    report = erase_pair(first, where, s3=buckets.s3, dynamodb=dynamodb)
    assert any(record.startswith("reuse#") for record in report.records)
    second = merge(reusing, buckets, target, template)
    assert emulator.stats()["merges"] == 2
    assert "reused_from" not in (buckets.document(second) or {})


def test_erasure_removes_the_pairs_paid_call_marks(
    reusing: Any, stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, dynamodb: Any
) -> None:
    # Given a pair whose first answer was a billed 200 without an image (a paid-call mark)
    emulator.set_faults(Faults(script=("ok_without_image",)))
    pair_id = merge(reusing, buckets, a_target(58), images.as_png())
    assert (buckets.document(pair_id) or {})["api"]["unusable_request_ids"]
    # When the pair is erased
    where = locations_of(stack)
    report = erase_pair(pair_id, where, s3=buckets.s3, dynamodb=dynamodb)
    # Then its mark went with its other records
    assert any(record.startswith("unusable-200#") for record in report.records)
    assert records_naming(stack, dynamodb, pair_id) == []


def test_erasure_reads_a_deployed_stacks_outputs(stack: LocalStack) -> None:
    cloudformation = stack.client("cloudformation")
    name = unique_pair("erase-stack")
    outputs = {
        "InputBucketName": "in-bucket",
        "OutputBucketName": "out-bucket",
        "IdempotencyTableName": "records",
    }
    body = {
        "Parameters": {"OutputPrefix": {"Type": "String", "Default": "results/"}},
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": "OutputPrefix", "ParameterValue": "done/"}],
    )
    try:
        # Outputs exist once the stack is created, which CloudFormation does after answering
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        where = PairLocations.from_stack(cloudformation, name)
    finally:
        cloudformation.delete_stack(StackName=name)
    assert where == PairLocations(
        input_bucket="in-bucket", output_bucket="out-bucket", table="records", output_prefix="done/"
    )


def test_erasure_without_locations_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("INPUT_BUCKET", "OUTPUT_BUCKET", "IDEMPOTENCY_TABLE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        erase.main(["some-pair"])
    assert "INPUT_BUCKET, OUTPUT_BUCKET, IDEMPOTENCY_TABLE" in capsys.readouterr().err
