"""The decision store: every decision, allow and deny, appended before it is answered.

SQLAlchemy 2 on SQLite (default; WAL, ``synchronous=FULL``) or PostgreSQL.
The store exposes append and read only: there is no update or delete path.
If a record cannot be committed the caller gets :class:`StoreUnavailable` and
no token leaves the gate.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Engine,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from release_gate.errors import ServiceUnavailable

__all__ = ["DecisionRecord", "DecisionStore", "StoreUnavailable"]

logger = logging.getLogger(__name__)


class StoreUnavailable(ServiceUnavailable):
    title = "Decision store unavailable"
    type_suffix = "store-unavailable"


class _Base(DeclarativeBase):
    pass


class _DecisionRow(_Base):
    __tablename__ = "decisions"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(36), unique=True)
    evaluated_at: Mapped[str] = mapped_column(String(40))
    evaluated_at_ns: Mapped[int] = mapped_column(BigInteger, index=True)
    manifest_id: Mapped[str] = mapped_column(String(128))
    manifest_digest: Mapped[str] = mapped_column(String(71))
    packet_id: Mapped[str] = mapped_column(String(128), index=True)
    packet_revision: Mapped[int] = mapped_column(BigInteger)
    packet_digest: Mapped[str] = mapped_column(String(71))
    lane: Mapped[str] = mapped_column(String(128), index=True)
    allow: Mapped[bool] = mapped_column(Boolean)
    violations: Mapped[str] = mapped_column(Text)
    warnings: Mapped[str] = mapped_column(Text)
    accepted_objections: Mapped[str] = mapped_column(Text)
    policy_revision: Mapped[str] = mapped_column(String(256))
    policy_digest: Mapped[str] = mapped_column(String(71))
    engine: Mapped[str] = mapped_column(String(32))
    token_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    token_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    manifest: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    decision_id: str
    evaluated_at: str
    evaluated_at_ns: int
    manifest_id: str
    manifest_digest: str
    packet_id: str
    packet_revision: int
    packet_digest: str
    lane: str
    allow: bool
    violations: list[dict[str, str]]
    warnings: list[dict[str, str]]
    accepted_objections: list[str]
    policy_revision: str
    policy_digest: str
    engine: str
    token_id: str | None
    token_expires_at: int | None
    manifest: str

    def _row(self) -> _DecisionRow:
        values: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        for name in ("violations", "warnings", "accepted_objections"):
            values[name] = json.dumps(values[name], separators=(",", ":"))
        return _DecisionRow(**values)

    @classmethod
    def _from_row(cls, row: _DecisionRow) -> DecisionRecord:
        values = {name: getattr(row, name) for name in cls.__slots__}
        for name in ("violations", "warnings", "accepted_objections"):
            values[name] = json.loads(values[name])
        return cls(**values)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class DecisionStore:
    """Append and read decisions. Thread-safe: one short session per call."""

    def __init__(self, url: str) -> None:
        self._engine = _make_engine(url)
        self.backend = self._engine.dialect.name
        self._schema_ready = False

    def create_schema(self) -> None:
        try:
            _Base.metadata.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"cannot prepare the decision store: {type(exc).__name__}"
            ) from exc
        self._schema_ready = True

    def append(self, record: DecisionRecord) -> None:
        """Commit ``record`` durably, or raise :class:`StoreUnavailable`."""
        if not self._schema_ready:  # the store was unreachable at start-up
            self.create_schema()
        try:
            with Session(self._engine) as session, session.begin():
                session.add(record._row())
        except SQLAlchemyError as exc:
            logger.error("decision %s not recorded: %s", record.decision_id, type(exc).__name__)
            raise StoreUnavailable("the decision could not be recorded; no token issued") from exc

    def get(self, decision_id: str) -> DecisionRecord | None:
        try:
            with Session(self._engine) as session:
                row = session.scalars(
                    select(_DecisionRow).where(_DecisionRow.decision_id == decision_id)
                ).first()
                return DecisionRecord._from_row(row) if row else None
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc

    def count(self) -> int:
        with Session(self._engine) as session:
            return len(session.scalars(select(_DecisionRow.seq)).all())

    def ping(self) -> None:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"decision store unreachable: {type(exc).__name__}") from exc

    def close(self) -> None:
        self._engine.dispose()
