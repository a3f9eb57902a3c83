"""Every error code the face-fusion API publishes, classified once, with the reason why.

The API's published table (126 codes, shared by all of its endpoints) is classified here and
nowhere else: `api_errors` maps a code to an error class through `rule_for`, and the README's
classification table is rendered from `CODES`. Classify on the code, never on the status:
about 50 codes changed their HTTP status once already. A code not in this table falls back
on the HTTP status (`api_errors.error_class`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What another attempt at the same pair can achieve."""

    PERMANENT = "permanent"  # the same request fails again: write a `failed` document
    TRANSIENT = "transient"  # may pass: retry with backoff, then hand the pair back
    OPERATIONAL = "operational"  # an account or service condition: park the pair for a human


@dataclass(frozen=True)
class CodeRule:
    """How one code is treated, and why."""

    kind: Kind
    reason: str
    max_attempts: int | None = None
    """Calls in one invocation for this code, when fewer than `API_MAX_ATTEMPTS`."""


@dataclass(frozen=True)
class Rule:
    """A code and its rule, as the table lists them."""

    code: str
    rule: CodeRule


def _group(kind: Kind, reason: str, *codes: str, max_attempts: int | None = None) -> list[Rule]:
    return [Rule(code, CodeRule(kind, reason, max_attempts)) for code in codes]


