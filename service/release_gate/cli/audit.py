"""``release-gate audit verify``: walk the audit chain, report the first broken link."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from release_gate.cli._common import EXIT_ERROR, print_json, print_problem, settings_from
from release_gate.errors import GateError
from release_gate.store import Store

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check the audit log (audit verify)",
        description="Tamper evidence of the decision log (docs/audit.md).",
    )
    commands = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = commands.add_parser(
        "verify",
        help="recompute the hash chain; exit 0 intact, 1 broken, 2 cannot read",
        description="Walk every decision and hold event in sequence, recompute each "
        "record_hash from the previous one and the entry's content, and compare the end "
        "with the chain head. Prints a JSON report; the first broken link is named. With "
        "--expect-head SEQ:HASH (an anchor you recorded earlier, e.g. from GET "
        "/v1/decisions/head or a signed revocation list) it also checks that entry is "
        "still in the chain.",
    )
    verify.add_argument(
        "--database-url", help="SQLAlchemy URL (default: $RELEASE_GATE_DATABASE_URL)"
    )
    verify.add_argument("--expect-head", metavar="SEQ:HASH", help="an anchored head to check")
    verify.set_defaults(func=_verify)


def _progress(done: int, total: int) -> None:
    """Progress on stderr (stdout is the JSON report), for logs of many entries."""
    share = f" ({100 * done // total}%)" if total else ""
    sys.stderr.write(f"audit verify: {done:,} of {total:,} entries checked{share}\n")
    sys.stderr.flush()


def _verify(args: argparse.Namespace) -> int:
    try:
        store = Store(settings_from(args, database_url=args.database_url).effective_database_url)
        try:
            report = store.verify_chain(progress=_progress).to_dict()
            if args.expect_head:
                report["anchor"] = store.check_anchor(args.expect_head)
        finally:
            store.close()
    except GateError as exc:
        print_problem(exc)
        return EXIT_ERROR
    print_json(report)
    anchored = report.get("anchor", {"ok": True})["ok"]
    return 0 if report["ok"] and anchored else 1
