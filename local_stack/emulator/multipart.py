"""multipart/form-data bodies, decoded to raw bytes per field name (werkzeug's sans-IO parser).

Werkzeug's high-level form parser would decode parts without a filename as text; the
API receives images, so every part is kept as the exact bytes the client sent.
"""

from __future__ import annotations

from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder


class MalformedForm(ValueError):
    """The body claims to be multipart/form-data but cannot be parsed as such."""


def parse_form(content_type: str | None, body: bytes) -> dict[str, bytes]:
    """Every part of a multipart/form-data body by field name (the first part wins).

    A body of another content type has no parts: the caller then reports the missing
    fields, which is what the API does for a JSON or urlencoded request.
    """
    mimetype, options = parse_options_header(content_type)
    if mimetype != "multipart/form-data":
        return {}
    boundary = options.get("boundary")
    if not boundary:
        raise MalformedForm("multipart/form-data without a boundary")
    decoder = MultipartDecoder(boundary.encode("latin-1"))
    decoder.receive_data(body)
    decoder.receive_data(None)
    parts: dict[str, bytes] = {}
    name: str | None = None
    chunks: list[bytes] = []
    try:
        while not isinstance(event := decoder.next_event(), Epilogue):
            if isinstance(event, Field | File):
                name, chunks = event.name, []
            elif isinstance(event, Data):
                chunks.append(event.data)
                if not event.more_data and name is not None:
                    parts.setdefault(name, b"".join(chunks))
    except ValueError as exc:
        raise MalformedForm(str(exc)) from exc
    return parts
