"""A throw-away certificate authority and server certificate for 127.0.0.1 and localhost.

`trustme` issues a proper CA and a proper leaf (what Python 3.13's strict verification,
`VERIFY_X509_STRICT`, demands of a trust anchor and a server certificate). Clients trust the
CA through `REQUESTS_CA_BUNDLE`, so the CA is written to a file.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    """The CA to trust (a PEM file), and a context serving the matching server certificate."""

    ca_bundle: Path
    server_context: ssl.SSLContext


def issue(directory: Path) -> TlsFiles:
    """Create a fresh CA and a server certificate for 127.0.0.1/localhost; the CA goes in
    `directory`."""
    authority = trustme.CA(organization_name="Portrait Fusion local stack")
    leaf = authority.issue_cert("127.0.0.1", "localhost")
    ca_bundle = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_bundle))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    return TlsFiles(ca_bundle, context)
