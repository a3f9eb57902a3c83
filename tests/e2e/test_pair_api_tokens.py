"""The e2e token fixtures against the running local Pair API: what every e2e test that
calls the API as a user (or as an attacker) stands on."""

from __future__ import annotations

import pytest
import requests

from local_stack.pair_api_server import PairApiServer
from tests.e2e.conftest import TokenMinter


def templates(server: PairApiServer, token: str | None) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.get(f"{server.url}/templates", headers=headers, timeout=10)


def test_tokens_for_any_subject_are_accepted(pair_api: PairApiServer, tokens: TokenMinter) -> None:
    for subject in ("alice", "bob"):
        answer = templates(pair_api, tokens(subject))
        assert answer.status_code == 200, answer.text
        assert {entry["template_id"] for entry in answer.json()} >= {"astronaut", "grace-hopper"}


@pytest.mark.parametrize(
    "options",
    [{"expires_in": -1}, {"not_before": 60}],
    ids=["expired", "not yet valid"],
)
def test_tokens_outside_their_validity_are_refused(
    pair_api: PairApiServer, tokens: TokenMinter, options: dict[str, float]
) -> None:
    answer = templates(pair_api, tokens("alice", **options))
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})


def test_forged_and_missing_tokens_are_refused(
    pair_api: PairApiServer, forged_tokens: TokenMinter
) -> None:
    for token in (forged_tokens("alice"), None):
        answer = templates(pair_api, token)
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
