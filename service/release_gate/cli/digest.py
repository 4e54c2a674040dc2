"""``release-gate digest FILE`` and ``digest --manifest FILE``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from release_gate.cli._common import print_problem, read_file
from release_gate.decision.canonical import manifest_digest, sha256_digest
from release_gate.decision.parse import parse_ijson
from release_gate.errors import BadRequest, GateError

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "digest",
        help="print sha256:<hex> of a packet file, or a manifest's digest",
        description="Print sha256:<hex> of FILE's bytes (a packet's content, for packet.digest "
        "or evidence digests). With --manifest, print the manifest digest: SHA-256 of the RFC "
        "8785 canonical form of the manifest without its signatures.",
    )
    parser.add_argument("file", metavar="FILE", help="a file, or - for stdin")
    parser.add_argument("--manifest", action="store_true", help="FILE is a manifest")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        data = read_file(args.file)
        if args.manifest:
            document = parse_ijson(data, max_depth=32)
            if not isinstance(document, dict):
                raise BadRequest("the manifest is not a JSON object")
            value = manifest_digest(document)
        else:
            value = sha256_digest(data)
    except GateError as exc:
        return print_problem(exc, status=400)
    sys.stdout.write(value + "\n")
    return 0
