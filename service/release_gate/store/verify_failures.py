"""``/v1/verify`` answers of ``valid: false``, counted per lane and reason for the reports.

Not entries of the chain (a verification changes nothing), so written outside
the chain's lock in a transaction of their own. The reason comes from the
client's fixed set of token codes, the lane from the request (the reports read
only lanes the governance data defines).
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import StoreUnavailable
from release_gate.store.db import Database
from release_gate.store.schema import VerifyFailureRow

__all__ = ["VerifyFailureStore"]


class VerifyFailureStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, *, lane: str, reason: str, now_ns: int) -> None:
        try:
            with self._db.engine.begin() as conn:
                conn.execute(
                    insert(VerifyFailureRow).values(lane=lane, reason=reason, at_ns=now_ns)
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"cannot count the failed verify: {type(exc).__name__}") from exc
