"""What the benchmark runs on and with: the local stack, the two handlers, the test pairs.

Each handler runs in processes of its own (a `sandbox.Sandbox`, or the workers of the event
source mapping), apart from moto and the emulator, which share the benchmark's process: so
each has its own interpreter, as in Lambda, and the two compete for nothing but the machine.

Every feature of the function is on, re-use of identical results included. For that to
find nothing (every pair must still call the API), each uploaded JPEG carries its pair id
and role in a comment segment: unique bytes, the same pixels (the emulator's result cache
ignores comments, so it still answers at once). Tracing is on as in Lambda (`Tracing:
Active`): the function builds its X-Ray Tracer and patches botocore and requests, and each
invocation has a trace header; sampled segments go to a UDP socket that nobody reads, as a
daemon would take them.
"""

from __future__ import annotations

import io
import json
import socket
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from botocore.config import Config
from PIL import Image

from local_stack.aws import LocalStack, provision, start_moto
from local_stack.emulator import FusionEmulator
from local_stack.lambda_runtime import sqs_event
from local_stack.request_log import RequestLog
from tests.harness import API_KEY, function_environment, read_document
from tests.images import portrait

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = {
    "ours": "portrait_fusion.entry.handler.lambda_handler",
    "baseline": "benchmarks.baseline_handler.lambda_handler",
}
MEMORY_MB = 512
# The template's function timeout, and a visibility timeout as long (Lambda refuses a shorter
# one; the template's 12 minutes would only slow down a message lost in a crash). An invocation
# pulls the queue's next messages only while its time left covers two calls at the API timeout
# and the outputs (63 s with the template's 30 s), so with less time than the template gives it
# the bench would measure a function that never pulls (as it did with 30 s). Handed-back
# messages come back after their reason's wait, whatever this is.
VISIBILITY_TIMEOUT_S = 120
_MAX_FILE_BYTES = 4 * 1024 * 1024
_JPEG_SOI = b"\xff\xd8"
_COMMENT_ROOM = 256  # bytes a pair's comment may add to a file


@dataclass(frozen=True)
class Pair:
    """The two halves of a pair, as uploaded."""

    target: bytes
    template: bytes


@cache
def portrait_pair(side: int) -> Pair:
    """The bundled portraits as JPEGs `side` px on their long edge: a typical upload."""
    return Pair(
        _encode(_scaled("astronaut.png", side), 90), _encode(_scaled("grace_hopper.jpg", side), 90)
    )


@cache
def heavy_pair() -> Pair:
    """Two portraits of 4095 px (the API's largest) and just under 4 MB each (its limit)."""
    return Pair(_four_megabytes("astronaut.png"), _four_megabytes("grace_hopper.jpg"))


