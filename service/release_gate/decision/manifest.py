"""The release manifest (contract section 1) and its validation.

:func:`validate_manifest` takes the parsed I-JSON document and returns a typed,
frozen :class:`Manifest`, or raises :class:`InvalidManifest` (422) listing every
problem with a JSON Pointer. The digest is never computed from these models:
it is computed over the document as received (see :mod:`release_gate.decision.canonical`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from release_gate.errors import FieldError, InvalidManifest, json_pointer
from release_gate.timestamps import parse_timestamp_ns
from release_gate_client.b64url import b64url_decode

__all__ = [
    "Evidence",
    "Limits",
    "Manifest",
    "Objection",
    "Packet",
    "ResidualAcceptance",
    "Signature",
    "validate_manifest",
]

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def _subject(value: str) -> str:
    if not 1 <= len(value) <= 256:
        raise ValueError("a subject is 1-256 code points")
    if value.isascii() and value.isprintable() and " " not in value:
        return value  # ASCII outside Cc and Zs: the common case, checked in C
    for char in value:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise ValueError(
                f"a subject may not contain U+{ord(char):04X} (whitespace or invisible)"
            )
    return value


def _timestamp(value: str) -> str:
    parse_timestamp_ns(value)
    return value


def _signature(value: str) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError as exc:
        raise ValueError(
            "signature must be canonical unpadded base64url of exactly 64 bytes"
        ) from exc
    if len(raw) != 64:
        raise ValueError("signature must be canonical unpadded base64url of exactly 64 bytes")
    return value


Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@+\-]{1,128}$")]
Subject = Annotated[str, AfterValidator(_subject)]
Text = Annotated[str, StringConstraints(max_length=4096)]  # code points, checked natively
Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
Timestamp = Annotated[str, AfterValidator(_timestamp)]
Revision = Annotated[int, Field(ge=1, le=2**53 - 1)]
SignatureValue = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{86}$"), AfterValidator(_signature)
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Packet(_Wire):
    id: Id
    revision: Revision
    digest: Digest
    supersedes_revision: Revision | None


class ResidualAcceptance(_Wire):
    accepted_by: Subject
    accepted_at: Timestamp
    rationale: Text


class Objection(_Wire):
    id: Id
    summary: Text
    raised_by: Subject
    status: Literal["open", "resolved"]
    residual_acceptance: ResidualAcceptance | None


class Evidence(_Wire):
    id: Id
    ref: Text
    source: Id
    digest: Digest
    observed_at: Timestamp


class Signature(_Wire):
    subject: Subject
    role: Id
    key_id: Id
    alg: Literal["Ed25519"]
    signature: SignatureValue


class Manifest(_Wire):
    manifest_version: Literal["1"]
    manifest_id: Id
    created_at: Timestamp
    packet: Packet
    lane: Id
    audience: Annotated[list[Id], Field(min_length=1, max_length=32)]
    requested_actions: Annotated[list[Id], Field(min_length=1, max_length=32)]
    release_owner: Subject
    objections: list[Objection]
    evidence: list[Evidence]
    signatures: list[Signature]


@dataclass(frozen=True, slots=True)
class Limits:
    """Array bounds (``RELEASE_GATE_MAX_*``)."""

    max_signatures: int = 32
    max_objections: int = 1000
    max_evidence: int = 1000


def _bounds(doc: dict[str, Any], limits: Limits) -> list[FieldError]:
    errors = []
    for name, limit in (
        ("signatures", limits.max_signatures),
        ("objections", limits.max_objections),
        ("evidence", limits.max_evidence),
    ):
        value = doc.get(name)
        if isinstance(value, list) and len(value) > limit:
            errors.append(FieldError(f"/{name}", f"at most {limit} items (got {len(value)})"))
    return errors


def _duplicates(values: list[str], where: str, suffix: str = "") -> list[FieldError]:
    seen: set[str] = set()
    errors = []
    for i, value in enumerate(values):
        if value in seen:
            errors.append(FieldError(f"{where}/{i}{suffix}", f"duplicate value {value!r}"))
        seen.add(value)
    return errors


def _semantics(m: Manifest) -> list[FieldError]:
    errors = _duplicates(list(m.audience), "/audience")
    errors += _duplicates(list(m.requested_actions), "/requested_actions")
    errors += _duplicates([o.id for o in m.objections], "/objections", "/id")
    errors += _duplicates([e.id for e in m.evidence], "/evidence", "/id")
    supersedes = m.packet.supersedes_revision
    if supersedes is not None and supersedes >= m.packet.revision:
        errors.append(
            FieldError("/packet/supersedes_revision", "must be lower than packet.revision")
        )
    for i, objection in enumerate(m.objections):
        if objection.status == "resolved" and objection.residual_acceptance is not None:
            errors.append(
                FieldError(
                    f"/objections/{i}/residual_acceptance",
                    "must be null when the objection is resolved",
                )
            )
    return errors


def _pydantic_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [p for p in err["loc"] if isinstance(p, int) or not _is_tag(p)]
        out.append(FieldError(json_pointer(loc), err["msg"]))
    return out


def _is_tag(part: str) -> bool:
    # pydantic inserts validator tags such as "function-after[...]" into locations.
    return "[" in part or part in {"nullable", "str", "int", "list", "tuple"}


def validate_manifest(doc: Any, *, limits: Limits) -> Manifest:
    """Validate a parsed document; raise :class:`InvalidManifest` listing every error."""
    errors = _bounds(doc, limits) if isinstance(doc, dict) else []
    manifest: Manifest | None = None
    try:
        manifest = Manifest.model_validate(doc)
    except ValidationError as exc:
        errors += _pydantic_errors(exc)
    if manifest is not None:
        errors += _semantics(manifest)
    if errors or manifest is None:
        detail = "; ".join(f"{e.pointer or '/'}: {e.detail}" for e in errors[:5])
        raise InvalidManifest(f"invalid manifest: {detail}", errors=tuple(errors))
    return manifest
