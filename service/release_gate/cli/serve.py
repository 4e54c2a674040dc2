"""``release-gate serve``: run the HTTP API with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from release_gate.app import create_app
from release_gate.cli._common import add_policies_flag, settings_from
from release_gate.logs import configure_logging

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP API",
        description="Serve /v1/evaluate, /v1/verify, /v1/policy, the JWKS, health and metrics. "
        "Without configuration it uses the embedded regorus engine, a SQLite file and a "
        "development signing key under .release-gate/ (with a warning).",
    )
    parser.add_argument("--host", help="listen address (default: $RELEASE_GATE_HOST or 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="listen port (default: $RELEASE_GATE_PORT or 8080)"
    )
    add_policies_flag(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = settings_from(args, host=args.host, port=args.port)
    configure_logging(settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    return 0
