"""Helpers shared by the commands: settings from flags, JSON output, problems."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from release_gate.config import Settings
from release_gate.errors import BadRequest, GateError

__all__ = [
    "EXIT_ERROR",
    "add_policies_flag",
    "print_json",
    "print_problem",
    "read_file",
    "settings_from",
]

EXIT_ERROR = 2


def add_policies_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies",
        type=Path,
        metavar="DIR",
        help="policy bundle directory (default: $RELEASE_GATE_POLICIES or policies/)",
    )


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    values = {k: v for k, v in overrides.items() if v is not None}
    policies = getattr(args, "policies", None)
    if policies is not None:
        values["policies"] = policies
    return Settings(**values)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_problem(exc: GateError, *, status: int | None = None) -> int:
    """Problem details on stdout (as the API would answer); returns exit code 2."""
    body: dict[str, Any] = {
        "type": "https://release-gate.dev/problems/" + exc.type_suffix,
        "title": exc.title,
        "status": status or exc.status,
        "detail": exc.detail,
    }
    if exc.errors or body["status"] in (400, 422):
        body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in exc.errors] or [
            {"pointer": "", "detail": exc.detail}
        ]
    print_json(body)
    return EXIT_ERROR


def read_file(path: str) -> bytes:
    """Bytes of ``path`` (``-`` is standard input); :class:`GateError` 400 if unreadable."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror or exc}") from exc
