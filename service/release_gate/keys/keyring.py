"""The gate's key ring: one active signer, retired keys kept for verification.

A key ring is a directory (``RELEASE_GATE_KEYS_DIR``) holding ``keys.json``::

    {"format": "release-gate.keyring/v1",
     "active": {"kid": "...", "file": "<kid>.pem", "created_at": 1790000000},
     "retired": [{"kid": "...", "file": "<kid>.pub.pem", "retired_at": 1790000000}]}

``release-gate keys rotate`` writes a new active key (PKCS#8, 0600), keeps only
the *public* half of the key it retires (the private half is deleted once the
new index is committed), and records when it retires: ``retired_at`` is the
rotation time plus the roll allowance (``--roll-seconds``, default 600), by
when every replica must have restarted with the new key, since replicas not
yet rolled keep signing with the old one. A retired key stays in the JWKS and
in ``/v1/verify`` until the last token it could have signed has expired:
``retired_at + max token TTL + leeway``. After that it is dropped, and
a token it signed fails with ``token.unknown_kid``.

Keys from ``RELEASE_GATE_RETIRED_KEY_FILES`` carry no retirement time: they
are published until the operator removes them from the list.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from release_gate.errors import ConfigurationError
from release_gate.keys.signing import (
    SigningKey,
    load_private_key,
    load_public_key,
    write_private_key,
)
from release_gate_client.jwk import jwk_thumbprint

__all__ = [
    "DEFAULT_ROLL_SECONDS",
    "INDEX_NAME",
    "KEYRING_FORMAT",
    "LEEWAY_SECONDS",
    "MAX_ROLL_SECONDS",
    "MAX_TOKEN_TTL_SECONDS",
    "KeyRing",
    "RetiredKey",
    "Rotation",
    "files_keyring",
    "load_keyring",
    "rotate",
]

INDEX_NAME = "keys.json"
KEYRING_FORMAT = "release-gate.keyring/v1"
#: Verifiers accept a token up to this long after ``exp`` (contract section 5).
LEEWAY_SECONDS = 60
#: The largest ``token_ttl_seconds`` governance accepts; the safe upper bound.
MAX_TOKEN_TTL_SECONDS = 7 * 86400


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A key that no longer signs; ``retired_at`` is ``None`` when unknown (kept until removed)."""

    public_key: Ed25519PublicKey
    kid: str
    retired_at: int | None

    def published_at(self, now: int, *, max_token_ttl: int) -> bool:
        """Could a token this key signed still be accepted at ``now``?"""
        if self.retired_at is None:
            return True
        return now < self.retired_at + max_token_ttl + LEEWAY_SECONDS


@dataclass(frozen=True, slots=True)
class KeyRing:
    active: SigningKey
    retired: tuple[RetiredKey, ...]

    def verification_keys(self, now: int, *, max_token_ttl: int) -> dict[str, Ed25519PublicKey]:
        """``kid`` -> public key: the active key, then retired keys still published."""
        keys = {self.active.kid: self.active.public_key}
        for key in self.retired:
            if key.kid not in keys and key.published_at(now, max_token_ttl=max_token_ttl):
                keys[key.kid] = key.public_key
        return keys


@dataclass(frozen=True, slots=True)
class Rotation:
    active_kid: str
    retired_kid: str | None
    pruned: tuple[str, ...]


def _read_index(directory: Path) -> dict[str, Any]:
    path = directory / INDEX_NAME
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read key ring index {path}: {exc.strerror}; "
            f"create one with `release-gate keys rotate --dir {directory}`"
        ) from exc
    except ValueError as exc:
        raise ConfigurationError(f"key ring index {path} is not JSON") from exc
    if not isinstance(index, dict) or index.get("format") != KEYRING_FORMAT:
        raise ConfigurationError(f"{path} is not a {KEYRING_FORMAT} index")
    return index


def _entry_path(directory: Path, entry: Any, what: str) -> Path:
    name = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ConfigurationError(f"key ring: {what} entry needs a plain file name")
    return directory / name


