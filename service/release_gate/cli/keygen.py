"""``release-gate keygen --out KEY.pem``: a new Ed25519 key and its trust-store entry."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.cli._common import print_json, print_problem
from release_gate.errors import BadRequest
from release_gate.keys.signing import write_private_key
from release_gate_client.jwk import jwk_thumbprint, public_jwk

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="create an Ed25519 key (PKCS#8 PEM, mode 0600)",
        description="Write a new Ed25519 private key to KEY.pem (PKCS#8 PEM, mode 0600) and print "
        'the trust-store entry {key_id, alg, public_key, status: "active"} for '
        "policies/governance/data.json. The same key format serves as the gate's signing key.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="KEY.pem")
    parser.add_argument("--key-id", metavar="ID", help="key id (default: RFC 7638 thumbprint)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    key = Ed25519PrivateKey.generate()
    try:
        write_private_key(args.out, key, force=args.force)
    except FileExistsError:
        return print_problem(
            BadRequest(f"{args.out} exists; pass --force to overwrite"), status=400
        )
    except OSError as exc:
        return print_problem(BadRequest(f"cannot write {args.out}: {exc.strerror}"), status=400)
    public = key.public_key()
    print_json(
        {
            "key_id": args.key_id or jwk_thumbprint(public),
            "alg": "Ed25519",
            "public_key": public_jwk(public, kid="-")["x"],
            "status": "active",
        }
    )
    return 0
