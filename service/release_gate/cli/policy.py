"""``release-gate policy impact``: what a candidate policy would change, before it ships.

Replays recorded decisions under ``--candidate DIR`` offline (release_gate.impact)
and reports flips and code changes, as text or as JSON (contract section 8).
Exit 0; 1 with ``--fail-on-flip`` when a decision flips; 2 on usage, candidate or
store errors (problem details JSON on stdout).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from release_gate.cli._common import print_json, print_problem, settings_from
from release_gate.decision.manifest import Limits
from release_gate.errors import BadRequest, FieldError, GateError
from release_gate.impact import ReplaySetup, run_impact
from release_gate.ops.logs import configure_logging
from release_gate.policy.bundle import load_bundle
from release_gate.policy.governance import load_governance
from release_gate.policy.metadata import policy_rules
from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.migrate import check as check_schema
from release_gate.store.replay import ReplayFilter
from release_gate.timestamps import parse_timestamp_ns

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="governance owners' tools (policy impact)",
        description="Tools for the governance owners' loop (docs/policy-authors.md).",
    )
    commands = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    impact = commands.add_parser(
        "impact",
        help="replay recorded decisions under a candidate policy and report what would change",
        description="Decide the recorded decisions again under the candidate bundle in DIR "
        "(the manifest as received, the facts and the evaluation time stored with each; "
        "offline, on the embedded engine; nothing is recorded) and report the decisions that "
        "flip from allow to deny and back and the violation codes added and removed, per lane "
        "and per code, with the newest changed decisions. Exit 0; 1 with --fail-on-flip when "
        "any decision flips; 2 on usage, candidate or store errors.",
    )
    impact.add_argument(
        "--candidate", required=True, type=Path, metavar="DIR", help="the candidate bundle"
    )
    impact.add_argument(
        "--since", metavar="TIME", help="decisions evaluated at or after (RFC 3339)"
    )
    impact.add_argument("--until", metavar="TIME", help="decisions evaluated before (RFC 3339)")
    impact.add_argument("--lane", metavar="LANE", help="decisions of this lane only")
    impact.add_argument(
        "--live",
        action="store_true",
        help="only approvals whose token is still live: what a reload would re-check",
    )
    impact.add_argument("--format", choices=("text", "json"), default="text")
    impact.add_argument(
        "--fail-on-flip", action="store_true", help="exit 1 when any decision flips"
    )
    impact.add_argument(
        "--database-url", help="SQLAlchemy URL of the store (default: $RELEASE_GATE_DATABASE_URL)"
    )
    impact.add_argument(
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        metavar="N",
        help="processes replaying side by side (default: the CPU count, at most 8)",
    )
    impact.set_defaults(func=_impact)


def _instant(flag: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_timestamp_ns(value)
    except ValueError as exc:
        raise BadRequest(
            f"{flag}: {exc}", errors=(FieldError("", f"{flag} is not an RFC 3339 timestamp"),)
        ) from exc


def _open_store(url: str) -> None:
    """Refuse a store that is not there (never create an empty SQLite file) or not migrated."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BadRequest("--database-url is not a SQLAlchemy URL") from exc
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database and not database.startswith("file:"):
        if database != ":memory:" and not Path(database).is_file():
            raise StoreUnavailable(f"no decision store at {database}")
    db = Database(url)
    try:
        check_schema(db)
    finally:
        db.close()


def _impact(args: argparse.Namespace) -> int:
    configure_logging("text", quiet=True)
    try:
        if args.jobs < 1:
            raise BadRequest("--jobs must be at least 1")
        settings = settings_from(args, database_url=args.database_url)
        query = ReplayFilter(
            since_ns=_instant("--since", args.since),
            until_ns=_instant("--until", args.until),
            lane=args.lane,
            live_at_s=int(time.time()) if args.live else None,
        )
        bundle = load_bundle(args.candidate)
        load_governance(bundle.governance)  # a candidate a reload would refuse, refused here
        policy_rules(bundle)
        url = settings.effective_database_url
        _open_store(url)
        setup = ReplaySetup(
            candidate=args.candidate,
            database_url=url,
            query=query,
            limits=Limits(
                max_signatures=settings.max_signatures,
                max_objections=settings.max_objections,
                max_evidence=settings.max_evidence,
            ),
            max_depth=settings.max_nesting_depth,
        )
        report = run_impact(setup, bundle, jobs=args.jobs, progress=_ProgressBar())
    except GateError as exc:
        return print_problem(exc, status=400 if isinstance(exc, BadRequest) else None)
    wire = report.to_wire(revision=bundle.revision, digest=bundle.digest)
    if args.format == "json":
        print_json(wire)
    else:
        sys.stdout.write(_text(wire))
    return 1 if args.fail_on_flip and report.flips else 0


class _ProgressBar:
    """On stderr, once the replay has run for a second: a bar on a terminal, else a line
    every tenth."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._tty = sys.stderr.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self._started < 1.0 or not total:
            return
        share = done * 100 // total
        if self._tty:
            filled = share * 30 // 100
            bar = "#" * filled + "-" * (30 - filled)
            end = "\n" if done >= total else ""
            sys.stderr.write(f"\rpolicy impact [{bar}] {done:,}/{total:,} decisions{end}")
        elif share // 10 > self._shown // 10 or done >= total:
            sys.stderr.write(
                f"policy impact: {done:,} of {total:,} decisions replayed ({share}%)\n"
            )
        self._shown = share
        sys.stderr.flush()


def _codes(codes: list[str]) -> str:
    return ",".join(codes) or "-"


def _verdict(allow: bool) -> str:
    return "allow" if allow else "deny"


def _text(wire: dict[str, Any]) -> str:
    candidate = wire["candidate"]
    lines = [
        f"candidate policy {candidate['revision']} ({candidate['digest']})",
        f"{wire['decisions']:,} recorded decisions replayed",
        f"  unchanged       {wire['unchanged']:>8,}",
        f"  allow -> deny   {wire['allow_to_deny']:>8,}",
        f"  deny -> allow   {wire['deny_to_allow']:>8,}",
        f"  codes changed   {wire['codes_changed']:>8,}",
    ]
    if wire["by_lane"]:
        lines += ["", "by lane (decisions, allow -> deny, deny -> allow, codes changed):"]
        lines += [
            f"  {lane}: {c['decisions']:,}, {c['allow_to_deny']:,}, {c['deny_to_allow']:,}, "
            f"{c['codes_changed']:,}"
            for lane, c in wire["by_lane"].items()
        ]
    if wire["by_code"]:
        lines += ["", "by code (decisions that gain it, lose it):"]
        lines += [
            f"  {code}: +{c['added']:,} -{c['removed']:,}" for code, c in wire["by_code"].items()
        ]
    if wire["examples"]:
        lines += ["", "changed decisions, newest first:"]
        for e in wire["examples"]:
            before, after = e["before"], e["after"]
            lines.append(
                f"  {e['decision_id']} {e['packet']['id']}@{e['packet']['revision']} {e['lane']}: "
                f"{_verdict(before['allow'])} [{_codes(before['codes'])}] -> "
                f"{_verdict(after['allow'])} [{_codes(after['codes'])}]"
            )
    return "\n".join(lines) + "\n"
