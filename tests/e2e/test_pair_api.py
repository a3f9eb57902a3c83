"""An app's path through the Pair API on the local stack: create, upload, watch, download."""

from __future__ import annotations

import time
from typing import Any

import requests

from local_stack.aws import LocalStack
from local_stack.emulator import FusionEmulator
from local_stack.esm import EventSourceMapping
from local_stack.pair_api_server import PairApiServer
from tests import images
from tests.conftest import assert_pair_view
from tests.e2e.conftest import Queues, TokenMinter, settle
from tests.harness import Buckets


class App:
    """What an app does with the Pair API: plain HTTP, no AWS credentials."""

    def __init__(self, server: PairApiServer, token: str) -> None:
        self.url = server.url
        self.headers = {"Authorization": f"Bearer {token}"}

    def create(self, **request: Any) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/pairs", json=request, headers=self.headers, timeout=10)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    def status(self, pair_id: str) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/pairs/{pair_id}", headers=self.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        described: dict[str, Any] = answer.json()
        return described

    def wait_until_done(
        self, pair_id: str, timeout_s: float = 60
    ) -> tuple[list[str], dict[str, Any]]:
        """Every status seen while polling, and the final answer."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            described = self.status(pair_id)
            if not seen or seen[-1] != described["status"]:
                seen.append(described["status"])
            if described["status"] in ("succeeded", "failed", "expired"):
                return seen, described
            time.sleep(0.1)
        raise AssertionError(f"pair {pair_id} did not finish; statuses {seen}")


def upload(presigned: dict[str, Any], data: bytes, content_type: str) -> None:
    fields = {**presigned["fields"], "Content-Type": content_type}
    answer = requests.post(
        presigned["url"], data=fields, files={"file": ("image", data, content_type)}, timeout=10
    )
    assert answer.status_code == 204, answer.text


def test_a_pair_goes_from_waiting_to_succeeded_and_its_result_downloads(
    pair_api: PairApiServer,
    tokens: TokenMinter,
    mapping: EventSourceMapping,
    emulator: FusionEmulator,
    queues: Queues,
    buckets: Buckets,
    assert_valid_document: Any,
) -> None:
    app = App(pair_api, tokens("app-user"))
    pair = app.create(source_similarity=0.6, correlation_id="app-order-1")
    assert app.status(pair["pair_id"])["status"] == "waiting"
    upload(pair["uploads"]["template"], images.as_png(), "image/png")
    time.sleep(0.5)  # the lone template is consumed and waits for its partner
    assert app.status(pair["pair_id"])["status"] == "waiting"
    upload(pair["uploads"]["target"], images.as_jpeg(), "image/jpeg")
    seen, done = app.wait_until_done(pair["pair_id"])
    assert seen[-1] == "succeeded"
    assert set(seen) <= {"waiting", "processing", "succeeded"}
    assert_pair_view(done)
    assert (done["source_similarity"], done["correlation_id"]) == (0.6, "app-order-1")
    # the full document stays in the output bucket, for operators
    document = assert_valid_document(buckets.document(pair["pair_id"]))
    assert document["source_similarity"] == 0.6
    result = requests.get(done["result_url"], timeout=10)
    assert result.status_code == 200
    assert result.headers["Content-Type"] == done["result"]["content_type"]
    assert len(result.content) == done["result"]["size"] == document["result"]["size"]
    assert settle(emulator, queues)["calls"] == 1


def test_pairs_on_one_catalogue_template_cost_one_call_each(
    pair_api: PairApiServer,
    tokens: TokenMinter,
    mapping: EventSourceMapping,
    emulator: FusionEmulator,
    queues: Queues,
) -> None:
    app = App(pair_api, tokens("app-user"))
    pairs = [app.create(template_id="astronaut") for _ in range(2)]
    assert [list(pair["uploads"]) for pair in pairs] == [["target"], ["target"]]
    # distinct faces: the emulator counts a repeated (target, template) merge as a duplicate
    faces = [images.as_jpeg(), images.as_png("grace_hopper.jpg", size=(480, 560))]
    for pair, face in zip(pairs, faces, strict=True):
        upload(pair["uploads"]["target"], face, "image/jpeg")
    for pair in pairs:
        _, done = app.wait_until_done(pair["pair_id"])
        assert done["status"] == "succeeded", done["error"]
    stats = settle(emulator, queues)
    assert (stats["calls"], stats["duplicates"]) == (2, 0)


def test_a_face_the_api_refuses_ends_failed_with_the_apis_code(
    pair_api: PairApiServer,
    tokens: TokenMinter,
    mapping: EventSourceMapping,
    emulator: FusionEmulator,
    queues: Queues,
) -> None:
    app = App(pair_api, tokens("app-user"))
    pair = app.create(template_id="grace-hopper")
    upload(pair["uploads"]["target"], images.gradient(), "image/jpeg")
    _, done = app.wait_until_done(pair["pair_id"])
    assert (done["status"], done["result_url"]) == ("failed", None)
    assert done["error"]["code"] == "ERROR_NO_FACE_IN_FILE"


def test_an_app_erases_a_finished_pair_with_delete(
    pair_api: PairApiServer,
    tokens: TokenMinter,
    mapping: EventSourceMapping,
    stack: LocalStack,
    emulator: FusionEmulator,
    queues: Queues,
) -> None:
    app = App(pair_api, tokens("app-user"))
    pair = app.create(template_id="astronaut", correlation_id="erase-me")
    upload(pair["uploads"]["target"], images.as_jpeg("grace_hopper.jpg"), "image/jpeg")
    _, done = app.wait_until_done(pair["pair_id"])
    assert done["status"] == "succeeded"
    settle(emulator, queues)
    erased = requests.delete(f"{app.url}/pairs/{pair['pair_id']}", headers=app.headers, timeout=10)
    assert erased.status_code == 200
    # inputs, result image, result.json; the pair's record and the idempotency record
    assert erased.json()["erased"]["objects"] >= 4
    assert erased.json()["erased"]["records"] >= 2
    answer = requests.get(f"{app.url}/pairs/{pair['pair_id']}", headers=app.headers, timeout=10)
    assert answer.status_code == 404
    assert requests.get(done["result_url"], timeout=10).status_code == 404
