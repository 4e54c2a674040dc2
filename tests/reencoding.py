"""Re-encodings: other texts that a lenient base64 reader takes for the same bytes.

``base64.urlsafe_b64decode(text + "==")`` accepts padding, the standard
alphabet's ``+``/``/``, skipped junk and whitespace, and non-zero unused bits;
``release_gate_client.b64url.b64url_decode`` accepts exactly one text per byte
string. Tests use :func:`variants` to show each reader refuses the others.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from release_gate_client.b64url import b64url_encode

__all__ = ["ALPHABET", "FAMILIES", "json_segment", "lenient", "variants"]

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
FAMILIES = ("padding", "junk", "space", "newline", "trailing-bits", "standard-alphabet")


def lenient(text: str) -> bytes:
    """What a lenient reader makes of ``text``."""
    return base64.urlsafe_b64decode(text + "==")


def variants(text: str) -> dict[str, str]:
    """Family name -> another text of the same bytes to a lenient reader.

    ``text`` is canonical. ``trailing-bits`` applies when its last character carries
    unused bits, ``standard-alphabet`` when it holds a ``-`` or ``_``.
    """
    found = {
        "padding": text + "==",
        "junk": text[:4] + "!" + text[4:],
        "space": text[:4] + " " + text[4:],
        "newline": text + "\n",
    }
    if len(text) % 4 in (2, 3):
        found["trailing-bits"] = text[:-1] + ALPHABET[ALPHABET.index(text[-1]) + 1]
    standard = text.replace("-", "+").replace("_", "/")
    if standard != text:
        found["standard-alphabet"] = standard
    for name, variant in found.items():
        assert lenient(variant) == lenient(text), name
    return found


def json_segment(value: dict[str, Any], family: str) -> str:
    """``value`` as a canonical segment to which ``family`` applies, found by adding a
    ``filler`` member (``?`` and ``>`` encode to ``_`` and ``-`` in some positions)."""
    for size in range(64):
        member = ("?>" * 32)[:size]
        text = b64url_encode(
            json.dumps({**value, "filler": member}, separators=(",", ":")).encode()
        )
        if family in variants(text):
            return text
    raise AssertionError(f"no filler makes {family} apply")
