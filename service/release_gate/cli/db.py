"""``release-gate db upgrade|current``: manage the decision store's schema (Alembic)."""

from __future__ import annotations

import argparse
from typing import Any

from release_gate.cli._common import EXIT_ERROR, print_json, print_problem, settings_from
from release_gate.errors import GateError
from release_gate.store import Database
from release_gate.store.migrate import current_revision, head_revision, upgrade

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "db",
        help="migrate the decision store (db upgrade)",
        description="Manage the schema of the decision store at $RELEASE_GATE_DATABASE_URL "
        "(default: the SQLite file under .release-gate/). In production mode the service "
        "refuses to start on a store that is not at the newest revision: run `release-gate db "
        "upgrade` once per database (not per replica) before starting a new release. In "
        "development mode (or with RELEASE_GATE_AUTO_MIGRATE=true) serve migrates at start.",
    )
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = commands.add_parser("upgrade", help="migrate to the newest schema revision")
    up.add_argument("--database-url", help="SQLAlchemy URL (default: $RELEASE_GATE_DATABASE_URL)")
    up.set_defaults(func=_upgrade)
    current = commands.add_parser("current", help="print the schema revision (exit 1 if behind)")
    current.add_argument("--database-url", help="SQLAlchemy URL")
    current.set_defaults(func=_current)


def _database(args: argparse.Namespace) -> Database:
    return Database(settings_from(args, database_url=args.database_url).effective_database_url)


def _upgrade(args: argparse.Namespace) -> int:
    try:
        db = _database(args)
        try:
            before, after = upgrade(db)
        finally:
            db.close()
    except GateError as exc:
        return print_problem(exc)
    print_json({"from": before, "to": after, "backend": db.backend})
    return 0


def _current(args: argparse.Namespace) -> int:
    try:
        db = _database(args)
        try:
            current = current_revision(db)
        finally:
            db.close()
    except GateError as exc:
        print_problem(exc)
        return EXIT_ERROR
    head = head_revision()
    print_json({"current": current, "head": head, "up_to_date": current == head})
    return 0 if current == head else 1
