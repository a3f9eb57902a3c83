"""A thin `requests` client for the emulator, as the function's own client would call it."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import requests
from PIL import Image

from local_stack.emulator import FusionEmulator

API_KEY = "test-key"


@dataclass
class FusionClient:
    """Posts multipart calls to one emulator, trusting its CA through `REQUESTS_CA_BUNDLE`."""

    emulator: FusionEmulator

    def post(
        self,
        target: bytes | None,
        template: bytes | None,
        similarity: str | None = None,
        *,
        key: str | None = API_KEY,
        **kwargs: Any,
    ) -> requests.Response:
        """One call; a None image or similarity is left out of the form, a None key too."""
        files: dict[str, Any] = {}
        if target is not None:
            files["image_target"] = ("target.jpg", target, "application/octet-stream")
        if template is not None:
            files["image_template"] = ("template.jpg", template, "application/octet-stream")
        if similarity is not None:
            files["source_similarity"] = (None, similarity)
        headers = {"ailabapi-api-key": key} if key is not None else {}
        return requests.post(
            self.emulator.url,
            files=files,
            headers=headers,
            timeout=kwargs.pop("timeout", 10),
            **kwargs,
        )

    def admin(self, method: str, name: str, document: Any = None) -> requests.Response:
        """A call to an admin endpoint (`faults`, `stats`, `reset`, `api-keys`)."""
        return requests.request(
            method, f"{self.emulator.admin_url}/{name}", json=document, timeout=10
        )


def error_code(response: requests.Response) -> str:
    """`error_detail.code` of an error answer."""
    return str(response.json()["error_detail"]["code"])


def result_image(response: requests.Response) -> Image.Image:
    """The decoded result image of a successful answer."""
    assert response.status_code == 200, response.text[:300]
    data = base64.b64decode(response.json()["data"]["image"])
    return Image.open(io.BytesIO(data))
