"""Sessions for people: a signed, expiring cookie naming the API key that signed in.

No session is kept in a process's memory or in the store, so any worker or
replica can check any cookie. The cookie is

    v1.<base64url(JSON {"sub", "bind", "iat", "exp", "csrf"})>.<base64url(HMAC-SHA256)>

keyed by a 256-bit key derived with HKDF-SHA256 from the gate's active signing
key (info ``release-gate/ui-session/v1``): every replica holds that key, and
HKDF is one-way, so the cookie reveals nothing about it. ``sub`` is the API
key's name, ``bind`` a MAC of that key's configured hash: a session dies when
its key leaves the key file (or is replaced under the same name), when it
loses the ``auditor`` role, at ``exp``, and when the gate's signing key
rotates. ``csrf`` is a random nonce; forms carry a MAC of it
(:meth:`SessionKeys.form_token`), which a cross-site page can neither read nor
forge. The sign-in form, before any session, gets the same protection from a
short-lived signed cookie of its own (:meth:`SessionKeys.signin_cookie`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from release_gate_client.b64url import b64url_decode, b64url_encode

__all__ = ["SIGNIN_FORM_SECONDS", "Session", "SessionKeys"]

_VERSION = "v1"
_MAX_COOKIE = 1024
#: How long a sign-in form may be submitted after it was served.
SIGNIN_FORM_SECONDS = 3600
#: Clock skew tolerated between replicas for ``iat``.
_SKEW = 60


@dataclass(frozen=True, slots=True)
class Session:
    name: str  # the API key's name (its principal)
    binding: str  # MAC of the key's configured hash
    issued_at: int
    expires_at: int
    csrf: str  # nonce; forms carry form_token(csrf)


class SessionKeys:
    """MACs for session cookies and form tokens, from one gate signing key."""

    def __init__(self, signing_key: Ed25519PrivateKey) -> None:
        self._key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=b"release-gate/ui-session/v1"
        ).derive(signing_key.private_bytes_raw())

    def _mac(self, purpose: str, value: str) -> str:
        message = purpose.encode() + b"\x00" + value.encode()
        return b64url_encode(hmac.new(self._key, message, hashlib.sha256).digest())

    def _valid(self, purpose: str, value: str, mac: str) -> bool:
        return hmac.compare_digest(self._mac(purpose, value).encode(), mac.encode())

    def binding(self, key_sha256: str) -> str:
        """What a session says about the API key it was made for (not the key's hash)."""
        return self._mac("key-binding", key_sha256)[:32]

    def form_token(self, nonce: str) -> str:
        return self._mac("form", nonce)

    def form_token_valid(self, nonce: str, token: str) -> bool:
        return self._valid("form", nonce, token)

    def seal(self, *, name: str, key_sha256: str, now: int, lifetime: int) -> tuple[str, Session]:
        """A new session for the key ``name`` (whose configured hash is ``key_sha256``)."""
        session = Session(
            name=name,
            binding=self.binding(key_sha256),
            issued_at=now,
            expires_at=now + lifetime,
            csrf=secrets.token_urlsafe(16),
        )
        body = {
            "sub": session.name,
            "bind": session.binding,
            "iat": session.issued_at,
            "exp": session.expires_at,
            "csrf": session.csrf,
        }
        payload = b64url_encode(json.dumps(body, separators=(",", ":")).encode())
        return f"{_VERSION}.{payload}.{self._mac('session', payload)}", session

    def open(self, cookie: str, *, now: int) -> Session | None:
        """The session a cookie carries, or ``None``: forged, altered, expired or malformed."""
        if len(cookie) > _MAX_COOKIE or cookie.count(".") != 2:
            return None
        version, payload, mac = cookie.split(".")
        if version != _VERSION or not self._valid("session", payload, mac):
            return None
        try:
            body = json.loads(b64url_decode(payload))
            session = Session(
                name=body["sub"],
                binding=body["bind"],
                issued_at=body["iat"],
                expires_at=body["exp"],
                csrf=body["csrf"],
            )
        except (ValueError, KeyError, TypeError):
            return None
        texts = (session.name, session.binding, session.csrf)
        times = (session.issued_at, session.expires_at)
        if not all(type(t) is str for t in texts) or not all(type(t) is int for t in times):
            return None
        if not session.issued_at - _SKEW <= now < session.expires_at:
            return None
        return session

    def signin_cookie(self, *, now: int, next_path: str) -> tuple[str, str]:
        """A fresh sign-in cookie (it keeps where to go next) and the token its form carries."""
        nonce = secrets.token_urlsafe(16)
        target = b64url_encode(next_path.encode("utf-8"))
        value = f"{nonce}.{now + SIGNIN_FORM_SECONDS}.{target}"
        return f"{value}.{self._mac('signin', value)}", self.form_token(nonce)

    def open_signin(self, cookie: str, token: str, *, now: int) -> str | None:
        """Where to go after signing in, if ``token`` (from the form) belongs to ``cookie``,
        which must be signed and unexpired; ``None`` otherwise."""
        parts = cookie.split(".")
        if len(cookie) > _MAX_COOKIE or len(parts) != 4 or not parts[1].isdigit():
            return None
        nonce, expires, target, mac = parts
        if not self._valid("signin", f"{nonce}.{expires}.{target}", mac) or int(expires) <= now:
            return None
        if not self.form_token_valid(nonce, token):
            return None
        try:
            return b64url_decode(target).decode("utf-8")
        except (ValueError, UnicodeError):
            return None
