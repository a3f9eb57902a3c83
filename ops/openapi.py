"""The Pair API's published description, `schemas/pair-api.openapi.yaml` (OpenAPI 3.1).

    python -m ops.openapi            (write the document)
    python -m ops.openapi --check    (exit 1 when the committed document is not current)

The document is built from what the API itself uses: its routes (the function's resolver),
its request rules (`pair_api.pair_request`), its error classes (`pair_api.errors`) and the
view schema (`schemas/pair-view.schema.json`); tests hold it to the resolver and the
template's routes. It is generated here rather than by Powertools' OpenAPI support, which
needs pydantic models at run time: that would add about half a second of imports to every
cold start of the Pair API function (see the README's dependency note).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML: dev only, no stubs installed

from pair_api import errors
from pair_api.pair_request import (
    CORRELATION_ID_RULE,
    FIELDS,
    MAX_BODY_BYTES,
    TEMPLATE_ID_RULE,
)

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "schemas" / "pair-api.openapi.yaml"
VIEW_SCHEMA = ROOT / "schemas" / "pair-view.schema.json"
VERSION = "1.0.0"
PAIR_ID_PATTERN = "^[0-9a-f]{32}$"
# JSON Schema patterns are ECMA-262: `$` is the end of the text (the function matches whole).
CORRELATION_ID_PATTERN = "^[\\x20-\\x7e]{1,128}$"
TEMPLATE_ID_PATTERN = "^[a-z0-9][a-z0-9_-]{0,63}$"


def _error_codes() -> list[str]:
    codes = {cls.code for cls in _subclasses(errors.PairApiError)}
    return sorted(codes | {"ROUTE_NOT_FOUND"})


def _subclasses(cls: type[errors.PairApiError]) -> list[type[errors.PairApiError]]:
    found: list[type[errors.PairApiError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# The answers API Gateway gives itself, before the function runs ({"message": ...}).
_GATEWAY = {
    "401": "No credential, or one the authorizer refused (an expired, forged or foreign token).",
    "403": "A credential without the route's scopes (JWT) or without execute-api:Invoke (IAM).",
    "429": "Over the stage's throttling limits (PairApiThrottlingRateLimit / BurstLimit).",
}
_FUNCTION = {
    "400": "INVALID_REQUEST: the message names the field at fault.",
    "404": "PAIR_NOT_FOUND: no pair with this id belongs to the caller (unknown, erased, or "
    "another caller's: the answers are identical).",
    "413": f"REQUEST_TOO_LARGE: a body over {MAX_BODY_BYTES} bytes.",
    "415": "UNSUPPORTED_MEDIA_TYPE: a body that is not application/json.",
    "500": "STORAGE_ERROR: the stack's storage failed; try again.",
}


def _errors(*statuses: str) -> dict[str, Any]:
    answers = {}
    for status in statuses:
        if status in _GATEWAY:
            described = _GATEWAY[status]
            if status == "429":
                described += " DAILY_BUDGET_EXHAUSTED from POST /pairs: the caller's merges for "
                described += "today are spent."
            schema: dict[str, Any] = {"oneOf": [_ref("GatewayError"), _ref("Error")]}
        else:
            described, schema = _FUNCTION[status], _ref("Error")
        answers[status] = _json(schema, described)
    return answers


def _pair_id_parameter() -> dict[str, Any]:
    return {
        "name": "pair_id",
        "in": "path",
        "required": True,
        "description": "The id POST /pairs returned.",
        "schema": {"type": "string", "pattern": PAIR_ID_PATTERN},
    }


def _schemas() -> dict[str, Any]:
    view = json.loads(VIEW_SCHEMA.read_text())
    for name in ("$schema", "$id"):
        view.pop(name)
    upload = {
        "type": "object",
        "required": ["url", "fields"],
        "additionalProperties": False,
        "description": "A presigned POST: send `fields` unchanged, then `Content-Type` "
        "(image/...), then `file`, as multipart/form-data, within 5 minutes.",
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    return {
        "NewPair": {
            "type": "object",
            "additionalProperties": False,
            "description": f"Every field is optional (the fields are {', '.join(FIELDS)}).",
            "properties": {
                "source_similarity": {
                    "type": ["number", "null"],
                    "minimum": 0,
                    "maximum": 1,
                    "description": "0 = like the template, 1 = as like the target as possible.",
                },
                "correlation_id": {
                    "type": ["string", "null"],
                    "pattern": CORRELATION_ID_PATTERN,
                    "description": f"Your own id, echoed in the view: {CORRELATION_ID_RULE}.",
                },
                "template_id": {
                    "type": ["string", "null"],
                    "pattern": TEMPLATE_ID_PATTERN,
                    "description": f"A catalogue entry (GET /templates): {TEMPLATE_ID_RULE}. "
                    "An id not in the catalogue is a 400 naming template_id.",
                },
            },
        },
        "Upload": upload,
        "CreatedPair": {
            "type": "object",
            "required": ["pair_id", "uploads", "status_url"],
            "additionalProperties": False,
            "properties": {
                "pair_id": {"type": "string", "pattern": PAIR_ID_PATTERN},
                "uploads": {
                    "type": "object",
                    "required": ["target"],
                    "additionalProperties": False,
                    "description": "`template` is absent when a template_id was given.",
                    "properties": {"target": _ref("Upload"), "template": _ref("Upload")},
                },
                "status_url": {"type": "string", "format": "uri"},
            },
        },
        "PairView": view,
        "Erased": {
            "type": "object",
            "required": ["pair_id", "erased"],
            "additionalProperties": False,
            "properties": {
                "pair_id": {"type": "string", "pattern": PAIR_ID_PATTERN},
                "erased": {
                    "type": "object",
                    "required": ["objects", "records"],
                    "additionalProperties": False,
                    "properties": {
                        "objects": {"type": "integer", "minimum": 0},
                        "records": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
        "Template": {
            "type": "object",
            "required": ["template_id", "width", "height", "preview_url"],
            "additionalProperties": False,
            "properties": {
                "template_id": {"type": "string", "pattern": TEMPLATE_ID_PATTERN},
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
                "preview_url": {"type": "string", "format": "uri"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {"enum": _error_codes()},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "GatewayError": {
            "type": "object",
            "required": ["message"],
            "additionalProperties": False,
            "description": "API Gateway's own answer, before the function runs.",
            "properties": {"message": {"type": "string"}},
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the Pair API."""
    pair = [_pair_id_parameter()]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portrait Fusion Pair API",
            "version": VERSION,
            "description": (
                "Create a pair, upload its halves straight to S3 with presigned POSTs, watch "
                "it and download the merged portrait. Every route needs a caller (a JWT or a "
                "SigV4 signature, as the stack's PairApiAuth says); a pair is its creator's "
                "alone. Generated by `python -m ops.openapi`; do not edit by hand."
            ),
        },
        "servers": [
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com",
                "description": "The stack's PairApiUrl output.",
                "variables": {
                    "api_id": {"default": "abcdef1234"},
                    "region": {"default": "us-east-1"},
                },
            }
        ],
        "security": [{"bearerAuth": []}, {"sigv4": []}],
        "paths": {
            "/pairs": {
                "post": {
                    "operationId": "createPair",
                    "summary": "Create a pair and presign its uploads",
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": _ref("NewPair")}},
                    },
                    "responses": {
                        "201": _json(_ref("CreatedPair"), "The pair, and where to upload."),
                        **_errors("400", "401", "403", "413", "415", "429", "500"),
                    },
                }
            },
            "/pairs/{pair_id}": {
                "get": {
                    "operationId": "describePair",
                    "summary": "A pair of the caller's, as an app sees it",
                    "parameters": pair,
                    "responses": {
                        "200": _json(_ref("PairView"), "The pair's public view."),
                        **_errors("400", "401", "403", "404", "429", "500"),
                    },
                },
                "delete": {
                    "operationId": "erasePair",
                    "summary": "Erase a pair of the caller's: its inputs, outputs and records",
                    "parameters": pair,
                    "responses": {
                        "200": _json(_ref("Erased"), "What the erasure removed."),
                        **_errors("400", "401", "403", "404", "429", "500"),
                    },
                },
            },
            "/templates": {
                "get": {
                    "operationId": "listTemplates",
                    "summary": "The template catalogue",
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": _ref("Template")}, "Every template."
                        ),
                        **_errors("401", "403", "429", "500"),
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "PairApiAuth=JWT: a token of JwtIssuer for one of "
                    "JwtAudience, checked by API Gateway's JWT authorizer (signature, iss, "
                    "aud, exp, nbf). The caller is its iss and sub.",
                },
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "PairApiAuth=IAM: a request SigV4-signed for execute-api "
                    "by a principal allowed execute-api:Invoke. The caller is that principal.",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
            },
        },
    }


def rendered() -> str:
    """The document as committed."""
    text: str = yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)
    return text


def main(argv: list[str] | None = None) -> int:
    """Write the document, or check that the committed one is current."""
    parser = argparse.ArgumentParser(prog="python -m ops.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is not current")
    args = parser.parse_args(argv)
    text = rendered()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT.name} is not current: run python -m ops.openapi", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