def _scaled(name: str, side: int) -> Image.Image:
    img = Image.open(io.BytesIO(portrait(name))).convert("RGB")
    scale = side / max(img.size)
    return img.resize(
        (round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC
    )


def _encode(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _four_megabytes(name: str) -> bytes:
    """A grainy 4095 px portrait at the best JPEG quality that stays within 4 MB."""
    img = _scaled(name, 4095)
    # Grain makes the file as big as a photo of that size; a smooth upscale compresses far.
    img = Image.blend(img, Image.effect_noise(img.size, 64).convert("RGB"), 0.08)
    low, high, best = 50, 98, b""
    while low <= high:
        quality = (low + high) // 2
        data = _encode(img, quality)
        if len(data) <= _MAX_FILE_BYTES - _COMMENT_ROOM:
            best, low = data, quality + 1
        else:
            high = quality - 1
    return best


def tagged(data: bytes, text: str) -> bytes:
    """A JPEG with a comment segment carrying `text` right after its SOI marker; anything
    else unchanged. The pixels stay the same; the bytes (and their SHA-256) do not."""
    if not data.startswith(_JPEG_SOI):
        return data
    comment = text.encode()[: _COMMENT_ROOM - 4]
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return _JPEG_SOI + segment + data[len(_JPEG_SOI) :]


class Bench:
    """The local stack with the emulator over HTTPS, and what a measurement does with it.

    `requests` logs what moto serves while a measurement records it (see `round_trips`);
    the emulator keeps a log of its calls.
    """

    def __init__(
        self,
        stack: LocalStack,
        emulator: FusionEmulator,
        log_file: Path,
        requests: RequestLog,
        xray_daemon: str,
    ) -> None:
        """`xray_daemon`: where the function's sampled trace segments go (host:port, UDP)."""
        self.stack = stack
        self.emulator = emulator
        self.log_file = log_file
        self.requests = requests
        self.env = function_environment(
            stack,
            emulator.url,
            emulator.ca_bundle,
            REUSE_IDENTICAL_RESULTS="true",
            # Tracing as in Lambda: the Tracer is built where LAMBDA_TASK_ROOT is set.
            POWERTOOLS_TRACE_DISABLED="false",
            LAMBDA_TASK_ROOT=str(ROOT / "functions" / "fusion"),
            AWS_XRAY_DAEMON_ADDRESS=xray_daemon,
            BENCH_QUEUE_ARN=stack.queue_arn,
        )
        config = Config(max_pool_connections=16)
        self.s3: Any = stack.client("s3", config=config)
        self.sqs: Any = stack.client("sqs", config=config)

    def upload(self, pair_id: str, role: str, data: bytes, *, tag: bool = True) -> str:
        """Put one half into the input bucket (its S3 notification goes to the queue); a
        JPEG is `tagged` with the pair id and role unless `tag=False`."""
        key = f"incoming/{pair_id}/{role}.jpg"
        body = tagged(data, f"bench {pair_id} {role}") if tag else data
        self.s3.put_object(Bucket=self.stack.input_bucket, Key=key, Body=body)
        return key

    def completing_event(self, pair_id: str, pair: Pair, *, tag: bool = True) -> dict[str, Any]:
        """Upload a pair and return the SQS event of its second half, as the queue gave it.

        Both notifications are taken off the queue, so nothing else ever handles them.
        """
        self.upload(pair_id, "target", pair.target, tag=tag)
        key = self.upload(pair_id, "template", pair.template, tag=tag)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(
                QueueUrl=self.stack.queue_url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
                WaitTimeSeconds=1,
            ).get("Messages", [])
            found = [m for m in messages if key in _notified_keys(m["Body"])]
            if messages:
                self._delete(messages)
            if found:
                return sqs_event(found, queue_arn=self.stack.queue_arn)
        raise RuntimeError(f"no S3 notification for {key} on the queue")

    @contextmanager
    def recording_requests(self) -> Iterator[None]:
        """Log moto's requests within the block (and forget them after it)."""
        self.requests.clear()
        self.requests.recording = True
        try:
            yield
        finally:
            self.requests.recording = False
            self.requests.clear()

    def clear_buckets(self) -> None:
        """Delete every object version of both buckets.

        moto answers a listing by walking every key of the bucket, so the pairs of earlier
        measurements would slow each later one down (the handlers' listings and the bench's
        own polling for results alike): each throughput run starts from empty buckets.
        """
        for bucket in (self.stack.input_bucket, self.stack.output_bucket):
            pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
            for page in pages:
                versions = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if versions:
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": versions})

    def messages_waiting(self) -> int:
        """Messages visible in the queue: ready for a receive, not yet received."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def queue_settled(self) -> bool:
        """No message in the queue, visible or in flight: every one was received and deleted
        (by the mapping after its batch, or by the function after a message it pulled)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.stack.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(int(value) == 0 for value in attributes.values())

    def drain_queue(self) -> None:
        """Delete whatever is on the queue (the provisioning test event, leftovers).

        Not PurgeQueue, which SQS allows once a minute.
        """
        while messages := self.sqs.receive_message(
            QueueUrl=self.stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            self._delete(messages)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        self.sqs.delete_message_batch(
            QueueUrl=self.stack.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )

    def document(self, pair_id: str) -> dict[str, Any] | None:
        """The pair's result.json, or None while there is none."""
        return read_document(self.s3, self.stack.output_bucket, pair_id)

    def finished(self, pair_ids: list[str]) -> set[str]:
        """Those of `pair_ids` whose result.json exists."""
        wanted = {f"results/{pair_id}/result.json": pair_id for pair_id in pair_ids}
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.stack.output_bucket, Prefix="results/"
        )
        return {
            wanted[item["Key"]]
            for page in pages
            for item in page.get("Contents", [])
            if item["Key"] in wanted
        }

    def check_succeeded(self, name: str, pair_id: str) -> dict[str, Any]:
        """The pair's document; fail loudly when the handler did not merge the pair (or
        copied an earlier result instead of calling the API: the uploads' tags failed)."""
        document = self.document(pair_id)
        status = None if document is None else document.get("status")
        if document is None or status != "succeeded":
            raise RuntimeError(
                f"{name}: pair {pair_id} ended {status!r}, not succeeded; the functions' log "
                f"ends with:\n{self.log_tail()}"
            )
        check_not_reused(name, document)
        return document

    def log_tail(self, lines: int = 10) -> str:
        """The last lines the handlers logged."""
        if not self.log_file.exists():
            return "(nothing logged)"
        return "\n".join(self.log_file.read_text().splitlines()[-lines:])


def check_not_reused(name: str, document: dict[str, Any]) -> None:
    """Fail when a measured pair re-used an earlier result: it made no API call, and a
    figure built on it would flatter the handler."""
    if "reused_from" in document:
        raise RuntimeError(
            f"{name}: pair {document.get('pair_id')} re-used {document['reused_from']}'s "
            "result: the bench's uploads must all differ"
        )


def _notified_keys(body: str) -> list[str]:
    """The object keys an S3 notification names (URL-decoded, as they arrive encoded)."""
    records = json.loads(body).get("Records", [])
    return [urllib.parse.unquote_plus(r["s3"]["object"]["key"]) for r in records]


def new_pair_id(name: str) -> str:
    """A pair id no other run or handler uses."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


@contextmanager
def running_bench() -> Iterator[Bench]:
    """moto, the emulator over HTTPS and the template's resources, torn down afterwards."""
    moto = start_moto(log_requests=True)
    assert moto.request_log is not None
    try:
        with (
            FusionEmulator(api_keys={API_KEY}, tls=True) as emulator,
            tempfile.TemporaryDirectory(prefix="bench-") as workdir,
            # Never read: the kernel drops what its buffer cannot hold, as a busy daemon would.
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as xray_daemon,
        ):
            xray_daemon.bind(("127.0.0.1", 0))
            emulator.keep_call_log()
            stack = provision(
                moto.endpoint_url,
                ROOT / "template.yaml",
                api_key=API_KEY,
                names_prefix=f"bench-{uuid.uuid4().hex[:6]}",
                visibility_timeout=VISIBILITY_TIMEOUT_S,
            )
            bench = Bench(
                stack,
                emulator,
                Path(workdir) / "functions.log",
                moto.request_log,
                f"127.0.0.1:{xray_daemon.getsockname()[1]}",
            )
            bench.drain_queue()
            yield bench
    finally:
        moto.stop()
