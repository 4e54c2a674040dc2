"""Canonical forms and digests (contract section 1), on RFC 8785 (``rfc8785``).

- ``manifest_digest = "sha256:" + hex(sha256(JCS(manifest without "signatures")))``,
  over the document as received, never a defaulted form;
- the approval statement a signer signs binds the digest, the signer and the role.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

__all__ = ["APPROVAL_TYPE", "approval_statement", "manifest_digest", "sha256_digest"]

APPROVAL_TYPE = "release-gate.approval/v1"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_digest(document: Mapping[str, Any]) -> str:
    """Digest of the manifest document, excluding its ``signatures`` member."""
    payload = {key: value for key, value in document.items() if key != "signatures"}
    return sha256_digest(rfc8785.dumps(payload))


def approval_statement(*, manifest_digest: str, subject: str, role: str) -> bytes:
    """The exact bytes a signer signs for one signature."""
    return rfc8785.dumps(
        {
            "type": APPROVAL_TYPE,
            "manifest_digest": manifest_digest,
            "subject": subject,
            "role": role,
        }
    )
