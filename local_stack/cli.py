"""``python -m local_stack up``: moto, the face-fusion emulator and the event source mapping.

Everything runs in this process (plus one worker process per concurrent execution) until
Ctrl-C or SIGTERM. Once up, it prints ``export`` lines on stdout, so that another shell can
use the ordinary AWS CLI against the stack; logs go to stderr.

``python -m local_stack invoke EVENT`` runs the function once on an event file against the
running stack (see :mod:`local_stack.invoke`); ``python -m local_stack token --subject NAME``
prints a JWT the running stack's Pair API accepts, signed by its issuer.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shlex
import signal
import threading
from pathlib import Path

from local_stack.aws import LocalStack, aws_env, local_client
from local_stack.cfn import TemplateError
from local_stack.emulator import Faults
from local_stack.esm import InvalidMapping
from local_stack.invoke import STATE_FILE, StackState, invoke, print_invocation
from local_stack.jwt_issuer import JWKS_PATH, LocalIssuer
from local_stack.stack import running_stack

logger = logging.getLogger("local_stack")

PORTRAITS = Path(__file__).resolve().parent / "portraits"
# How long the token `up` prints stays valid: a working day of trying the API.
READY_TOKEN_HOURS = 24
READY_SUBJECT = "demo-user"
# The pair `events/*.json` name: `incoming/demo pair/target.jpg` and `template.png`.
DEMO_PAIR_FILES = {
    "target.jpg": PORTRAITS / "grace_hopper.jpg",
    "template.png": PORTRAITS / "astronaut.png",
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand; the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        if args.command == "invoke":
            return print_invocation(invoke(args.event, StackState.load(args.state_file)))
        if args.command == "token":
            return print_token(args)
        return up(args)
    # a refused override or mapping, a port in use, no stack
    except (TemplateError, InvalidMapping, OSError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_ = commands.add_parser("up", help="run the whole local stack until interrupted")
    up_.add_argument("--template", type=Path, default=Path("template.yaml"))
    up_.add_argument("--moto-port", type=int, default=5000, help="default: 5000")
    up_.add_argument("--emulator-port", type=int, default=0, help="default: any free port")
    up_.add_argument("--emulator-latency-ms", type=int, default=0, help="API answer delay")
    up_.add_argument("--api-key", default=None, help="default: a random one")
    up_.add_argument("--batch-size", type=int, help="default: the template's BatchSize")
    up_.add_argument("--concurrency", type=int, help="default: the template's MaxConcurrency")
    up_.add_argument(
        "--visibility-timeout",
        type=int,
        help="seconds, no less than the function's Timeout (as Lambda requires); default: the "
        "template's",
    )
    up_.add_argument("--handler", help="default: FusionFunction's Handler in the template")
    up_.add_argument("--log-file", type=Path, help="function logs; default: stderr")
    up_.add_argument("--pair-api-port", type=int, default=8080, help="default: 8080")
    up_.add_argument(
        "--partner-timeout-minutes",
        type=int,
        help="whole minutes (1 or more, as the template's PartnerTimeoutMinutes allows) a lone "
        "half waits for its partner; default: the template's",
    )
    up_.add_argument(
        "--sweep-minutes",
        type=float,
        help="how often the partner-timeout sweep runs (fractions allowed); "
        "default: the template's PartnerSweepMinutes",
    )
    up_.add_argument(
        "--state-file", type=Path, default=STATE_FILE, help=f"for `invoke`; default: {STATE_FILE}"
    )
    up_.add_argument(
        "--seed",
        action="store_true",
        help="upload the demo pair that the events/ files name (incoming/demo pair/)",
    )
    invoke_ = commands.add_parser(
        "invoke", help="run the function once on an event file against the running stack"
    )
    invoke_.add_argument("event", type=Path, help="e.g. events/ad-hoc-pair.json")
    invoke_.add_argument("--state-file", type=Path, default=STATE_FILE, help="what `up` wrote")
    token_ = commands.add_parser(
        "token", help="print a signed JWT for the running stack's Pair API (Bearer token)"
    )
    token_.add_argument("--subject", required=True, help="the sub claim: who the caller is")
    token_.add_argument(
        "--expires-in", type=int, default=3600, help="seconds until it expires; default: 3600"
    )
    token_.add_argument("--state-file", type=Path, default=STATE_FILE, help="what `up` wrote")
    return parser


def up(args: argparse.Namespace) -> int:
    """Start everything, print the environment to use it, serve until a signal."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    api_key = args.api_key or secrets.token_hex(16)
    # Template parameters, checked against the template's constraints like a deploy would.
    overrides = {
        name: str(value)
        for name, value in (
            ("BatchSize", args.batch_size),
            ("MaxConcurrency", args.concurrency),
            ("PartnerTimeoutMinutes", args.partner_timeout_minutes),
        )
        if value is not None
    }
    with running_stack(
        args.template,
        api_key=api_key,
        moto_port=args.moto_port,
        emulator_port=args.emulator_port,
        faults=Faults(latency_ms=args.emulator_latency_ms),
        overrides=overrides,
        visibility_timeout=args.visibility_timeout,
        handler=args.handler,
        log_file=args.log_file,
        sweep_interval_s=None if args.sweep_minutes is None else args.sweep_minutes * 60,
        pair_api_port=args.pair_api_port,
    ) as running:
        stack = running.stack
        StackState(
            handler=args.handler or stack.handler,
            input_bucket=stack.input_bucket,
            function_env=running.function_env | aws_env(stack.endpoint_url, stack.region),
            timeout_s=stack.function_timeout,
            memory_size_mb=stack.memory_size,
            pair_api_issuer=None
            if running.pair_api is None
            else running.pair_api.issuer.to_state(),
        ).save(args.state_file)
        _print_exports(stack, running.function_env)
        if args.seed:
            seed_demo_pair(stack, running.function_env["INPUT_PREFIX"])
        if running.pair_api is not None:
            _print_pair_api(running.pair_api.url, running.pair_api.issuer)
        logger.info(
            "up: batch size %d, concurrency %d, visibility timeout %d s; Ctrl-C stops",
            stack.batch_size,
            stack.max_concurrency,
            stack.visibility_timeout,
        )
        try:
            stopping.wait()
        finally:
            args.state_file.unlink(missing_ok=True)
        logger.info("stopping; event source mapping %s", running.esm.stats())
    return 0


