"""Ed25519 JSON Web Keys: RFC 7638 thumbprints, public JWKs, JWKS loading.

Only ``{"kty": "OKP", "crv": "Ed25519"}`` keys are usable here. A JWKS may
list other keys (an RSA key for some other purpose, an X25519 key, a key
marked ``use: enc`` or with another ``alg``); :func:`load_jwks` skips those.
An Ed25519 entry that is broken (bad ``x``, no ``kid``, private material,
a ``kid`` reused for a different key) raises :class:`KeySetError`: a key set
the gate publishes wrongly is a fault to report, not something to guess at.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from release_gate_client.b64url import b64url_decode, b64url_encode
from release_gate_client.errors import KeySetError

__all__ = ["jwk_thumbprint", "load_jwk", "load_jwks", "public_jwk"]

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


def _raw(public_key: Ed25519PublicKey) -> bytes:
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError("expected an Ed25519PublicKey")
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def jwk_thumbprint(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 thumbprint of ``public_key``, base64url without padding.

    SHA-256 over the required members in lexicographic order with no
    whitespace: ``{"crv":"Ed25519","kty":"OKP","x":"..."}`` (RFC 8037).
    """
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(_raw(public_key))}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(public_key: Ed25519PublicKey, *, kid: str) -> dict[str, str]:
    """The public JWK for ``public_key``, as published in the gate's JWKS."""
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url_encode(_raw(public_key)),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    }


def _is_ed25519_signing_key(jwk: Mapping[str, Any]) -> bool:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return False
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "EdDSA") != "EdDSA":
        return False
    ops = jwk.get("key_ops")
    return ops is None or (isinstance(ops, list) and "verify" in ops)


def load_jwk(jwk: Mapping[str, Any]) -> tuple[str, Ed25519PublicKey] | None:
    """``(kid, key)`` for a usable Ed25519 JWK, ``None`` for another kind of key.

    Raises :class:`KeySetError` for an Ed25519 JWK that is malformed.
    """
    if not isinstance(jwk, Mapping):
        raise KeySetError("a JWK must be a JSON object")
    if not _is_ed25519_signing_key(jwk):
        return None
    if _PRIVATE_MEMBERS & jwk.keys():
        raise KeySetError("a public JWK must not carry private key material")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeySetError("an Ed25519 JWK needs a non-empty string 'kid'")
    x = jwk.get("x")
    try:
        raw = b64url_decode(x) if isinstance(x, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise KeySetError(f"JWK {kid!r}: 'x' must be 32 bytes of unpadded base64url")
    return kid, Ed25519PublicKey.from_public_bytes(raw)


def load_jwks(doc: Mapping[str, Any] | str | bytes) -> dict[str, Ed25519PublicKey]:
    """Map ``kid`` to key for every usable Ed25519 key in a JWKS document.

    ``doc`` is the parsed document or its JSON text. Keys of other types are
    skipped; a malformed document or Ed25519 key raises :class:`KeySetError`,
    as does one ``kid`` naming two different keys.
    """
    if isinstance(doc, str | bytes):
        try:
            doc = json.loads(doc)
        except (ValueError, UnicodeDecodeError) as exc:
            raise KeySetError(f"JWKS is not JSON: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise KeySetError("a JWKS must be a JSON object with a 'keys' array")
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in doc["keys"]:
        loaded = load_jwk(entry)
        if loaded is None:
            continue
        kid, key = loaded
        if kid in keys and _raw(keys[kid]) != _raw(key):
            raise KeySetError(f"JWKS names two different keys {kid!r}")
        keys[kid] = key
    return keys