def _retired(directory: Path, entries: Iterable[Any]) -> tuple[RetiredKey, ...]:
    out = []
    for entry in entries:
        public = load_public_key(_entry_path(directory, entry, "retired"))
        retired_at = entry.get("retired_at")
        if not isinstance(retired_at, int) or isinstance(retired_at, bool):
            raise ConfigurationError("key ring: every retired entry needs an integer retired_at")
        out.append(RetiredKey(public_key=public, kid=jwk_thumbprint(public), retired_at=retired_at))
    return tuple(out)


def load_keyring(directory: Path) -> KeyRing:
    """Load the key ring in ``directory`` or raise :class:`ConfigurationError` naming the fix."""
    index = _read_index(directory)
    active = load_private_key(_entry_path(directory, index.get("active"), "active"))
    retired = index.get("retired", [])
    if not isinstance(retired, list):
        raise ConfigurationError("key ring: retired must be a list")
    return KeyRing(active=active, retired=_retired(directory, retired))


def files_keyring(active: SigningKey, retired_files: Iterable[Path]) -> KeyRing:
    """A key ring from ``RELEASE_GATE_SIGNING_KEY_FILE`` and ``_RETIRED_KEY_FILES``."""
    retired = []
    for path in retired_files:
        public = load_public_key(path)
        retired.append(RetiredKey(public_key=public, kid=jwk_thumbprint(public), retired_at=None))
    return KeyRing(active=active, retired=tuple(retired))


def _write_public(path: Path, key: Ed25519PublicKey) -> None:
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.write_bytes(pem)


def _write_index(directory: Path, index: dict[str, Any]) -> None:
    tmp = directory / f".{INDEX_NAME}.tmp"
    tmp.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, directory / INDEX_NAME)


#: Default time allowed to roll every replica onto the new key after a rotation.
DEFAULT_ROLL_SECONDS = 600
MAX_ROLL_SECONDS = 86400


def rotate(
    directory: Path, *, now: int | None = None, roll_seconds: int = DEFAULT_ROLL_SECONDS
) -> Rotation:
    """Make a new active key; retire the current one (public half only); prune expired ones.

    The old key is recorded as retired at ``now + roll_seconds``: replicas not
    yet restarted still sign with it until then. Safe to re-run: the index is
    replaced atomically and written before the old private key is deleted. A
    missing index starts a new key ring.
    """
    if not 0 <= roll_seconds <= MAX_ROLL_SECONDS:
        raise ConfigurationError(f"roll allowance must be 0-{MAX_ROLL_SECONDS} s")
    now = int(time.time()) if now is None else now
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    exists = (directory / INDEX_NAME).exists()
    index: dict[str, Any] = (
        _read_index(directory) if exists else {"format": KEYRING_FORMAT, "retired": []}
    )
    new_key = Ed25519PrivateKey.generate()
    new_kid = jwk_thumbprint(new_key.public_key())
    write_private_key(directory / f"{new_kid}.pem", new_key, force=False)
    retired_entries = [e for e in index.get("retired", []) if isinstance(e, dict)]
    old_private: Path | None = None
    retired_kid = None
    if exists:
        old_private = _entry_path(directory, index.get("active"), "active")
        old = load_private_key(old_private)
        retired_kid = old.kid
        _write_public(directory / f"{old.kid}.pub.pem", old.public_key)
        retired_entries.append(
            {"kid": old.kid, "file": f"{old.kid}.pub.pem", "retired_at": now + roll_seconds}
        )
    horizon = now - MAX_TOKEN_TTL_SECONDS - LEEWAY_SECONDS
    keep = [e for e in retired_entries if int(e.get("retired_at", now)) > horizon]
    pruned = [e for e in retired_entries if e not in keep]
    index.update(active={"kid": new_kid, "file": f"{new_kid}.pem", "created_at": now}, retired=keep)
    _write_index(directory, index)
    for path in [old_private, *(_entry_path(directory, e, "retired") for e in pruned)]:
        if path is not None:
            path.unlink(missing_ok=True)
    return Rotation(
        active_kid=new_kid,
        retired_kid=retired_kid,
        pruned=tuple(str(e.get("kid")) for e in pruned),
    )
