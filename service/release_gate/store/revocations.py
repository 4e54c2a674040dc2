"""Revoked token ids: written in the transaction that revokes them, read by verifiers.

Written by the entries of the chain, in their batch's transaction
(:meth:`release_gate.store.state.BatchState.revoke`): an approval of revision N
revokes the live tokens of revisions below N for that packet and lane
(``superseded``); a hold revokes the live tokens of the held revision
(``hold``). A revocation is permanent: lifting a hold does not revive a token
(offline verifiers may have cached the revocation; a fresh evaluation mints a
new token).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import StoreUnavailable
from release_gate.store.db import Database
from release_gate.store.schema import RevocationRow

__all__ = ["RevocationStore"]


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
