"""``make demo``: the whole pipeline on one machine, on the bundled portraits.

    python -m local_stack.demo [--out out/demo] [--timeout 120] [--docs [PATH]]

Starts the local stack (moto provisioned from template.yaml, the face-fusion emulator, the
SQS event source mapping running the real handler), uploads every pair of
:mod:`local_stack.demo_pairs` (first halves, then their partners), waits for each pair's
result.json, and copies results and documents to ``<out>/<pair-id>/``. It then draws a
contact sheet per pair and ``<out>/overview.png``, prints a summary and the wall time,
and exits non-zero if a pair did not end as expected. With ``AILAB_API_KEY`` set, the
function calls the real AILabTools API instead of the emulator (the key goes into the
local secret only). ``--docs`` also writes a small copy of the overview for the README.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from local_stack import contact_sheet, demo_events, demo_status
from local_stack.aws import LocalStack
from local_stack.cfn import TemplateError
from local_stack.demo_pairs import DEMO_PAIRS, DemoPair, Role
from local_stack.emulator.faces import find_face
from local_stack.stack import RunningStack, running_stack

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DOCS_OVERVIEW = ROOT / "docs" / "demo-overview.png"
DOCS_MAX_BYTES = 600_000
API_KEY_VARIABLE = "AILAB_API_KEY"
POLL_INTERVAL_S = 0.25
CLOSE_UP_MARGIN = 1.6  # the close-up is this many times the face box's size, around it
CLOSE_UP_SIDE = 600  # px: more than any panel shows, so the panel only ever shrinks it
ROLES: tuple[Role, Role] = ("target", "template")


@dataclass(frozen=True)
class DemoResult:
    """How one pair ended: its result document (None if none came) and the local copies."""

    pair: DemoPair
    document: dict[str, Any] | None
    result_file: Path | None

    @property
    def as_expected(self) -> bool:
        """Whether the pair ended the way :attr:`DemoPair.expected` says."""
        return self.pair.expected.met_by(self.document)

    @property
    def status(self) -> str:
        """``succeeded``, ``failed``, or ``no result`` when no document was written in time."""
        return "no result" if self.document is None else str(self.document["status"])

    @property
    def error(self) -> Mapping[str, Any] | None:
        """The document's error object, if any."""
        return None if self.document is None else self.document["error"]

    @property
    def attempts(self) -> int:
        """API calls made for the pair."""
        return int(((self.document or {}).get("api") or {}).get("attempts", 0))

    @property
    def latency_ms(self) -> int | None:
        """The API's answer time; None when the API was not called."""
        if self.document is None or not self.attempts:
            return None
        latency: int | None = self.document["api"]["latency_ms"]
        # The function records latency_ms for results only; for a refusal, the api stage's
        # time is the nearest figure.
        return self.document["timings_ms"].get("api") if latency is None else latency


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; 0 when every pair ended as expected."""
    args = _parser().parse_args(argv)
    # The console is for the demo's own report; the function's logs go to a file.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    started = time.monotonic()
    api_key = os.environ.get(API_KEY_VARIABLE, "").strip()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    log_file = out / "function.log"
    log_file.write_text("")
    print(f"Portrait Fusion demo: {len(DEMO_PAIRS)} bundled pairs through the local stack")
    try:
        with running_stack(
            TEMPLATE,
            api_key=api_key or secrets.token_hex(16),
            real_api=bool(api_key),
            names_prefix="demo",
            log_file=log_file,
        ) as running:
            api_used = _announce(running, time.monotonic() - started)
            outcomes = _run_pairs(running.stack, running.function_env, out, args.timeout)
            pair_ids = [pair.pair_id for pair in DEMO_PAIRS]
            events = demo_events.collect(running.stack, pair_ids)
    except (TemplateError, OSError) as exc:  # a template the stack cannot run, a busy port
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    _draw(outcomes, out, api_used, args.docs, args.timeout)
    _print_summary(outcomes)
    demo_events.report(events, pair_ids, out)
    print(
        f"\nresults, result.json and contact-sheet.png: {out}/<pair-id>/; events: "
        f"{out / 'events.json'}; "
        f"overview: {out / 'overview.png'}; function log: {log_file}"
    )
    if args.docs:
        print(f"README copy of the overview: {args.docs}")
    print(f"wall time: {time.monotonic() - started:.1f} s (after Python's imports)")
    return _verdict(outcomes, log_file)


def _verdict(outcomes: Sequence[DemoResult], log_file: Path) -> int:
    """Say whether every pair ended as expected; the exit status."""
    missing = sum(o.document is None for o in outcomes)
    if missing:
        print(
            f"{missing} pair(s) wrote no result.json in time (handed back for a retry, or still "
            f"running); {log_file} says why (with the real API: check the network and the key)"
        )
    unexpected = [o.pair.pair_id for o in outcomes if not o.as_expected]
    if unexpected:
        print(f"NOT as expected: {', '.join(unexpected)}")
        return 1
    print(f"all {len(outcomes)} pairs ended as expected")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="default: out/demo")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the results"
    )
    parser.add_argument(
        "--docs",
        type=Path,
        nargs="?",
        const=DOCS_OVERVIEW,
        help=f"also write the overview, under {DOCS_MAX_BYTES // 1000} KB, to PATH "
        "(default: docs/demo-overview.png)",
    )
    return parser


def _announce(running: RunningStack, startup_s: float) -> str:
    """Say which face-fusion API the function calls (never the key); a label for the images."""
    api_url = running.function_env["FUSION_API_URL"]
    if running.emulator is None:
        print(f"face-fusion API: the REAL AILabTools API at {api_url} ({API_KEY_VARIABLE} is set)")
        api_used = "the AILabTools API"
    else:
        print(
            f"face-fusion API: the local EMULATOR at {api_url} "
            f"(set {API_KEY_VARIABLE} to call the real API)"
        )
        api_used = "the face-fusion emulator"
    stack = running.stack
    print(
        f"stack up in {startup_s:.1f} s: moto at {stack.endpoint_url}, event source mapping "
        f"with batch size {stack.batch_size} and concurrency {stack.max_concurrency}",
        flush=True,
    )
    return api_used


def _run_pairs(
    stack: LocalStack, function_env: Mapping[str, str], out: Path, timeout_s: float
) -> list[DemoResult]:
    """Upload every pair, wait for the documents and copy them and the results to ``out``."""
    s3: Any = stack.client("s3")
    _upload(s3, stack.input_bucket, function_env["INPUT_PREFIX"])
    print(
        f"uploaded {2 * len(DEMO_PAIRS)} halves; waiting for the result documents "
        "(each with its time since the uploads)",
        flush=True,
    )
    documents = _wait_for_documents(
        s3, stack.output_bucket, function_env["OUTPUT_PREFIX"], timeout_s
    )
    return [_copy_out(s3, pair, documents[pair.pair_id], out / pair.pair_id) for pair in DEMO_PAIRS]


def _upload(s3: Any, bucket: str, prefix: str) -> None:
    """Every pair's first half, then every partner: the halves of a pair arrive apart, in
    both orders, and may land in different batches and workers."""
    for second in (False, True):
        for pair in DEMO_PAIRS:
            role = _other(pair.first) if second else pair.first
            image = pair.image(role)
            metadata = {}
            if role == "target":  # echoed in result.json and the completion event
                metadata["correlation-id"] = f"demo-{pair.pair_id}"
            if role == "target" and pair.similarity is not None:
                metadata["source-similarity"] = str(pair.similarity)
            s3.put_object(
                Bucket=bucket,
                Key=f"{prefix}{pair.pair_id}/{role}.{image.ext}",
                Body=image.data,
                Metadata=metadata,
            )


def _copy_out(s3: Any, pair: DemoPair, document: dict[str, Any] | None, folder: Path) -> DemoResult:
    """Write the document and the result image (if any) into ``folder``, emptied first."""
    shutil.rmtree(folder, ignore_errors=True)  # no leftovers from an earlier run
    folder.mkdir(parents=True)
    result_file = None
    if document is not None:
        (folder / "result.json").write_text(json.dumps(document, indent=2) + "\n")
        result = document["result"]
        if result is not None:
            body = s3.get_object(Bucket=result["bucket"], Key=result["key"])["Body"].read()
            result_file = folder / result["key"].rsplit("/", 1)[-1]
            result_file.write_bytes(body)
    return DemoResult(pair, document, result_file)


def _other(role: Role) -> Role:
    return "template" if role == "target" else "target"


def _wait_for_documents(
    s3: Any, bucket: str, prefix: str, timeout_s: float
) -> dict[str, dict[str, Any] | None]:
    """Each pair's result.json, polled until all are there or ``timeout_s`` has passed."""
    started = time.monotonic()
    documents: dict[str, dict[str, Any] | None] = {pair.pair_id: None for pair in DEMO_PAIRS}
    pending = set(documents)
    while pending and time.monotonic() - started < timeout_s:
        for pair_id in sorted(pending):
            try:
                body = s3.get_object(Bucket=bucket, Key=f"{prefix}{pair_id}/result.json")["Body"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                    continue
                raise
            document: dict[str, Any] = json.loads(body.read())
            documents[pair_id] = document
            pending.discard(pair_id)
            code = (document["error"] or {}).get("code", "")
            elapsed = time.monotonic() - started
            print(f"  {pair_id:<20} {document['status']:<10} {code:<34} after {elapsed:4.1f} s")
        if pending:
            time.sleep(POLL_INTERVAL_S)
    for pair_id in sorted(pending):
        print(f"  {pair_id:<20} no result.json within {timeout_s:g} s")
    return documents


def _draw(
    outcomes: Sequence[DemoResult], out: Path, api_used: str, docs: Path | None, timeout_s: float
) -> None:
    """A contact sheet per pair, the overview, and the README's copy if asked for."""
    sheets = [_sheet(outcome, timeout_s) for outcome in outcomes]
    for outcome, sheet in zip(outcomes, sheets, strict=True):
        contact_sheet.save_png(
            contact_sheet.render(sheet), out / outcome.pair.pair_id / "contact-sheet.png"
        )
    overview = contact_sheet.overview(
        "Portrait Fusion Pipeline: make demo",
        f"{len(outcomes)} pairs through moto, the SQS event source mapping and {api_used}",
        sheets,
    )
    contact_sheet.save_png(overview, out / "overview.png")
    if docs:
        docs.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet.save_png(overview, docs, max_bytes=DOCS_MAX_BYTES)


def _sheet(outcome: DemoResult, timeout_s: float) -> contact_sheet.Sheet:
    pair = outcome.pair
    # Each input as it was uploaded: a phone photo stored sideways shows sideways here.
    inputs = tuple(
        contact_sheet.Panel(role, pair.image(role).label, pair.image(role).stored())
        for role in ROLES
    )
    error = outcome.error
    close_up: tuple[contact_sheet.Panel, ...] = ()
    if outcome.result_file is not None:
        with Image.open(outcome.result_file) as result:
            picture = result.convert("RGB")
        caption = f"{outcome.result_file.name}, {picture.width}x{picture.height}"
        result_panel = contact_sheet.Panel("result", caption, picture)
        close_up = _close_up(picture)
    elif error is not None:
        result_panel = contact_sheet.Panel(
            "result",
            "no result image",
            message=("failed", error["code"], f"at {error['stage']}: {error['message']}"),
        )
    else:
        result_panel = contact_sheet.Panel(
            "result", "no result image", message=("no result", f"none within {timeout_s:g} s")
        )
    status = demo_status.status_line(outcome.document, pair.similarity)
    if not outcome.as_expected:
        status += f"; NOT as expected ({pair.expected.describe()})"
    tone: contact_sheet.Tone = (
        "good" if outcome.status == "succeeded" else "bad" if error else "neutral"
    )
    panels = (*inputs, result_panel, *close_up)
    return contact_sheet.Sheet(pair.pair_id, pair.story, status, tone, panels)


def _close_up(result: Image.Image) -> tuple[contact_sheet.Panel, ...]:
    """A panel with the result's face enlarged (in a thumbnail of a portrait, a face is a
    few dozen pixels); none when no face is found in the result."""
    face = find_face(result)
    if face is None:
        return ()
    cx, cy = face.box.centre
    half = CLOSE_UP_MARGIN * max(face.box.w, face.box.h) / 2
    left, top = max(0, round(cx - half)), max(0, round(cy - half))
    right, bottom = min(result.width, round(cx + half)), min(result.height, round(cy + half))
    crop = result.crop((left, top, right, bottom))
    enlarged = crop.resize(
        (CLOSE_UP_SIDE, CLOSE_UP_SIDE * crop.height // crop.width), Image.Resampling.LANCZOS
    )
    caption = f"{crop.width}x{crop.height} px around the face"
    return (contact_sheet.Panel("the face, enlarged", caption, enlarged),)


def _print_summary(outcomes: Sequence[DemoResult]) -> None:
    """The table: one row per pair, then notes on inputs the function adjusted."""
    header = ("pair", "outcome", "error code", "API ms", "attempts", "similarity", "expected")
    rows = []
    for outcome in outcomes:
        similarity, latency = outcome.pair.similarity, outcome.latency_ms
        rows.append(
            (
                outcome.pair.pair_id,
                outcome.status,
                (outcome.error or {}).get("code", "-"),
                "-" if latency is None else str(latency),
                str(outcome.attempts),
                "-" if similarity is None else str(similarity),
                "yes" if outcome.as_expected else f"NO: {outcome.pair.expected.describe()}",
            )
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    numeric = {3, 4}  # right-aligned
    print("\nsummary:")
    for row in (header, *rows):
        cells = (
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        print("  " + "  ".join(cells).rstrip())
    for outcome in outcomes:
        for role, adjusted in demo_status.adjusted_inputs(outcome.document):
            print(f"  note: {outcome.pair.pair_id}: {demo_status.adjustment(role, adjusted)}")


if __name__ == "__main__":  # the event source mapping's workers are spawned: keep this guard
    sys.exit(main())
