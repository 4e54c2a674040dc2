"""The audit store: decision log, holds and revocations on one database.

::

    Store
    ├── db           Database: engine, serialized write transaction (store.db)
    ├── decisions    DecisionStore: append (chained), get, facts (store.decisions)
    ├── holds        HoldStore: place and lift, as chained events (store.holds)
    └── revocations  RevocationStore: revoked token ids (store.revocations)

Schema by Alembic migrations (``store.migrate``); the chain in ``store.chain``.
"""

from __future__ import annotations

from release_gate.store.chain import ChainHeadState, ChainReport, verify_chain
from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.decisions import DecisionRecord, DecisionStore, FactsChanged
from release_gate.store.holds import HoldAlreadyLifted, HoldNotFound, HoldStore
from release_gate.store.revocations import RevocationStore

__all__ = [
    "ChainHeadState",
    "ChainReport",
    "Database",
    "DecisionRecord",
    "DecisionStore",
    "FactsChanged",
    "HoldAlreadyLifted",
    "HoldNotFound",
    "HoldStore",
    "RevocationStore",
    "Store",
    "StoreUnavailable",
]


class Store:
    """Everything the gate keeps, on the database at ``url``."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.backend = self.db.backend
        self.decisions = DecisionStore(self.db)
        self.holds = HoldStore(self.db)
        self.revocations = RevocationStore(self.db)

    def verify_chain(self) -> ChainReport:
        with self.db.read() as conn:
            return verify_chain(conn)

    def ping(self) -> None:
        self.db.ping()

    def close(self) -> None:
        self.db.close()
