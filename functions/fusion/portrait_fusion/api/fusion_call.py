"""One HTTP call to the face-fusion endpoint: the multipart body, a bounded read, the answer.

No retries here (`fusion_api` decides those). The exchange (`FusionCall.exchange`) and the
reading of its answer (`answer`: the decoded result, or the `ApiError` it means, with the
answer's `Retry-After` as `retry_after`) are apart, so the client holds the environment's one
call slot only while the API has the call.
"""

from __future__ import annotations

import binascii
import io
from collections.abc import Callable
from dataclasses import dataclass

import requests
from requests_toolbelt import MultipartEncoder

from portrait_fusion.api.api_errors import (
    API_TIMEOUT,
    CONNECTION_ERROR,
    ApiSuccess,
    ProtocolError,
    interpret,
)
from portrait_fusion.api.api_key import ApiKey
from portrait_fusion.api.retry_policy import parse_retry_after
from portrait_fusion.core.errors import ApiError, TransientApiError
from portrait_fusion.images.preflight import ImageInfo, read_header
from portrait_fusion.pairs.similarity import form_value

API_KEY_HEADER = "ailabapi-api-key"
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Upload:
    """One image as sent to the API."""

    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Answer:
    """One successful call: the decoded image and the call's ids."""

    image: bytes
    info: ImageInfo
    request_id: str | None
    log_id: str | None
    latency_ms: int


def new_session() -> requests.Session:
    """A session for the API: one keep-alive connection pool, no hidden retries."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=2, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "portrait-fusion/0.1"
    return session


class FusionCall:
    """Makes single calls to the endpoint over one keep-alive session."""

    def __init__(self, session: requests.Session, url: str, clock: Callable[[], float]) -> None:
        self._session = session
        self._url = url
        self._clock = clock

    def _read_body(self, response: requests.Response, deadline: float) -> str:
        """The whole body as text (JSON is UTF-8), or `API_TIMEOUT` once `deadline` passes.

        requests' timeout bounds each socket read, not the answer: a server dribbling bytes
        could otherwise hold the call past the invocation's end.
        """
        # Grown in place, then decoded once: a result of n MB costs 2n at most here, where a
        # list of chunks, their join and its decoding would cost 3n.
        body = bytearray()
        with response:
            for chunk in response.iter_content(chunk_size=256 * 1024):
                body += chunk
                if self._clock() > deadline:
                    raise TransientApiError(
                        "the API's answer did not finish arriving in time",
                        code=API_TIMEOUT,
                        http_status=response.status_code,
                    )
        return body.decode("utf-8", "replace")

    def exchange(
        self,
        target: Upload,
        template: Upload,
        similarity: float | None,
        key: ApiKey,
        timeout: float,
    ) -> Reply:
        """One HTTP exchange within `timeout` seconds: the answer as it arrived, whatever it
        says (`answer` reads it); a `TransientApiError` when none (fully) arrived."""
        fields: dict[str, str | tuple[str, io.BytesIO, str]] = {
            "image_target": (target.filename, io.BytesIO(target.data), target.content_type),
            "image_template": (template.filename, io.BytesIO(template.data), template.content_type),
        }
        if similarity is not None:
            fields["source_similarity"] = form_value(similarity)
        body = MultipartEncoder(fields=fields)
        headers = {"Content-Type": body.content_type, API_KEY_HEADER: key.reveal()}
        started = self._clock()
        deadline = started + timeout
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers=headers,
                timeout=(min(CONNECT_TIMEOUT_SECONDS, timeout), timeout),
                stream=True,
            )
        except requests.RequestException as exc:
            raise _unanswered(exc, timeout, http_status=None) from exc
        try:
            content = self._read_body(response, deadline)
        except requests.RequestException as exc:
            # The status arrived: a 200 is billed, whatever became of its body.
            raise _unanswered(exc, timeout, http_status=response.status_code) from exc
        return Reply(
            response.status_code,
            content,
            response.headers.get("Content-Type"),
            parse_retry_after(response.headers.get("Retry-After")),
            latency_ms=round((self._clock() - started) * 1000),
        )


@dataclass
class Reply:
    """An HTTP answer of the endpoint as it arrived, before it is read."""

    status: int
    body: str
    content_type: str | None
    retry_after: float | None
    latency_ms: int


def answer(reply: Reply) -> Answer:
    """What `reply` means: the decoded result, or the `ApiError` it says (with its
    `Retry-After` as `retry_after`). Its body is dropped once read: it can be tens of MB."""
    try:
        success = interpret(reply.status, reply.body, reply.content_type)
    except ApiError as exc:
        exc.retry_after = reply.retry_after
        raise
    finally:
        reply.body = ""
    return _decoded(success, reply.latency_ms)


def _unanswered(
    exc: requests.RequestException, timeout: float, *, http_status: int | None
) -> TransientApiError:
    """The error of a call whose answer never (fully) arrived."""
    if isinstance(exc, requests.Timeout):
        return TransientApiError(
            f"no answer from the API within {timeout:.1f} s",
            code=API_TIMEOUT,
            http_status=http_status,
        )
    return TransientApiError(
        f"connection to the API failed: {type(exc).__name__}",
        code=CONNECTION_ERROR,
        http_status=http_status,
    )


def _decoded(success: ApiSuccess, latency_ms: int) -> Answer:
    """The success's image, decoded and recognised, or a `ProtocolError` (a billed 200)."""
    try:
        # Straight from the str: base64.b64decode would first copy it to ASCII bytes.
        image = binascii.a2b_base64(success.image_base64)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(
            "data.image is not valid base64",
            http_status=200,
            request_id=success.request_id,
            log_id=success.log_id,
        ) from exc
    info = read_header(image)
    if info is None:
        raise ProtocolError(
            "data.image is not a JPEG, PNG or BMP image",
            http_status=200,
            request_id=success.request_id,
            log_id=success.log_id,
        )
    return Answer(image, info, success.request_id, success.log_id, latency_ms)
