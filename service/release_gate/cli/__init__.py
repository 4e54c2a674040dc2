"""The ``release-gate`` command line (contract section 6).

Each command lives in its own module exposing ``add_parser(subparsers)``;
the parser's ``func`` returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from release_gate import __version__
from release_gate.cli import (
    apikey,
    audit,
    bundle,
    db,
    digest,
    evaluate,
    keygen,
    keys,
    policy,
    report,
    serve,
    sign,
    test,
    verify,
)
from release_gate.cli._common import print_problem
from release_gate.errors import ConfigurationError

__all__ = ["build_parser", "main"]

_COMMANDS = (
    serve,
    evaluate,
    verify,
    sign,
    keygen,
    keys,
    digest,
    test,
    bundle,
    policy,
    db,
    audit,
    report,
    apikey,
)

_EPILOG = """\
Quick start:
  release-gate db upgrade                          # create/migrate the decision store
  release-gate serve                               # embedded engine, SQLite, dev key
  release-gate evaluate manifests/examples/approved.json --now 2026-11-26T09:00:00Z
  release-gate test policies                       # the Rego unit tests
  release-gate policy impact --candidate DIR       # what a policy change would change

Configuration comes from RELEASE_GATE_* environment variables; flags override them.
Exit codes: 0 success/allow/valid, 1 deny/invalid token/failed tests, 2 usage or other errors.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="release-gate",
        description="Policy-as-code release gate: decides whether one exact disclosure-packet "
        "revision may be released into one bounded intake lane, and signs the approval.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"release-gate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ValidationError as exc:  # a RELEASE_GATE_* variable that does not parse
        return print_problem(ConfigurationError(_settings_problem(exc)), status=400)
    return code


def _settings_problem(exc: ValidationError) -> str:
    """Name each variable that does not parse (never its value: it may be a secret)."""
    names = ", ".join(
        "RELEASE_GATE_" + str(err["loc"][0]).upper() if err["loc"] else "settings"
        for err in exc.errors(include_url=False, include_input=False)
    )
    return f"invalid configuration: {names}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
