"""The whole local stack in one context manager: moto, the face-fusion API, the SQS mapping.

``python -m local_stack up`` serves it until interrupted; ``python -m local_stack.demo`` runs
the bundled pairs through it. Both get the same wiring from :func:`running_stack`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from local_stack.aws import LocalStack, aws_env, provision, start_moto
from local_stack.emulator import Faults, FusionEmulator
from local_stack.esm import EventSourceMapping
from local_stack.pair_api import local_pair_api, seed_catalogue
from local_stack.pair_api_server import PairApiServer
from local_stack.reserved_concurrency import LocalFunction, ReservedConcurrency
from local_stack.sweep import SweepTimer


@dataclass(frozen=True)
class RunningStack:
    """The parts of a running local stack that callers talk to."""

    stack: LocalStack
    function_env: dict[str, str]
    """The function's environment, as the event source mapping's workers get it."""
    esm: EventSourceMapping
    emulator: FusionEmulator | None
    """None when the function calls the real API."""
    sweep: SweepTimer | None = None
    """The partner-timeout sweep on its timer."""
    function: LocalFunction | None = None
    """Direct invokes (ad hoc, Batch Operations, async S3/EventBridge), capped with the ESM."""
    reserved: ReservedConcurrency | None = None
    """The function's reserved concurrency, shared by the ESM and ``function``."""
    pair_api: PairApiServer | None = None
    """The local Pair API, when asked for."""


@contextlib.contextmanager
def running_stack(
    template: str | Path,
    *,
    api_key: str,
    real_api: bool = False,
    moto_port: int = 0,
    emulator_port: int = 0,
    faults: Faults | None = None,
    overrides: Mapping[str, str] | None = None,
    names_prefix: str = "portrait-fusion",
    visibility_timeout: int | None = None,
    handler: str | None = None,
    log_file: Path | None = None,
    sweep_interval_s: float | None = None,
    pair_api_port: int | None = None,
) -> Iterator[RunningStack]:
    """Start moto, provision it from ``template``, start the API side and the mapping.

    ``api_key`` goes into the stack's secret. With ``real_api`` the function calls the
    template's default FusionApiUrl (the AILabTools API) and trusts the system's CAs;
    otherwise an HTTPS emulator accepting ``api_key`` (with ``faults``) stands in for it.
    ``overrides`` are template parameter overrides; the other arguments are those of
    :func:`~local_stack.aws.provision` and :class:`~local_stack.esm.EventSourceMapping`;
    the partner-timeout sweep runs every ``sweep_interval_s`` seconds (default: the
    template's PartnerSweepMinutes). With ``pair_api_port`` (0: any free port), the Pair API is
    served on 127.0.0.1, its own JWT issuer, with a catalogue seeded from the bundled
    portraits.
    Everything is stopped on exit, the mapping first so in-flight invocations can finish.
    """
    with contextlib.ExitStack() as running:
        moto = running.enter_context(start_moto(moto_port))
        parameters = dict(overrides or {})
        emulator = None
        if not real_api:
            emulator = running.enter_context(
                FusionEmulator({api_key}, tls=True, port=emulator_port, faults=faults)
            )
            parameters["FusionApiUrl"] = emulator.url
        stack = provision(
            moto.endpoint_url,
            template,
            api_key=api_key,
            overrides=parameters,
            names_prefix=names_prefix,
            visibility_timeout=visibility_timeout,
        )
        env = dict(stack.function_env)
        if emulator is not None:
            # The workers inherit this process' REQUESTS_CA_BUNDLE, which cannot know the
            # emulator's throw-away CA.
            env["REQUESTS_CA_BUNDLE"] = str(emulator.ca_bundle)
        reserved = ReservedConcurrency(stack.reserved_concurrency or stack.max_concurrency)
        environment = {
            "handler": handler or stack.handler,
            "env": {**env, **aws_env(stack.endpoint_url, stack.region)},
            "timeout_s": stack.function_timeout,
            "memory_size_mb": stack.memory_size,
            "region": stack.region,
            "log_file": log_file,
        }
        function = LocalFunction(reserved, environment)
        running.callback(function.close)
        esm = running.enter_context(
            EventSourceMapping(
                stack.queue_url,
                handler=handler or stack.handler,
                env=env,
                batch_size=stack.batch_size,
                concurrency=stack.max_concurrency,
                function_timeout_s=stack.function_timeout,
                memory_size_mb=stack.memory_size,
                endpoint_url=stack.endpoint_url,
                log_file=log_file,
                reserved=reserved,
            )
        )
        sweep = None
        if stack.sweep is not None:
            sweep = running.enter_context(
                SweepTimer(
                    stack.sweep,
                    env={**env, **aws_env(stack.endpoint_url, stack.region)},
                    interval_s=sweep_interval_s,
                    log_file=log_file,
                )
            )
        pair_api = None
        if pair_api_port is not None:
            seed_catalogue(stack)
            pair_api = running.enter_context(local_pair_api(stack, port=pair_api_port))
        yield RunningStack(
            stack=stack,
            function_env=env,
            esm=esm,
            emulator=emulator,
            sweep=sweep,
            function=function,
            reserved=reserved,
            pair_api=pair_api,
        )
