"""Calls of the Pair API's real routes with the events API Gateway sends, no server between.

An authorizer block comes from the local stack's JWT issuer (a verified token's claims, as
API Gateway renders them) or is the IAM block of a SigV4-signed caller.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local_stack.http_api_event import HttpRequest, from_result, to_event
from local_stack.pair_api_server import LocalContext
from tests.conftest import assert_pair_view


def iam_authorizer(user_arn: str, account_id: str = "123456789012") -> dict[str, Any]:
    """`requestContext.authorizer` of a request SigV4-signed by `user_arn`."""
    return {
        "iam": {
            "accessKey": "ASIAEXAMPLEKEY",
            "accountId": account_id,
            "callerId": "AROAEXAMPLEID:session",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": user_arn,
            "userId": "AROAEXAMPLEID:session",
        }
    }


@dataclass(frozen=True)
class Answer:
    """The HTTP answer API Gateway makes of the handler's result."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.content)


@dataclass(frozen=True)
class Caller:
    """One caller of the API: its authorizer block (None: no authorizer ran)."""

    resolver: APIGatewayHttpResolver
    authorizer: dict[str, Any] | None
    host: str = "pairs.example.test"

    def __call__(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        body = jsonlib.dumps(json).encode() if json is not None else data or b""
        if isinstance(body, str):
            body = body.encode()
        sent = dict(headers or {})
        if json is not None:
            sent.setdefault("Content-Type", "application/json")
        path, _, query = path.partition("?")
        event = to_event(HttpRequest(method, path, query, headers=sent, body=body, host=self.host))
        if self.authorizer is not None:
            event["requestContext"]["authorizer"] = self.authorizer
        response = from_result(self.resolver.resolve(event, LocalContext()))
        answer = Answer(response.status, response.headers, response.body)
        if (method, answer.status_code) == ("GET", 200) and path.startswith("/pairs/"):
            assert_pair_view(answer.json())  # every view the tests see keeps its schema
        return answer
