"""``release-gate verify TOKEN --lane L --packet-digest D``: check a token offline."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate.cli._common import EXIT_ERROR, print_json, read_file, settings_from
from release_gate.config import Settings
from release_gate.errors import GateError
from release_gate.keys.keyring import MAX_TOKEN_TTL_SECONDS, load_keyring
from release_gate.keys.signing import load_public_key
from release_gate_client.errors import ReleaseGateClientError
from release_gate_client.jwk import jwk_thumbprint, load_jwks
from release_gate_client.verify import verify_result

__all__ = ["add_parser"]

_STDIN = "-"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify an approval token for a lane and packet digest",
        description="Verify TOKEN (the compact JWT, or - to read it from stdin) as the intake lane "
        "L would, for the packet whose digest is D. Keys come from --jwks (a file or an http(s) "
        "URL such as http://127.0.0.1:8080/.well-known/jwks.json), else from the public half of "
        "the configured signing key. Exit 0 valid (claims JSON on stdout), 1 invalid (the reason "
        "code, e.g. token.expired, on stdout), 2 usage or I/O errors.",
    )
    parser.add_argument("token", metavar="TOKEN")
    parser.add_argument("--lane", required=True, metavar="L")
    parser.add_argument("--packet-digest", required=True, metavar="D")
    parser.add_argument(
        "--issuer", metavar="I", help="expected iss (default: $RELEASE_GATE_ISSUER)"
    )
    parser.add_argument("--jwks", metavar="FILE_OR_URL")
    parser.set_defaults(func=_run)


def _jwks_keys(source: str) -> dict[str, Ed25519PublicKey]:
    if source.startswith(("http://", "https://")):
        response = httpx.get(source, timeout=10.0)
        response.raise_for_status()
        return load_jwks(response.content)
    return load_jwks(read_file(source))


def _configured_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    if settings.keys_dir is not None:
        ring = load_keyring(settings.keys_dir)
        return ring.verification_keys(int(time.time()), max_token_ttl=MAX_TOKEN_TTL_SECONDS)
    path = settings.signing_key_file or settings.dev_key_path
    keys = [load_public_key(path), *(load_public_key(p) for p in settings.retired_key_files)]
    return {jwk_thumbprint(k): k for k in keys}


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _run(args: argparse.Namespace) -> int:
    if not _DIGEST.fullmatch(args.packet_digest):
        # A usage error, as /v1/verify answers 422: no token can bind such a digest.
        sys.stderr.write(
            f"release-gate verify: --packet-digest must be sha256:<64 lowercase hex digits>, "
            f"got {args.packet_digest!r}\n"
        )
        return EXIT_ERROR
    if not args.lane:
        sys.stderr.write("release-gate verify: --lane must not be empty\n")
        return EXIT_ERROR
    try:
        settings = settings_from(args)
        raw = read_file("-").decode() if args.token == _STDIN else args.token
        token = raw.strip()
        keys = _jwks_keys(args.jwks) if args.jwks else _configured_keys(settings)
    except (GateError, ReleaseGateClientError, httpx.HTTPError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"release-gate verify: {getattr(exc, 'detail', exc)}\n")
        return EXIT_ERROR
    result = verify_result(
        token,
        keys=keys,
        issuer=args.issuer or settings.issuer,
        audience=args.lane,
        packet_digest=args.packet_digest,
    )
    if result.valid and result.claims is not None:
        print_json(result.claims.to_dict())
        return 0
    sys.stdout.write(f"{result.reason}\n")
    return 1
