"""Taking a cold start's one-off work off the first pair's path.

Left alone, the first pair of an execution environment pays one after another for what
every later pair finds ready: the boto3 clients it meets (tens of milliseconds each to
build), Pillow's import, the API key's read from Secrets Manager, and the TLS handshake to
the API (a round trip or two to a distant host). At init the handler starts a thread that
does all of it, so that it overlaps the first pair's S3 reads instead of following them.

Under SnapStart the split matters: what may live in a snapshot (clients, imports) is
`prepare`d during init; what must not (the secret, open connections, the random state every
restored copy would share) is dropped by `renew` after each restore and made again by
`connect`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portrait_fusion.core.observability import logger

if TYPE_CHECKING:
    import requests

    from portrait_fusion.api.api_key import ApiKeyProvider


@dataclass(frozen=True)
class WarmUp:
    """What a warm execution environment holds, made ready ahead of the first pair."""

    steps: Sequence[Callable[[], object]]
    """What `prepare` makes, in the order a pair needs it: build-once accessors of the clients
    and the idempotency layer, and the image stack's import (`image_decoding.preload`)."""
    clients: Sequence[Callable[[], Any]]  # those of the steps whose connections `renew` drops
    keys: ApiKeyProvider
    session: requests.Session
    api_url: str

    def prepare(self) -> None:
        """Build what a pair needs, in its order (safe to keep in a snapshot)."""
        for step in self.steps:
            step()

    def connect(self) -> None:
        """Read the API key and open a TLS connection to the API (never in a snapshot)."""
        self.keys.get()
        preconnect(self.session, self.api_url)

    def renew(self) -> None:
        """After a snapshot restore: forget the key and every pooled connection, and reseed
        the jitter, so no two restored environments share them."""
        self.keys.forget()
        self.session.close()
        for client in self.clients:
            client().close()
        random.seed()

    def after_restore(self) -> None:
        """The SnapStart restore hook: `renew`, then `connect` beside the first pair."""
        self.renew()
        self.in_background()

    def in_background(self) -> threading.Thread:
        """`prepare` then `connect` on a daemon thread; a failure is left for the pair that
        meets it to report (with its own error), so it is only logged here."""
        thread = threading.Thread(target=self._quietly, name="warm-up", daemon=True)
        thread.start()
        return thread

    def _quietly(self) -> None:
        try:
            self.prepare()
            self.connect()
        except Exception as exc:  # reported by the first pair that needs it
            logger.debug("warm-up stopped early", extra={"reason": type(exc).__name__})


def preconnect(session: requests.Session, url: str) -> None:
    """Put one open connection to `url` in `session`'s pool, with the TLS settings a request
    from this session would use (REQUESTS_CA_BUNDLE included), so the first call skips the
    handshake. Sends nothing: the API sees no request."""
    import requests
    from urllib3 import HTTPConnectionPool

    settings = session.merge_environment_settings(url, {}, None, None, None)
    adapter = session.get_adapter(url)
    if not isinstance(adapter, requests.adapters.HTTPAdapter):
        return
    request = requests.Request("POST", url).prepare()
    pool = adapter.get_connection_with_tls_context(
        request, settings["verify"], settings["proxies"], settings["cert"]
    )
    # urllib3 has no public "open one now"; these two are how its pool lends and takes back
    # a connection.
    if not isinstance(pool, HTTPConnectionPool):
        return
    connection = pool._get_conn()
    try:
        connection.connect()
    finally:
        pool._put_conn(connection)  # a failed one is reopened on first use
