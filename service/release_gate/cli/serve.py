"""``release-gate serve``: run the HTTP API with uvicorn (graceful drain on SIGTERM)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from release_gate.app import create_app
from release_gate.cli._common import EXIT_ERROR, add_policies_flag, settings_from
from release_gate.cli.server import run_server
from release_gate.cli.workers import run_workers
from release_gate.errors import GateError
from release_gate.ops.logs import configure_logging
from release_gate.ops.reload_signal import ReloadRequests
from release_gate.runtime import build_runtime, freeze_startup_heap

__all__ = ["add_parser"]

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP API",
        description="Serve /v1/evaluate, /v1/verify, /v1/policy, the JWKS, health and metrics. "
        "Without configuration it uses the embedded regorus engine, a SQLite file and a "
        "development signing key under .release-gate/ (with a warning). With "
        "RELEASE_GATE_ENV=production it refuses to start on an unsafe configuration and says "
        "what to fix. SIGTERM drains: new evaluations get 503 for RELEASE_GATE_DRAIN_SECONDS, "
        "in-flight ones finish and are recorded. The policy directory is reloaded without a "
        "restart on SIGHUP and every RELEASE_GATE_POLICY_POLL_SECONDS (default 5, 0 = off); a "
        "bundle that does not load leaves the previous one serving.",
    )
    parser.add_argument("--host", help="listen address (default: $RELEASE_GATE_HOST or 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="listen port (default: $RELEASE_GATE_PORT or 8080)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes on the one port (default: $RELEASE_GATE_WORKERS or 1); "
        "each has its own engine threads and all append to one chain",
    )
    add_policies_flag(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # From here on SIGHUP asks for a policy reload (its default action would kill us).
    reloads = ReloadRequests()
    signal.signal(signal.SIGHUP, reloads.on_signal)
    settings = settings_from(args, host=args.host, port=args.port, workers=args.workers)
    configure_logging(settings.effective_log_format)
    try:
        runtime = build_runtime(settings, reloads=reloads)
    except GateError as exc:
        logger.error("release-gate cannot start: %s", exc.detail)
        sys.stderr.write(f"release-gate serve: {exc.detail}\n")
        return EXIT_ERROR
    if settings.workers > 1:
        runtime.close()  # it checked the configuration; each worker builds its own
        return run_workers(settings, count=settings.workers)
    freeze_startup_heap()
    try:
        run_server(create_app(settings, runtime=runtime), settings=settings, drain=runtime.drain)
    finally:
        runtime.close()
    return 0
