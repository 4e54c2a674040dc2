"""Signing keys: loading PKCS#8 PEM files, the dev key, and the JWKS.

The ``kid`` of a key is its RFC 7638 thumbprint. Private key material never
leaves this module except as a ``cryptography`` key object; nothing here logs it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from release_gate.errors import ConfigurationError
from release_gate.ops.files import make_private_dirs
from release_gate.ops.logs import INSECURE_DEFAULT
from release_gate_client.jwk import jwk_thumbprint, public_jwk

__all__ = [
    "SigningKey",
    "ephemeral_key",
    "jwks_document",
    "jwks_of",
    "load_or_create_dev_key",
    "load_private_key",
    "load_public_key",
    "write_private_key",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    kid: str
    path: Path

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


def load_private_key(path: Path) -> SigningKey:
    """Load an Ed25519 PKCS#8 PEM (unencrypted) or raise :class:`ConfigurationError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read signing key file {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{path} is not an unencrypted PKCS#8 PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} is not an Ed25519 key")
    return SigningKey(private_key=key, kid=jwk_thumbprint(key.public_key()), path=path)


def ephemeral_key() -> SigningKey:
    """A throwaway key that never touches disk, for dry runs that sign nothing."""
    key = Ed25519PrivateKey.generate()
    return SigningKey(private_key=key, kid=jwk_thumbprint(key.public_key()), path=Path("-"))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Public half of a key file (private PKCS#8 PEM or public SPKI PEM)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read key file {path}: {exc.strerror}") from exc
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not a PEM key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"{path} is not an Ed25519 key")
    return key


def write_private_key(path: Path, key: Ed25519PrivateKey, *, force: bool) -> None:
    """Write ``key`` as PKCS#8 PEM with mode 0600 (missing directories 0700); never
    overwrite without ``force``."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    make_private_dirs(path.parent)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)


def load_or_create_dev_key(path: Path) -> SigningKey:
    """The development signing key: created on first start, with a loud warning."""
    if not path.exists():
        write_private_key(path, Ed25519PrivateKey.generate(), force=False)
        logger.warning("created a DEVELOPMENT signing key at %s", path, extra=INSECURE_DEFAULT)
    key = load_private_key(path)
    logger.warning(
        "INSECURE: signing approval tokens with the development key %s (kid %s). "
        "Set RELEASE_GATE_SIGNING_KEY_FILE to a managed key for anything but local use.",
        path,
        key.kid,
        extra=INSECURE_DEFAULT,
    )
    return key


def jwks_of(keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """The JWKS of ``kid`` -> public key, in order (the active key first)."""
    return {"keys": [public_jwk(public, kid=kid) for kid, public in keys.items()]}


def jwks_document(active: SigningKey, retired: Sequence[Ed25519PublicKey]) -> dict[str, Any]:
    """The JWKS: the active key first, then retired keys still trusted for verification."""
    keys = {active.kid: active.public_key}
    for public in retired:
        keys.setdefault(jwk_thumbprint(public), public)
    return jwks_of(keys)
