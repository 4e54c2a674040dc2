"""``release-gate evaluate MANIFEST [--now TIME]``: decide on a manifest file."""

from __future__ import annotations

import argparse
from typing import Any

from release_gate.cli._common import (
    add_policies_flag,
    print_json,
    print_problem,
    read_file,
    settings_from,
)
from release_gate.errors import BadRequest, FieldError, GateError
from release_gate.ops.logs import configure_logging
from release_gate.runtime import build_runtime
from release_gate.timestamps import format_ns, parse_timestamp_ns

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="decide on a manifest file and print the decision",
        description="Evaluate MANIFEST (a file, or - for stdin) and print the decision JSON. "
        "Without --now the decision is recorded and an allow carries a token. With --now TIME "
        "(RFC 3339) it is a dry run at that instant: nothing is recorded and token is null. "
        "Exit 0 allow, 1 deny, 2 anything else (problem details JSON on stdout).",
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="manifest JSON file, or -")
    parser.add_argument("--now", metavar="TIME", help="evaluate at this RFC 3339 instant (dry run)")
    add_policies_flag(parser)
    parser.set_defaults(func=_run)


def _now_ns(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        instant = parse_timestamp_ns(value)
        format_ns(instant)  # evaluated_at: in UTC the instant must fall in years 0001-9999
    except (ValueError, OverflowError) as exc:
        raise BadRequest(
            f"--now: {exc}",
            errors=(FieldError("", f"--now is not an RFC 3339 timestamp: {value}"),),
        ) from exc
    return instant


def _run(args: argparse.Namespace) -> int:
    configure_logging("text", quiet=True)
    try:
        now_ns = _now_ns(args.now)
        body = read_file(args.manifest)
        runtime = build_runtime(settings_from(args), dry_run=now_ns is not None)
    except GateError as exc:
        return print_problem(exc, status=400 if isinstance(exc, BadRequest) else None)
    try:
        decision = runtime.require_gate().evaluate(body, now_ns=now_ns)
    except GateError as exc:
        return print_problem(exc)
    finally:
        runtime.close()
    print_json(decision.to_wire())
    return 0 if decision.allow else 1
