"""API keys: bearer tokens configured only as SHA-256 hashes, each with roles.

``RELEASE_GATE_API_KEYS`` names a JSON file: a list of ``{name, sha256,
roles, lanes?, sources?}`` (``release-gate apikey create`` prints a fresh key
once, and its entry). A presented key is hashed and compared with every configured hash
with :func:`hmac.compare_digest` (no early exit, no plain key in memory
longer than the request). Roles:

- ``evaluator``: ``POST /v1/evaluate``
- ``verifier``: ``POST /v1/verify``, ``GET /v1/revocations``
- ``auditor``: ``GET /v1/decisions``, ``GET /v1/decisions/{id}``, the chain head, the
  packet pages (``/ui/``)
- ``release_owner``: ``POST /v1/holds``, ``DELETE /v1/holds/{id}``, ``GET /v1/holds``
- ``evidence_source``: ``POST /v1/evidence-events`` (source systems)
- ``intake``: ``POST /v1/intake-outcomes`` (intake lanes)

The auditor also reads the lane reports (``GET /v1/reports/lanes/{lane}``).

``lanes`` (optional, a non-empty list of lane ids) ties a ``verifier`` or
``intake`` key to those lanes: it may verify tokens for them and report
outcomes of their tokens only (403 otherwise), so one intake lane's system
cannot skew another lane's report. ``sources`` (likewise) ties an
``evidence_source`` key to those evidence sources: it may report events of
those sources only, so one source system cannot revoke approvals by claiming
another's evidence changed. Each is refused on keys with other roles, whose
requests it would not limit.

Auth is off only in development mode with no key file (a loud warning at
start-up); production mode without keys refuses to start.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release_gate.errors import ConfigurationError, GateError

__all__ = [
    "ANONYMOUS",
    "LANE_ROLES",
    "ROLES",
    "SOURCE_ROLES",
    "ApiKey",
    "Authenticator",
    "Forbidden",
    "Principal",
    "Unauthorized",
    "generate_key",
    "hash_key",
    "load_api_keys",
    "parse_entry",
]

ROLES = frozenset(
    {"evaluator", "verifier", "auditor", "release_owner", "evidence_source", "intake"}
)
#: The roles whose requests a key's ``lanes`` limits.
LANE_ROLES = frozenset({"verifier", "intake"})
#: The roles whose requests a key's ``sources`` limits.
SOURCE_ROLES = frozenset({"evidence_source"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9._:@+-]{1,128}$")
_ID = _NAME  # a lane or evidence source id, as in manifests
KEY_PREFIX = "rgk_"


class Unauthorized(GateError):
    status = 401
    title = "Unauthorized"
    type_suffix = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="release-gate"'}  # noqa: RUF012


class Forbidden(GateError):
    status = 403
    title = "Forbidden"
    type_suffix = "forbidden"


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    sha256: str
    roles: frozenset[str]
    lanes: frozenset[str] | None = None  # None: every lane
    sources: frozenset[str] | None = None  # None: every evidence source


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    roles: frozenset[str]
    lanes: frozenset[str] | None = None  # None: every lane
    sources: frozenset[str] | None = None  # None: every evidence source

    def require_lane(self, lane: str, what: str) -> None:
        """:class:`Forbidden` unless this caller may act on ``lane`` (``what`` says how)."""
        if self.lanes is not None and lane not in self.lanes:
            raise Forbidden(
                f"the API key {self.name!r} is limited to the lanes {sorted(self.lanes)}; "
                f"{what} is for lane {lane[:128]!r}"
            )

    def require_source(self, source: str) -> None:
        """:class:`Forbidden` unless this caller may report events of ``source``."""
        if self.sources is not None and source not in self.sources:
            raise Forbidden(
                f"the API key {self.name!r} is limited to the evidence sources "
                f"{sorted(self.sources)}; this event is from {source[:128]!r}"
            )


#: Who acts when auth is off (development only).
ANONYMOUS = Principal(name="anonymous (auth off)", roles=ROLES)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A fresh random key: ``rgk_`` and 256 bits, base64url."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


_REQUIRED = frozenset({"name", "sha256", "roles"})
#: An entry's optional scopes, each with the roles whose requests it limits.
_SCOPES = {"lanes": LANE_ROLES, "sources": SOURCE_ROLES}


def parse_entry(value: Any, where: str) -> ApiKey:
    """One entry of the key file; :class:`ConfigurationError` names what is wrong."""
    if not isinstance(value, dict) or not _REQUIRED <= set(value) <= _REQUIRED | _SCOPES.keys():
        raise ConfigurationError(
            f"{where}: each entry is exactly {{name, sha256, roles, lanes?, sources?}}"
        )
    name, digest, roles = value["name"], value["sha256"], value["roles"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"{where}: name must be 1-128 characters of [A-Za-z0-9._:@+-]")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise ConfigurationError(f"{where}: sha256 must be 64 lowercase hex digits (a hash)")
    if not isinstance(roles, list) or not roles or not set(roles) <= ROLES:
        raise ConfigurationError(f"{where}: roles must be a non-empty list of {sorted(ROLES)}")
    return ApiKey(
        name=name,
        sha256=digest,
        roles=frozenset(roles),
        lanes=_scope(value, "lanes", where),
        sources=_scope(value, "sources", where),
    )


def _scope(value: dict[str, Any], field: str, where: str) -> frozenset[str] | None:
    """The entry's ``lanes`` or ``sources``: ``None`` (unlimited) when absent."""
    if field not in value:
        return None
    ids, roles, limited = value[field], set(value["roles"]), _SCOPES[field]
    if not isinstance(ids, list) or not ids:
        raise ConfigurationError(f"{where}: {field}, when given, is a non-empty list of ids")
    if not all(isinstance(i, str) and _ID.match(i) for i in ids):
        raise ConfigurationError(f"{where}: each of {field} must be an id ([A-Za-z0-9._:@+-])")
    if not roles <= limited:
        raise ConfigurationError(
            f"{where}: {field} limits only the {sorted(limited)} roles; a key that also has "
            f"{sorted(roles - limited)} would not be limited by it"
        )
    return frozenset(ids)


def load_api_keys(path: Path) -> tuple[ApiKey, ...]:
    """Parse the key file; :class:`ConfigurationError` names what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read API keys from {path}: {exc}") from exc
    if not isinstance(document, list) or not document:
        raise ConfigurationError(f"{path}: expected a non-empty JSON list of API keys")
    keys = tuple(parse_entry(v, f"{path}[{i}]") for i, v in enumerate(document))
    if len({k.name for k in keys}) != len(keys) or len({k.sha256 for k in keys}) != len(keys):
        raise ConfigurationError(f"{path}: key names and hashes must be unique")
    return keys


class Authenticator:
    """Checks ``Authorization: Bearer <key>``; ``enabled=False`` lets everyone in."""

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self._keys = keys
        self.enabled = bool(keys)

    def authenticate(self, authorization: str | None) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        digest = hash_key(presented.strip())
        found = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.sha256):
                found = key
        if found is None:
            raise Unauthorized("the API key is not valid")
        return Principal(
            name=found.name, roles=found.roles, lanes=found.lanes, sources=found.sources
        )

    def key_named(self, name: str) -> ApiKey | None:
        """The configured key called ``name`` (a session checks its key is still there)."""
        return next((key for key in self._keys if key.name == name), None)

    def require(self, authorization: str | None, role: str) -> Principal:
        principal = self.authenticate(authorization)
        if role not in principal.roles:
            raise Forbidden(f"the API key {principal.name!r} does not have the {role} role")
        return principal
