"""Production mode (``RELEASE_GATE_ENV=production``): refuse to start when unsafe.

Each check returns a problem that names its fix. The gate refuses to start
(:class:`~release_gate.errors.ConfigurationError`, listing every problem) when

- no signing key is configured (the development key is never acceptable);
- a private key file is readable or writable by its group or by others;
- API authentication is off (``RELEASE_GATE_API_KEYS`` unset);
- the decision store is SQLite (one file, one host: not a production store);
- the trust store, the signing key or a retired key is one of the published
  demo keys.

The demo keys are recognised by their public halves, listed below: the
private halves are public in ``manifests/examples/keys/`` (a test checks that
this list matches them), so a signature made with one proves nothing. The
list is public data, so the image never needs the demo private keys. Keys are
compared as their raw 32 bytes, never as text: one key can be written many
ways (padding, the standard alphabet, non-zero unused bits), and the trust
store refuses every way but the canonical one.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from release_gate.config import Settings
from release_gate.errors import ConfigurationError
from release_gate.policy.governance import Governance
from release_gate_client.b64url import b64url_decode

__all__ = [
    "DEMO_PUBLIC_KEYS",
    "auth_enabled",
    "check_production",
    "governance_problems",
    "is_demo_key",
    "settings_problems",
]

#: ``x`` of the demo keys in manifests/examples/keys (raw Ed25519, base64url).
DEMO_PUBLIC_KEYS = frozenset(
    {
        "1WT0lSapSIquoOGVZCdf8VxPCn55_pE-Yu6wG3xWL3k",  # dana-whitfield
        "T3aXJXkUSpOW9z4v3GQ76ARUKxbbPbXvvYy-TsmzpkA",  # marcus-oyelaran-2025-revoked
        "_tr1bQCFsvXshSgDtK-GmGzoO87GqJl82BKPUZoTAdw",  # marcus-oyelaran
        "LpRWqRL7xcKZZzGtdqfViB6UE2CqJ0HC2UychgSQZCk",  # packet-assembler-agent
        "TxfVSWYlDNT0IcT4AlWPMFPZSs5FIgTPGdFpK0joP58",  # priya-raman
        "X__4RuCmccB-fvm5tfgPgdkExtSch--saSoFj7OUx6g",  # tomas-lindqvist
    }
)
_DEMO_KEY_BYTES = frozenset(b64url_decode(x) for x in DEMO_PUBLIC_KEYS)


def is_demo_key(key: Ed25519PublicKey | bytes) -> bool:
    """Is ``key`` (a key, or its raw 32 bytes) a published demo key? Compares bytes."""
    raw = key if isinstance(key, bytes) else key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw in _DEMO_KEY_BYTES


def auth_enabled(settings: Settings) -> bool:
    """Is API authentication on (``RELEASE_GATE_API_KEYS``, see release_gate.keys.api_keys)?"""
    return settings.api_keys is not None


def _holds_private_key(path: Path) -> bool:
    try:
        return b"PRIVATE KEY" in path.read_bytes()
    except OSError:
        return True  # unreadable: _permission_problems reports it


def _key_files(settings: Settings) -> list[Path]:
    """Files holding private key material: the active key and any retired file that is
    a private key (a retired key should be its public half, but a copied private key
    must be as protected as the active one)."""
    if settings.keys_dir is not None:
        from release_gate.keys.keyring import load_keyring

        return [load_keyring(settings.keys_dir).active.path]
    active = [settings.signing_key_file] if settings.signing_key_file is not None else []
    return active + [p for p in settings.retired_key_files if _holds_private_key(p)]


def _permission_problems(paths: Iterable[Path]) -> list[str]:
    problems = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            problems.append(f"cannot read signing key file {path}: {exc.strerror}")
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(
                f"signing key file {path} is accessible to its group or others "
                f"(mode {stat.S_IMODE(mode):04o}): run `chmod 600 {path}` "
                "(for a Kubernetes secret volume, set defaultMode: 0400)"
            )
    return problems


def _store_problem(settings: Settings) -> list[str]:
    try:
        backend = make_url(settings.effective_database_url).get_backend_name()
    except ArgumentError:
        return ["RELEASE_GATE_DATABASE_URL is not a valid SQLAlchemy URL"]
    if backend == "sqlite":
        return [
            "the decision store is SQLite: set RELEASE_GATE_DATABASE_URL to a PostgreSQL URL "
            "(postgresql+psycopg://user@host/db)"
        ]
    return []


def settings_problems(settings: Settings) -> list[str]:
    """Problems visible from the settings and the key files alone."""
    problems = []
    if settings.signing_key_file is None and settings.keys_dir is None:
        problems.append(
            "no signing key configured: set RELEASE_GATE_KEYS_DIR (a key ring made with "
            "`release-gate keys rotate`) or RELEASE_GATE_SIGNING_KEY_FILE; the development "
            "key is refused in production"
        )
    problems += _permission_problems(_key_files(settings))
    if not auth_enabled(settings):
        problems.append(
            "API authentication is off: set RELEASE_GATE_API_KEYS (see docs/operations.md)"
        )
    return problems + _store_problem(settings)


def governance_problems(
    governance: Governance,
    *,
    signing_key: Ed25519PublicKey,
    retired_keys: Iterable[Ed25519PublicKey] = (),
) -> list[str]:
    """Demo keys in the trust store, or a demo key among the gate's own keys.

    A retired key counts too: the JWKS publishes it, so a token forged with the
    demo private key would verify.
    """
    problems = []
    for subject, record in sorted(governance.signers.items()):
        for key in record.keys:
            if is_demo_key(governance.key_bytes[(subject, key.key_id)]):
                problems.append(
                    f"the trust store holds a published demo key ({subject!r}, key_id "
                    f"{key.key_id!r}): replace policies/governance/data.json with your own "
                    "signers (release-gate keygen), or point RELEASE_GATE_POLICIES at them"
                )
    if is_demo_key(signing_key):
        problems.append("the signing key is a published demo key: make one with `keys rotate`")
    if any(is_demo_key(key) for key in retired_keys):
        problems.append(
            "a retired key (RELEASE_GATE_RETIRED_KEY_FILES or the key ring's retired list) "
            "is a published demo key, which the JWKS would publish: remove it"
        )
    return problems


def check_production(problems: list[str]) -> None:
    """Raise :class:`ConfigurationError` listing ``problems``, if there are any."""
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise ConfigurationError(
            f"refusing to start in production (RELEASE_GATE_ENV=production):\n{listed}"
        )
