"""``release-gate keys rotate|show``: manage the gate's signing key ring.

See :mod:`release_gate.keys.keyring` and docs/operations.md for the procedure.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from release_gate.cli._common import print_json, print_problem
from release_gate.errors import GateError
from release_gate.keys.keyring import (
    DEFAULT_ROLL_SECONDS,
    LEEWAY_SECONDS,
    MAX_ROLL_SECONDS,
    MAX_TOKEN_TTL_SECONDS,
    load_keyring,
    rotate,
)

__all__ = ["add_parser"]


def _dir_arg(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("RELEASE_GATE_KEYS_DIR")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(default) if default else None,
        required=default is None,
        metavar="DIR",
        help="key ring directory (default: $RELEASE_GATE_KEYS_DIR)",
    )


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="manage the signing key ring (rotate, show)",
        description="The gate signs tokens with the active key of a key ring directory "
        "(RELEASE_GATE_KEYS_DIR: keys.json plus PEM files). Retired keys stay in the JWKS "
        "until every token they could have signed has expired (retired_at + the longest lane "
        "token TTL + 60 s), then they are dropped. Restart (or roll) the gate after a rotation.",
    )
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate_parser = commands.add_parser(
        "rotate",
        help="make a new active key and retire the current one",
        description="Write a new Ed25519 active key (mode 0600), keep only the public half of "
        "the retired one, prune retired keys older than the 7-day TTL cap, and print the "
        "result. Creates the key ring when DIR has none.",
    )
    _dir_arg(rotate_parser)
    rotate_parser.add_argument(
        "--roll-seconds",
        type=int,
        default=DEFAULT_ROLL_SECONDS,
        metavar="N",
        help="time allowed to restart every replica with the new key; the old key is "
        "recorded as retired N s from now, since replicas not yet restarted keep signing "
        f"with it (0-{MAX_ROLL_SECONDS}, default {DEFAULT_ROLL_SECONDS})",
    )
    rotate_parser.set_defaults(func=_rotate)
    show_parser = commands.add_parser("show", help="print the key ring (public data only)")
    _dir_arg(show_parser)
    show_parser.set_defaults(func=_show)


def _rotate(args: argparse.Namespace) -> int:
    try:
        result = rotate(args.dir, roll_seconds=args.roll_seconds)
    except (GateError, OSError) as exc:
        return print_problem(exc if isinstance(exc, GateError) else GateError(str(exc)), status=400)
    print_json(
        {
            "active_kid": result.active_kid,
            "retired_kid": result.retired_kid,
            "pruned": list(result.pruned),
        }
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        ring = load_keyring(args.dir)
    except GateError as exc:
        return print_problem(exc, status=400)
    print_json(
        {
            "active": {"kid": ring.active.kid},
            "retired": [
                {
                    "kid": key.kid,
                    "retired_at": key.retired_at,
                    "published_until_at_most": None
                    if key.retired_at is None
                    else key.retired_at + MAX_TOKEN_TTL_SECONDS + LEEWAY_SECONDS,
                }
                for key in ring.retired
            ],
        }
    )
    return 0
