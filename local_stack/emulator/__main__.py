"""Run the face-fusion emulator on its own: `python -m local_stack.emulator --api-key KEY`.

It prints `FUSION_API_URL=...`, `REQUESTS_CA_BUNDLE=...` and `EMULATOR_ADMIN_URL=...` lines
(shell-friendly, one per line, flushed) and serves until interrupted or terminated.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import threading
from typing import Any

from local_stack.emulator.faults import Faults
from local_stack.emulator.server import FusionEmulator


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.emulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=8443, help="TCP port (0: any free one)")
    parser.add_argument(
        "--api-key",
        action="append",
        required=True,
        dest="api_keys",
        metavar="KEY",
        help="accepted key (repeat)",
    )
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--log-level", default="INFO", help="access log level (default INFO)")
    faults = parser.add_argument_group("faults (all changeable later via PUT /_emulator/faults)")
    faults.add_argument("--latency-ms", type=int)
    faults.add_argument("--latency-jitter-ms", type=int)
    faults.add_argument("--concurrency-cap", type=int, help="in-flight calls beyond it get 429")
    faults.add_argument("--error-rate", type=float, help="share of calls given an error_codes")
    faults.add_argument("--error-codes", type=_csv, help="comma-separated outcomes")
    faults.add_argument("--seed", type=int, help="seed of the error_rate RNG")
    faults.add_argument("--script", type=_csv, help="comma-separated outcomes for the next calls")
    faults.add_argument("--timeout-hold-ms", type=int)
    faults.add_argument("--slow-body-ms", type=int)
    faults.add_argument("--body-style", choices=["new", "old"])
    faults.add_argument("--result-format", choices=["JPEG", "PNG"])
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, start the emulator, print where it is, serve until stopped."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings: dict[str, Any] = vars(args)
    fault_names = {f.name for f in dataclasses.fields(Faults)}  # the flags' dest names
    try:
        faults = Faults.from_dict(
            {k: v for k, v in settings.items() if k in fault_names and v is not None}
        )
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FusionEmulator(args.api_keys, tls=not args.http, port=args.port, faults=faults) as emu:
        print(f"FUSION_API_URL={emu.url}", flush=True)
        if emu.ca_bundle:
            print(f"REQUESTS_CA_BUNDLE={emu.ca_bundle}", flush=True)
        print(f"EMULATOR_ADMIN_URL={emu.admin_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop it
            stop.wait()


if __name__ == "__main__":
    main()