def seed_demo_pair(stack: LocalStack, input_prefix: str) -> None:
    """Upload the bundled portraits as the pair the console-ready events name."""
    s3 = local_client("s3", stack.endpoint_url, stack.region)
    for name, source in DEMO_PAIR_FILES.items():
        key = f"{input_prefix}demo pair/{name}"
        s3.put_object(Bucket=stack.input_bucket, Key=key, Body=source.read_bytes())
        logger.info("seeded s3://%s/%s", stack.input_bucket, key)


def _print_exports(stack: LocalStack, env: dict[str, str]) -> None:
    exports = aws_env(stack.endpoint_url, stack.region) | {
        "INPUT_BUCKET": stack.input_bucket,
        "OUTPUT_BUCKET": stack.output_bucket,
        "FUSION_QUEUE_URL": stack.queue_url,
        "FUSION_DLQ_URL": stack.dlq_url,
        "IDEMPOTENCY_TABLE": stack.table_name,
        "API_KEY_SECRET_ID": stack.secret_id,
        "FUSION_API_URL": env["FUSION_API_URL"],
        "REQUESTS_CA_BUNDLE": env["REQUESTS_CA_BUNDLE"],
    }
    if stack.events_queue_url:
        exports["FUSION_EVENTS_QUEUE_URL"] = stack.events_queue_url
    print("# the local stack is up; in another shell:")
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    print(
        f"# e.g. aws s3 cp portrait.jpg s3://$INPUT_BUCKET/{env['INPUT_PREFIX']}demo/target.jpg",
        flush=True,
    )


def print_token(args: argparse.Namespace) -> int:
    """Print a token for ``args.subject`` from the running stack's issuer; the exit status."""
    state = StackState.load(args.state_file)
    if state.pair_api_issuer is None:
        raise OSError(f"the stack that wrote {args.state_file} serves no Pair API")
    issuer = LocalIssuer.from_state(state.pair_api_issuer)
    print(issuer.mint(args.subject, expires_in=args.expires_in))
    return 0


def _print_pair_api(url: str, issuer: LocalIssuer) -> None:
    token = issuer.mint(READY_SUBJECT, expires_in=READY_TOKEN_HOURS * 3600)
    print(f"export PAIR_API_URL={shlex.quote(url)}")
    print(f"export PAIR_API_TOKEN={shlex.quote(token)}")
    print(
        f"# PAIR_API_TOKEN: a JWT for sub={READY_SUBJECT}, valid {READY_TOKEN_HOURS} h;"
        " another: python -m local_stack token --subject NAME"
    )
    print(
        f"# issuer {issuer.issuer} (keys: {issuer.issuer}{JWKS_PATH}), audience {issuer.audience}"
    )
    print('# the Pair API wants "Authorization: Bearer $PAIR_API_TOKEN" (JWT mode, locally), e.g.')
    print('#   curl -H "Authorization: Bearer $PAIR_API_TOKEN" $PAIR_API_URL/templates')
    print(f"# playground: {url}/playground/#token={token}", flush=True)
