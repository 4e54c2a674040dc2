"""``release-gate apikey create``: a fresh API key, printed once, and its config entry."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from release_gate.cli._common import print_json
from release_gate.errors import ConfigurationError
from release_gate.keys.api_keys import (
    LANE_ROLES,
    ROLES,
    SOURCE_ROLES,
    generate_key,
    hash_key,
    parse_entry,
)

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "apikey",
        help="create API keys (apikey create)",
        description="API keys for the HTTP API. The gate stores only their SHA-256 hashes.",
    )
    commands = parser.add_subparsers(dest="apikey_command", metavar="ACTION", required=True)
    create = commands.add_parser(
        "create",
        help="print a new random key once, and the entry for $RELEASE_GATE_API_KEYS",
        description="Prints {key, entry} as JSON. Give `key` to the caller (it is shown only "
        "now) and append `entry` to the JSON list in the file $RELEASE_GATE_API_KEYS names. "
        f"Roles: {', '.join(sorted(ROLES))}.",
    )
    create.add_argument("--name", required=True, help="who holds the key (shown in the audit log)")
    create.add_argument(
        "--role",
        required=True,
        action="append",
        choices=sorted(ROLES),
        help="a role of the key (repeat for several)",
    )
    create.add_argument(
        "--lane",
        action="append",
        metavar="LANE",
        help=f"tie the key to this lane (repeat for several; only for the "
        f"{' and '.join(sorted(LANE_ROLES))} roles): it may verify and report outcomes "
        "for these lanes only",
    )
    create.add_argument(
        "--source",
        action="append",
        metavar="SOURCE",
        help="tie the key to this evidence source (repeat for several; only for the "
        f"{' and '.join(sorted(SOURCE_ROLES))} role): it may report events of these "
        "sources only",
    )
    create.set_defaults(func=_create)


def _create(args: argparse.Namespace) -> int:
    key = generate_key()
    roles = sorted(set(args.role))
    entry: dict[str, Any] = {"name": args.name, "sha256": hash_key(key), "roles": roles}
    if args.lane:
        entry["lanes"] = sorted(set(args.lane))
    if args.source:
        entry["sources"] = sorted(set(args.source))
    try:
        parse_entry(entry, "the new key")  # what the gate will accept when it loads the file
    except ConfigurationError as exc:
        sys.stderr.write(f"release-gate apikey create: {exc}\n")
        return 2
    print_json({"key": key, "entry": entry})
    sys.stderr.write("store the key now: it is not kept anywhere and cannot be shown again\n")
    return 0
