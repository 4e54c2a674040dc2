"""Decision-list cursors go through the one strict base64url decoder (issue 14).

A cursor is a position, not a secret, but one cursor must have one text: a
re-encoded cursor (padding, ``+``/``/``, junk, non-zero unused bits) is refused
as "not one this gate issued" before its content is looked at, while the
canonical text of the same JSON gets as far as the filter check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from release_gate.store import Database
from release_gate.store.query import DecisionQuery, InvalidCursor, list_decisions
from release_gate_client.b64url import b64url_encode
from tests.databases import migrate
from tests.reencoding import FAMILIES, variants


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'decisions.db'}"
    migrate(url)
    database = Database(url)
    yield database
    database.close()


def _cursor(family: str) -> str:
    """A canonical cursor of this gate's shape, bound to no real filters, to which
    ``family`` applies (found by varying its ``q``: ``?`` and ``>`` encode to ``_`` and
    ``-`` in some positions)."""
    for size in range(1, 48):
        value = {"v": 2, "before": 5, "q": ("?>" * 24)[:size]}
        text = b64url_encode(json.dumps(value, separators=(",", ":")).encode())
        if family in variants(text):
            return text
    raise AssertionError(f"no cursor makes {family} apply")


class TestCursorEncoding:
    @pytest.mark.parametrize("family", FAMILIES)
    def test_the_canonical_text_is_decoded(self, db: Database, family: str) -> None:
        cursor = _cursor(family)
        with pytest.raises(InvalidCursor) as caught:
            list_decisions(db, DecisionQuery(cursor=cursor))
        assert "other filters" in caught.value.detail

    @pytest.mark.parametrize("family", FAMILIES)
    def test_a_reencoded_cursor_is_refused(self, db: Database, family: str) -> None:
        cursor = variants(_cursor(family))[family]
        with pytest.raises(InvalidCursor) as caught:
            list_decisions(db, DecisionQuery(cursor=cursor))
        assert "not one this gate issued" in caught.value.detail
