"""``release-gate report lane LANE``: a lane's report from the store, offline.

The same figures as ``GET /v1/reports/lanes/{lane}`` (contract section 9, the
same store query), as a table for people (``--format text``, the default) or
the API's JSON (``--format json``). The lane must be one the governance data
of ``--policies`` defines. Exit 0 with the report; 2 for an unknown lane, a
bad time, or a store that cannot be read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from typing import Any

from release_gate.cli._common import (
    EXIT_ERROR,
    add_policies_flag,
    print_json,
    print_problem,
    settings_from,
)
from release_gate.errors import GateError
from release_gate.policy.bundle import load_bundle
from release_gate.policy.governance import load_governance
from release_gate.store import Database
from release_gate.store.migrate import check
from release_gate.store.reports import LaneNotFound, lane_report, window

__all__ = ["add_parser", "format_text"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="a lane's report from the store (report lane LANE)",
        description="Reports read from the decision store (docs/operators.md, Lane reports).",
    )
    commands = parser.add_subparsers(dest="report_command", metavar="KIND", required=True)
    lane = commands.add_parser(
        "lane",
        help="decisions, denials, approval time, intake outcomes, revocations of one lane",
        description="The figures of GET /v1/reports/lanes/{lane} for LANE, read from the "
        "store: since inclusive, until exclusive (RFC 3339), default the 30 days before now. "
        "Exit 0, or 2 for an unknown lane, a bad time or an unreadable store.",
    )
    lane.add_argument("lane", metavar="LANE")
    lane.add_argument("--since", metavar="TIME", help="start of the window, inclusive")
    lane.add_argument("--until", metavar="TIME", help="end of the window, exclusive (now)")
    lane.add_argument("--format", choices=("text", "json"), default="text")
    lane.add_argument("--database-url", help="SQLAlchemy URL (default: $RELEASE_GATE_DATABASE_URL)")
    add_policies_flag(lane)
    lane.set_defaults(func=_lane)


def _lane(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args, database_url=args.database_url)
        governance = load_governance(load_bundle(settings.policies).governance)
        if args.lane not in governance.lanes:
            raise LaneNotFound(
                f"lane {args.lane!r} is not defined in the governance data of {settings.policies}"
            )
        asked = window(args.since, args.until, now_ns=time.time_ns())
        db = Database(settings.effective_database_url)
        try:
            check(db)
            report = lane_report(db, args.lane, asked).to_wire()
        finally:
            db.close()
    except GateError as exc:
        print_problem(exc)
        return EXIT_ERROR
    if args.format == "json":
        print_json(report)
    else:
        sys.stdout.write(format_text(report))
    return 0


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def _duration(seconds: float | None) -> str:
    """``1h 2m (3720.500 s)``: the largest unit and the next unless it is zero (contract
    section 8, truncated), then the figure itself."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    text = f"{whole}s"
    for i, (unit, size) in enumerate(_UNITS[:-1]):
        if whole >= size:
            next_unit, next_size = _UNITS[i + 1]
            rest = whole % size // next_size
            text = f"{whole // size}{unit}" + (f" {rest}{next_unit}" if rest else "")
            break
    return f"{text} ({seconds:.3f} s)"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _rows(title: str, counts: Mapping[str, int], empty: str) -> list[tuple[str, str]]:
    rows = [(title, "" if counts else empty)]
    indent = " " * (len(title) - len(title.lstrip()) + 2)
    return rows + [(f"{indent}{key}", str(count)) for key, count in counts.items()]


def format_text(report: Mapping[str, Any]) -> str:
    """The report as a two-column table for people."""
    decisions, approval, intake = report["decisions"], report["approval"], report["intake"]
    rate = intake["acceptance_rate"]
    rows: list[tuple[str, str]] = [
        ("Decisions", f"{decisions['allow']} allowed, {decisions['deny']} denied"),
        *_rows("Denials by code", report["denials_by_code"], "none"),
        *_rows("Agent boundary", report["agent_boundary"], "none"),
        ("Packets first approved", str(approval["packets"])),
        ("  median time to approval", _duration(approval["median_seconds"])),
        ("  p90 time to approval", _duration(approval["p90_seconds"])),
        ("  median denials before it", _number(approval["median_denials"])),
        ("Tokens released", str(intake["released"])),
        ("  outcome reported", str(intake["reported"])),
        ("  accepted", str(intake["accepted"])),
        ("  returned", str(intake["returned"])),
        ("  acceptance rate", "-" if rate is None else f"{100 * rate:.1f}%"),
        *_rows("  findings", intake["findings"], "none"),
        *_rows("Revocations", report["revocations"], "none"),
        *_rows("Failed verifications", report["verify_failures"], "none"),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = [
        f"Lane {report['lane']}: from {report['since']} (inclusive) "
        f"to {report['until']} (exclusive)",
        "",
        *(f"{label:<{width}}{value}".rstrip() for label, value in rows),
    ]
    return "\n".join(lines) + "\n"
