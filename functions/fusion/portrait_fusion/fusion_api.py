"""The AILabTools face-fusion client: streamed multipart, keep-alive, retries with full jitter."""

from __future__ import annotations

import binascii
import io
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from requests_toolbelt import MultipartEncoder

from portrait_fusion.api_errors import (
    API_TIMEOUT,
    AUTH_CODES,
    CONNECTION_ERROR,
    ProtocolError,
    interpret,
)
from portrait_fusion.api_key import ApiKey, ApiKeyProvider
from portrait_fusion.errors import (
    ApiError,
    OperationalApiError,
    OutOfTimeError,
    PermanentApiError,
    TransientApiError,
)
from portrait_fusion.preflight import ImageInfo, read_header

API_KEY_HEADER = "ailabapi-api-key"
# Below this many seconds left there is no point starting a call: it could not finish.
MIN_CALL_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Upload:
    """One image as sent to the API."""

    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class FusionResult:
    """The decoded result image and how the call went."""

    image: bytes
    info: ImageInfo
    request_id: str | None
    log_id: str | None
    attempts: int
    latency_ms: int


def new_session() -> requests.Session:
    """A session for the API: one keep-alive connection pool, no hidden retries."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=2, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "portrait-fusion/0.1"
    return session


class FusionApiClient:
    """Calls the Merge Portraits endpoint; classifies and retries its failures."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        keys: ApiKeyProvider,
        *,
        timeout_seconds: float,
        max_attempts: int,
        backoff_base_seconds: float = 0.5,
        backoff_cap_seconds: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._url = url
        self._keys = keys
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._base = backoff_base_seconds
        self._cap = backoff_cap_seconds
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        # One call in flight per execution environment: a batch overlaps its pairs' reads
        # and writes with another pair's call, and the event source mapping's
        # MaximumConcurrency still caps the calls the API sees.
        self._one_call = threading.Lock()

    def merge(
        self,
        target: Upload,
        template: Upload,
        similarity: float | None,
        *,
        seconds_left: Callable[[], float],
    ) -> FusionResult:
        """Merge `target`'s face into `template`, retrying transient failures while time is left.

        Raises `PermanentApiError`, `OperationalApiError` (no in-function retry) or
        `TransientApiError` once attempts or time run out. A 401 re-reads the key once.
        """
        calls = 0
        transient_failures = 0
        key_refreshed = False
        key = self._keys.get()
        while True:
            try:
                with self._one_call:
                    budget = seconds_left()
                    if budget < MIN_CALL_SECONDS:
                        raise OutOfTimeError(f"{budget:.1f} s left: not enough to call the API")
                    calls += 1
                    started = self._clock()
                    result = self._call(
                        target, template, similarity, key, min(self._timeout, budget)
                    )
                    latency_ms = round((self._clock() - started) * 1000)
            except OperationalApiError as exc:
                if exc.code in AUTH_CODES and not key_refreshed:
                    key_refreshed = True
                    fresh = self._keys.get(refresh=True)
                    if fresh != key:  # the secret was rotated since we cached it
                        key = fresh
                        continue
                raise _annotated(exc, calls) from None
            except TransientApiError as exc:
                transient_failures += 1
                if transient_failures >= self._max_attempts:
                    raise _exhausted(exc, calls) from None
                delay = self._jitter() * min(self._cap, self._base * 2 ** (transient_failures - 1))
                if delay + MIN_CALL_SECONDS > seconds_left():
                    raise _annotated(exc, calls) from None
                self._sleep(delay)
                continue
            except ApiError as exc:
                raise _annotated(exc, calls) from None
            return FusionResult(result[0], result[1], result[2], result[3], calls, latency_ms)

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
                        "the API's answer did not finish arriving in time", code=API_TIMEOUT
                    )
        return body.decode("utf-8", "replace")

    def _call(
        self,
        target: Upload,
        template: Upload,
        similarity: float | None,
        key: ApiKey,
        timeout: float,
    ) -> tuple[bytes, ImageInfo, str | None, str | None]:
        fields: dict[str, str | tuple[str, io.BytesIO, str]] = {
            "image_target": (target.filename, io.BytesIO(target.data), target.content_type),
            "image_template": (template.filename, io.BytesIO(template.data), template.content_type),
        }
        if similarity is not None:
            fields["source_similarity"] = repr(similarity)
        body = MultipartEncoder(fields=fields)
        headers = {"Content-Type": body.content_type, API_KEY_HEADER: key.reveal()}
        deadline = self._clock() + timeout
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers=headers,
                timeout=(min(CONNECT_TIMEOUT_SECONDS, timeout), timeout),
                stream=True,
            )
            content = self._read_body(response, deadline)
        except requests.Timeout as exc:
            raise TransientApiError(
                f"no answer from the API within {timeout:.1f} s", code=API_TIMEOUT
            ) from exc
        except requests.RequestException as exc:
            raise TransientApiError(
                f"connection to the API failed: {type(exc).__name__}", code=CONNECTION_ERROR
            ) from exc
        success = interpret(response.status_code, content, response.headers.get("Content-Type"))
        del content, response  # the body can be tens of MB; keep only the decoded image
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
        return image, info, success.request_id, success.log_id


def _annotated(exc: ApiError, calls: int) -> ApiError:
    exc.attempts = calls
    return exc


def _exhausted(exc: TransientApiError, calls: int) -> ApiError:
    """After the last attempt a protocol error is final (and keeps the code it got)."""
    if isinstance(exc, ProtocolError):
        final = PermanentApiError(
            f"{exc.message} (after {calls} attempts)",
            code=exc.code,
            http_status=exc.http_status,
            request_id=exc.request_id,
            log_id=exc.log_id,
        )
        return _annotated(final, calls)
    return _annotated(exc, calls)
