"""Revoked token ids: written in the transaction that revokes them, read by verifiers.

Two causes, both inside :meth:`Database.serialized`: an approval of revision
N revokes the live tokens of revisions below N for that packet and lane
(``superseded``); a hold revokes the live tokens of the held revision
(``hold``). A revocation is permanent: lifting a hold does not revive a token
(offline verifiers may have cached the revocation; a fresh evaluation mints a
new token).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.schema import DecisionRow, RevocationRow
from release_gate.timestamps import format_ns

__all__ = ["RevocationStore", "revoke_live_tokens"]


def revoke_live_tokens(
    conn: Connection,
    where: ColumnElement[bool],
    *,
    reason: str,
    cause: str,
    now_ns: int,
) -> list[str]:
    """Revoke every unexpired, unrevoked token of the decisions matching ``where``."""
    revoked = select(RevocationRow.jti)
    rows = conn.execute(
        select(
            DecisionRow.token_id,
            DecisionRow.packet_id,
            DecisionRow.packet_revision,
            DecisionRow.lane,
            DecisionRow.token_expires_at,
        ).where(
            where
            & DecisionRow.token_id.is_not(None)
            & (DecisionRow.token_expires_at > now_ns // 1_000_000_000 - 60)
            & DecisionRow.token_id.not_in(revoked)
        )
    ).all()
    values = [
        {
            "jti": row.token_id,
            "packet_id": row.packet_id,
            "revision": row.packet_revision,
            "lane": row.lane,
            "reason": reason,
            "cause": cause,
            "revoked_at": format_ns(now_ns),
            "expires_at": row.token_expires_at,
        }
        for row in rows
    ]
    if values:
        conn.execute(insert(RevocationRow), values)
    return [v["jti"] for v in values]


class RevocationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def is_revoked(self, jti: str) -> bool:
        """Is ``jti`` revoked? :class:`StoreUnavailable` (never "no") when unreadable."""
        try:
            with self._db.read() as conn:
                found = conn.execute(select(RevocationRow.jti).where(RevocationRow.jti == jti))
                return found.first() is not None
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"revocations cannot be read: {type(exc).__name__}; the token is not vouched for"
            ) from exc

    def live(self, *, now_s: int) -> list[dict[str, Any]]:
        """Revocations of tokens not yet expired (with a minute of leeway)."""
        try:
            with self._db.read() as conn:
                rows = conn.execute(
                    select(RevocationRow)
                    .where(RevocationRow.expires_at > now_s - 60)
                    .order_by(RevocationRow.jti)
                ).all()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"revocations cannot be read: {type(exc).__name__}") from exc
        return [
            {
                "jti": r.jti,
                "exp": r.expires_at,
                "reason": r.reason,
                "packet_id": r.packet_id,
                "revision": r.revision,
                "lane": r.lane,
                "revoked_at": r.revoked_at,
            }
            for r in rows
        ]
