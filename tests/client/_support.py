"""Test support: real Ed25519 keys, real tokens, a real HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from release_gate_client import jwk_thumbprint, public_jwk
from release_gate_client.b64url import b64url_encode

NOW = 1_800_000_000
ISSUER = "release-gate"
LANE = "exec-review"
PACKET_DIGEST = "sha256:" + "ab" * 32
TYP = "release-approval+jwt"


def base_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": LANE,
        "sub": "pkt-42@3",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": "0b6c7a0e-3f0c-4c1e-9d55-3f8f2b9c2a11",
        "manifest_id": "rel-2026-11-26-001",
        "manifest_digest": "sha256:" + "cd" * 32,
        "packet_digest": PACKET_DIGEST,
        "signers": [
            {"subject": "ana@example.com", "role": "support_release_owner"},
            {"subject": "ben@example.com", "role": "legal_reviewer"},
        ],
        "accepted_objections": ["obj-1"],
        "scope": {"audience": ["exec"], "actions": ["publish_summary"]},
        "policy": {"revision": "2026.11.1", "digest": "sha256:" + "ef" * 32},
    }
    claims.update(overrides)
    return claims


def segment(value: Any) -> str:
    """base64url of compact JSON, or of raw bytes/str as given."""
    if isinstance(value, bytes):
        return b64url_encode(value)
    if isinstance(value, str):
        return b64url_encode(value.encode("utf-8"))
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode("utf-8"))


@dataclass
class Minter:
    """A signing key plus helpers to mint good and hand-crafted tokens."""

    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey
    kid: str

    def header(self, **overrides: Any) -> dict[str, Any]:
        return {"alg": "EdDSA", "typ": TYP, "kid": self.kid, **overrides}

    def mint(self, **claim_overrides: Any) -> str:
        """A genuine token, minted by PyJWT."""
        return jwt.encode(
            base_claims(**claim_overrides),
            self.private_key,
            algorithm="EdDSA",
            headers={"typ": TYP, "kid": self.kid},
        )

    def sign_raw(self, header: Any, payload: Any) -> str:
        """Header and payload exactly as given, with a valid Ed25519 signature."""
        signing_input = f"{segment(header)}.{segment(payload)}"
        signature = self.private_key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url_encode(signature)}"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.public_key, kid=self.kid)]}


def make_signer() -> Minter:
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    return Minter(private_key, public_key, jwk_thumbprint(public_key))


def hmac_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


# -- a real HTTP server --------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200, content_type: str = "application/json") -> Reply:
        return cls(status, json.dumps(value).encode("utf-8"), content_type)


@dataclass
class FakeGate:
    """Routes ``(method, path)`` to a reply (or a callable); records every request."""

    url: str = ""
    routes: dict[tuple[str, str], Reply | Callable[[Recorded], Reply]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
            route = self.routes.get((request.method, request.path))
        if route is None:
            return Reply.json(
                {"title": "Not Found", "status": 404}, 404, "application/problem+json"
            )
        return route(request) if callable(route) else route

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if (r.method, r.path) == (method, path))


def handler_for(gate: FakeGate) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = gate.handle(Recorded(self.command, self.path, headers, body))
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
