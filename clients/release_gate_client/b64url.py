"""Strict, canonical, unpadded base64url (RFC 7515 section 2; RFC 4648 section 5)."""

from __future__ import annotations

import base64
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode canonical unpadded base64url, refusing anything else.

    Padding, characters outside the URL-safe alphabet, an impossible length
    and non-zero unused trailing bits all raise :class:`ValueError`, so one
    byte string has exactly one accepted encoding.
    """
    if not _ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url (unused bits are not zero)")
    return data
