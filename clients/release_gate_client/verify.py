"""Offline verification of approval tokens, in the contract's exact order.

Contract section 5, first failure wins:

1. three ``.``-separated parts; the header is canonical base64url of UTF-8
   JSON and a JSON object                              ``token.malformed``
2. ``alg`` is ``EdDSA``; no ``crit`` header            ``token.bad_signature``
3. ``typ`` is exactly ``release-approval+jwt``         ``token.wrong_type``
4. ``kid`` is a string naming a known key              ``token.unknown_kid``
5. Ed25519 signature over ``header_b64 "." payload_b64`` ``token.bad_signature``
6. the payload is a JSON object with every claim, of the right types
                                                       ``token.malformed``
7. ``iss`` ``token.wrong_issuer``; ``aud`` ``token.wrong_audience``;
   ``exp`` ``token.expired`` (when ``now >= exp + leeway``); ``nbf``
   ``token.not_yet_valid`` (when ``now < nbf - leeway``); ``packet_digest``
   ``token.digest_mismatch``.
8. only then, when ``revocations=`` is given: ``token.revoked``.

The algorithm is pinned here, never read from the token: ``none``, HMAC (with
the public key as the secret) and every other ``alg`` are refused before any
key is looked up. ``jku``/``jwk``/``x5u`` headers are ignored, never fetched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate_client.b64url import b64url_decode
from release_gate_client.claims import ApprovalClaims, VerifyResult
from release_gate_client.errors import (
    BadSignature,
    DigestMismatch,
    MalformedToken,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnknownKid,
    WrongAudience,
    WrongIssuer,
    WrongType,
)

__all__ = [
    "ALGORITHM",
    "MAX_LEEWAY",
    "TOKEN_TYPE",
    "KeySource",
    "RevocationCheck",
    "verify_result",
    "verify_token",
]

ALGORITHM = "EdDSA"
TOKEN_TYPE = "release-approval+jwt"  # noqa: S105 - a media type, not a secret
MAX_LEEWAY = 60


class RevocationCheck(Protocol):
    """Raises :class:`TokenRevoked` for a revoked token (see ``revocations``)."""

    def check(self, claims: ApprovalClaims, *, now: int) -> None: ...


class KeySource(Protocol):
    """Resolves a ``kid`` to a key, e.g. :class:`~release_gate_client.JWKSFetcher`."""

    def get_key(self, kid: str) -> Ed25519PublicKey | None: ...


def verify_token(
    token: str,
    *,
    keys: Mapping[str, Ed25519PublicKey] | None = None,
    jwks: KeySource | None = None,
    issuer: str,
    audience: str,
    packet_digest: str,
    leeway: int = MAX_LEEWAY,
    now: int | None = None,
    revocations: RevocationCheck | None = None,
) -> ApprovalClaims:
    """Verify an approval token and return its claims, or raise a :class:`TokenError`.

    Pass exactly one of ``keys`` (``kid`` to key) or ``jwks`` (a
    :class:`KeySource`, which may refresh once on an unknown ``kid``).
    ``audience`` is the lane the caller serves; ``packet_digest`` the digest
    of the packet it was handed. ``leeway`` (0 to 60 seconds) applies to
    ``exp`` and ``nbf``; ``now`` (Unix seconds) defaults to the system clock.
    ``revocations`` (a :class:`~release_gate_client.RevocationList` or
    :class:`~release_gate_client.RevocationFetcher`) is checked last, once
    the signature and every claim pass: ``token.revoked``.
    """
    source = _key_source(keys, jwks)
    moment = _check_arguments(issuer, audience, packet_digest, leeway, now)
    header_b64, payload_b64, signature_b64 = _split(token)
    header = _decode_json(header_b64, "header")
    _check_header(header)
    key = _resolve_key(header.get("kid"), source)
    _check_signature(key, header_b64, payload_b64, signature_b64)
    claims = ApprovalClaims.from_payload(_decode_json(payload_b64, "payload"))
    _check_claims(claims, issuer, audience, packet_digest, leeway, moment)
    if revocations is not None:
        revocations.check(claims, now=moment)
    return claims


def verify_result(
    token: str,
    *,
    keys: Mapping[str, Ed25519PublicKey] | None = None,
    jwks: KeySource | None = None,
    issuer: str,
    audience: str,
    packet_digest: str,
    leeway: int = MAX_LEEWAY,
    now: int | None = None,
    revocations: RevocationCheck | None = None,
) -> VerifyResult:
    """Like :func:`verify_token`, but a refused token is a result, not an exception.

    Only :class:`TokenError` becomes ``valid=False``; bad arguments and an
    unreachable key set (:class:`GateUnavailable`) still raise.
    """
    try:
        claims = verify_token(
            token,
            keys=keys,
            jwks=jwks,
            issuer=issuer,
            audience=audience,
            packet_digest=packet_digest,
            leeway=leeway,
            now=now,
            revocations=revocations,
        )
    except TokenError as exc:
        return VerifyResult(valid=False, reason=exc.code, claims=None)
    return VerifyResult(valid=True, reason=None, claims=claims)


class _StaticKeys:
    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self._keys = keys

    def get_key(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)


def _key_source(keys: Mapping[str, Ed25519PublicKey] | None, jwks: KeySource | None) -> KeySource:
    if keys is not None and jwks is None:
        return _StaticKeys(keys)
    if jwks is not None and keys is None:
        return jwks
    raise TypeError("pass exactly one of keys= or jwks=")


def _check_arguments(
    issuer: str, audience: str, packet_digest: str, leeway: int, now: int | None
) -> int:
    for name, value in (("issuer", issuer), ("audience", audience), ("digest", packet_digest)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
    if type(leeway) is not int or not 0 <= leeway <= MAX_LEEWAY:
        raise ValueError(f"leeway must be an integer from 0 to {MAX_LEEWAY} seconds")
    if now is None:
        return int(time.time())
    if type(now) is not int:
        raise ValueError("now must be an integer (Unix seconds)")
    return now


def _split(token: str) -> tuple[str, str, str]:
    if not isinstance(token, str):
        raise MalformedToken("a token is a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken(f"a compact JWS has 3 parts, not {len(parts)}")
    return parts[0], parts[1], parts[2]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _decode_json(segment: str, what: str) -> dict[str, Any]:
    try:
        text = b64url_decode(segment).decode("utf-8")
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedToken(f"the {what} is not base64url UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedToken(f"the {what} is not a JSON object")
    return value


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_header(header: Mapping[str, Any]) -> None:
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise BadSignature(f"alg {_show(alg)} is refused; only {ALGORITHM} is accepted")
    if "crit" in header:
        raise BadSignature("a 'crit' header is never understood")
    typ = header.get("typ")
    if typ != TOKEN_TYPE:
        raise WrongType(f"typ {_show(typ)} is not {TOKEN_TYPE!r}")


def _resolve_key(kid: object, source: KeySource) -> Ed25519PublicKey:
    if not isinstance(kid, str):
        raise UnknownKid("the header has no string 'kid'")
    key = source.get_key(kid)
    if key is None:
        raise UnknownKid(f"no key with kid {_show(kid)}")
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError(f"key {kid!r} is not an Ed25519PublicKey")
    return key


def _check_signature(
    key: Ed25519PublicKey, header_b64: str, payload_b64: str, signature_b64: str
) -> None:
    try:
        signature = b64url_decode(signature_b64)
        key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except (ValueError, InvalidSignature) as exc:
        raise BadSignature("the signature does not verify") from exc


def _check_claims(
    claims: ApprovalClaims, issuer: str, audience: str, digest: str, leeway: int, now: int
) -> None:
    if claims.iss != issuer:
        raise WrongIssuer(f"issuer {_show(claims.iss)} is not {_show(issuer)}")
    if claims.aud != audience:
        raise WrongAudience(f"audience {_show(claims.aud)} is not {_show(audience)}")
    if now >= claims.exp + leeway:
        raise TokenExpired(f"expired at {claims.exp} (now {now}, leeway {leeway}s)")
    if now < claims.nbf - leeway:
        raise TokenNotYetValid(f"not valid before {claims.nbf} (now {now}, leeway {leeway}s)")
    if claims.packet_digest != digest:
        raise DigestMismatch("the token approves a different packet digest")
