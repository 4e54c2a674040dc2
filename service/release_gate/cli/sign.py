"""``release-gate sign MANIFEST --key KEY.pem --subject S --role R --key-id K``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from release_gate.cli._common import print_json, print_problem, read_file
from release_gate.decision.manifest import Id, Subject
from release_gate.decision.parse import parse_ijson
from release_gate.decision.signatures import sign_manifest
from release_gate.errors import BadRequest, FieldError, GateError
from release_gate.keys.signing import load_private_key

__all__ = ["add_parser"]

_SUBJECT: TypeAdapter[str] = TypeAdapter(Subject)
_ID: TypeAdapter[str] = TypeAdapter(Id)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sign",
        help="add an approval signature to a manifest",
        description="Sign MANIFEST's approval statement (its digest, your subject and role) with "
        "an Ed25519 key and add the signature to signatures[]. Prints the signed manifest, or "
        "rewrites the file with --in-place. Any later change to the manifest breaks it.",
    )
    parser.add_argument("manifest", metavar="MANIFEST")
    parser.add_argument("--key", required=True, type=Path, metavar="KEY.pem")
    parser.add_argument("--subject", required=True, metavar="S")
    parser.add_argument("--role", required=True, metavar="R")
    parser.add_argument("--key-id", required=True, metavar="K")
    parser.add_argument("--in-place", action="store_true", help="rewrite MANIFEST")
    parser.set_defaults(func=_run)


def _check_signer(subject: str, role: str, key_id: str) -> None:
    """The signature's fields must be valid in a manifest (contract section 1)."""
    errors = []
    for flag, value, adapter in (
        ("--subject", subject, _SUBJECT),
        ("--role", role, _ID),
        ("--key-id", key_id, _ID),
    ):
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            message = exc.errors(include_url=False, include_input=False)[0]["msg"]
            errors.append(FieldError("", f"{flag}: {message}"))
    if errors:
        raise BadRequest("; ".join(e.detail for e in errors), errors=tuple(errors))


def _run(args: argparse.Namespace) -> int:
    try:
        _check_signer(args.subject, args.role, args.key_id)
        document = parse_ijson(read_file(args.manifest), max_depth=32)
        if not isinstance(document, dict):
            raise BadRequest("the manifest is not a JSON object")
        signed = sign_manifest(
            document,
            private_key=load_private_key(args.key).private_key,
            subject=args.subject,
            role=args.role,
            key_id=args.key_id,
        )
    except GateError as exc:
        return print_problem(exc, status=400)
    if not args.in_place:
        print_json(signed)
        return 0
    path = Path(args.manifest)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(signed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return 0