TABLE: list[Rule] = [
    *_group(
        Kind.PERMANENT,
        "a request field is missing, malformed or out of range: resending it changes nothing",
        "ERROR_PARAMETERS",
        "MISSING_PARAMETERS",
        "ERROR_INVALID_PARAMETER",
        "PARAMETERS_CANNOT_EMPTY",
        "UNSUPPORTED_PARAMETER_VALUES",
        "ERROR_INVALID_PARAMETER_FORMAT",
        "ERROR_PARAMETER_CONVERSION_FAILED",
    ),
    *_group(
        Kind.PERMANENT,
        "another endpoint's parameter rule: this endpoint never sends these fields, so an "
        "answer naming one is a refusal of the request as sent",
        "ERROR_MISSING_LIMIT_PARAMETER",
        "ERROR_MISSING_TASKS_PARAMETER",
        "ERROR_MISSING_ASSURE_DIRECTION_PARAMETER",
        "ERROR_MISSING_MIN_HEIGHT_PARAMETER",
        "ERROR_INVALID_SIDE_PARAMETER",
        "ERROR_INVALID_URL",
        "ERROR_UNSUPPORTED_RESPONSE_FORMAT",
        "ERROR_INVALID_OUTPUT_FORMAT",
        "ERROR_MISSING_OUTPUT_FORMAT",
        "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH",
        "ERROR_QUALITY_CONTROL_ERROR",
        "ERROR_LIVENESS_CONTROL_ERROR",
        "ERROR_TOO_MANY_GROUPS_IN_GROUP_LIST",
        "ERROR_TOO_MANY_UIDS_IN_UID_LIST",
        "ERROR_TOO_MANY_APPS_IN_APP_LIST",
        "ERROR_INVALID_FACE_BOX_PARAMETER",
        "ERROR_INVALID_BIG_EYES_PARAMETER",
        "ERROR_INVALID_FACE_SLIMMING_PARAMETER",
        "ERROR_INVALID_SMOOTHING_PARAMETER",
        "ERROR_INVALID_SKIN_WHITENING_PARAMETER",
        "ERROR_INVALID_RESPONSE_FORMAT",
    ),
    *_group(
        Kind.PERMANENT,
        "something the request names does not exist, exists already or is gone for good "
        "(face sets, files, tasks of other endpoints): the same request meets the same state",
        "ERROR_FILE_NOT_FOUND",
        "ERROR_FACE_NOT_FOUND",
        "ERROR_USER_GROUP_NOT_FOUND",
        "ERROR_USER_NOT_FOUND",
        "ERROR_FACE_TOKEN_NOT_FOUND",
        "ERROR_CONTENT_NOT_FOUND",
        "ERROR_RESOURCE_NOT_FOUND",
        "ERROR_FACE_ALREADY_EXISTS",
        "ERROR_DATA_ALREADY_EXISTS",
        "ERROR_USER_GROUP_ALREADY_EXISTS",
        "ERROR_USER_ALREADY_EXISTS",
        "ERROR_DUPLICATE_GROUP_NAME",
        "ERROR_TASK_STOPPED_PROCESSING",
        "ERROR_TASK_REVOCATION_FAILED",
        "ERROR_TASK_REVOKED",
        "ERROR_RESOURCE_RECLAIMED",
    ),
    *_group(
        Kind.PERMANENT,
        "an input is too large, of the wrong type or black and white: the same files fail again",
        "ERROR_TOO_MANY_FILES",
        "FILE_SIZE_EXCEEDS_LIMIT",
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "ERROR_HIGH_RESOLUTION",
        "ERROR_REQUEST_BODY_TOO_LARGE",
        "UNSUPPORTED_FILE_TYPES",
        "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE",
        "ERROR_IMAGE_STORAGE_NOT_SUPPORTED",
    ),
    *_group(
        Kind.PERMANENT,
        "an input's content or face quality is refused: only other images can pass",
        "FILE_DECODING_FAILURE",
        "ERROR_ILLEGAL_FILE",
        "ERROR_INVALID_FILE",
        "ERROR_LOW_RESOLUTION",
        "FILE_CONTENT_NON_COMPLIANCE",
        "ERROR_CONTENT_NON_COMPLIANCE",
        "ERROR_CONTENT_TOO_LONG",
        "ERROR_VIDEO_DURATION_EXCEEDED",
        "ERROR_INCORRECT_FILE_COUNT",
        "ERROR_NO_FACE_IN_FILE",
        "ERROR_FACE_SIZE_NOT_MEET_REQUIREMENTS",
        "ERROR_FACE_SIZE_RATIO_NOT_MET",
        "ERROR_SMALL_FACE_SIZE",
        "ERROR_FACE_COPY_SCENE_MISMATCH",
        "ERROR_FACE_UNRECOGNIZABLE",
        "ERROR_POOR_FACE_QUALITY",
        "ERROR_BLURRY_FACE",
        "ERROR_OBSTRUCTED_FACE",
        "ERROR_POOR_FACE_LIGHTING",
        "ERROR_INCOMPLETE_FACE",
        "ERROR_FACE_NOT_FACING_FORWARD",
        "ERROR_QUALITY_SCORE_NOT_MEET_REQUIREMENTS",
        "ERROR_SCENE_TYPE_MISMATCH",
        "ERROR_CARTOON_FACE_NOT_SUPPORTED",
        "ERROR_TEMPLATE_IMAGE_QUALITY_TOO_LOW",
        "ERROR_ACTION_VERIFICATION_FAILED",
        "ERROR_LEFT_EYE_OCCLUSION_TOO_HIGH",
        "ERROR_RIGHT_EYE_OCCLUSION_TOO_HIGH",
        "ERROR_LEFT_FACE_OCCLUSION_TOO_HIGH",
        "ERROR_RIGHT_FACE_OCCLUSION_TOO_HIGH",
        "ERROR_CHIN_OCCLUSION_TOO_HIGH",
        "ERROR_NOSE_OCCLUSION_TOO_HIGH",
        "ERROR_MOUTH_OCCLUSION_TOO_HIGH",
        "ERROR_SYNTHESIS_DETECTION_FAILED",
        "ERROR_LIVENESS_DETECTION_FAILED",
        "ERROR_NO_RECOGNITION_TARGET_DETECTED",
        "ERROR_IMAGE_RECOGNITION_FAILED",
        "ERROR_POSE_NOT_ENOUGH_KEYPOINTS",
        "ERROR_FACE_COUNT_INVALID",
    ),
    *_group(
        Kind.OPERATIONAL,
        "the API key is unknown or wrong: the secret is re-read once (it may have rotated), "
        "then a human must fix it",
        "ERROR_USER_NOT_EXISTS",
        "ERROR_APPLICATIONS_NOT_EXISTS",
    ),
    *_group(
        Kind.OPERATIONAL,
        "the account is locked, refused, out of credits or over a quota: no pair passes until "
        "a human acts",
        "ERROR_USER_LOCKED",
        "ERROR_ILLEGAL_OPERATION",
        "ERROR_NOT_ENOUGH_CREDITS",
        "ERROR_FACE_TRACE_LIMIT_EXCEEDED",
        "ERROR_DATABASE_LIMIT_EXCEEDED",
    ),
    *_group(
        Kind.OPERATIONAL,
        "the service is deactivated, missing or refused upstream: every pair would fail the "
        "same way until the provider or a human acts",
        "ERROR_AI_NOT_EXISTS",
        "AI_SERVICE_UNAUTHORIZED",
        "AI_SERVICE_NOT_FOUND",
    ),
    *_group(
        Kind.TRANSIENT,
        "a request, concurrency or task limit: back off and retry",
        "EXCEEDING_LIMITS",
        "ERROR_BATCH_TASK_LIMIT_EXCEEDED",
    ),
    *_group(
        Kind.TRANSIENT,
        "the merge itself failed: the provider advises one retry",
        "PROCESSING_FAILURE",
        max_attempts=2,
    ),
    *_group(
        Kind.TRANSIENT,
        "a server or upstream fault, busy or in transit: retry with backoff",
        "ERROR_RESPONSE_BODY_TOO_LARGE",
        "UNKNOWN_ERROR",
        "SERVICE_INTERNAL_ERROR",
        "ERROR_FILE_DOWNLOAD_FAILED",
        "ERROR_FILE_UPLOAD_FAILED",
        "ERROR_DATA_TRANSFER_FAILED",
        "ERROR_GET_FACE_IMAGE_FAILED",
        "ERROR_FACE_IMAGE_ADDITION_FAILED",
        "ERROR_FACE_BLENDING_FAILED",
        "FILE_SERVICE_ERROR",
        "AI_SERVICE_ERROR",
        "AI_SERVICE_INTERNAL_ERROR",
        "ERROR_GATEWAY",
        "ERROR_CLEANING_USER_GROUP_DATA",
        "ERROR_INSUFFICIENT_RESOURCES",
        "ERROR_RESOURCE_IN_TRANSIT",
        "ERROR_RESOURCE_UNAVAILABLE",
        "AI_SERVICE_FLOW_RESTRICTION",
        "ERROR_FILE_DOWNLOAD_TIMEOUT",
        "AI_SERVICE_TIMEOUT",
        "ERROR_RESOURCE_IN_USE",
        "ERROR_TASK_CONFLICT",
    ),
]

CODES: dict[str, CodeRule] = {entry.code: entry.rule for entry in TABLE}
"""Every published code and its rule, in the table's order (one entry per code)."""

AUTH_CODES = frozenset({"ERROR_USER_NOT_EXISTS", "ERROR_APPLICATIONS_NOT_EXISTS"})
"""Codes after which the API key is re-read once: the secret may have been rotated."""


def rule_for(code: str | None) -> CodeRule | None:
    """The rule for a published code; None for a code the table does not know."""
    return CODES.get(code) if code else None


def readme_table() -> str:
    """The README's classification table: one row per kind and reason, its codes listed."""
    rows: dict[tuple[Kind, str], list[str]] = {}
    for entry in TABLE:
        rows.setdefault((entry.rule.kind, entry.rule.reason), []).append(f"`{entry.code}`")
    totals = ", ".join(
        f"{sum(rule.kind is kind for rule in CODES.values())} {kind.value}" for kind in Kind
    )
    lines = [f"{len(CODES)} codes: {totals}.", "", "| class | codes | why |", "|---|---|---|"]
    for (kind, reason), codes in rows.items():
        lines.append(f"| {kind.value} ({len(codes)}) | {', '.join(codes)} | {reason} |")
    return "\n".join(lines)
