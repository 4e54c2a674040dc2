"""Schema migrations (Alembic, shipped in ``release_gate/migrations``).

``upgrade`` brings a database to the newest revision (``release-gate db
upgrade``); ``check`` refuses an unmigrated or outdated one with a message
naming that command. The service runs ``check`` at start-up and never
migrates on its own: with several replicas, one operator step migrates once.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import ConfigurationError
from release_gate.store.db import Database, StoreUnavailable

__all__ = [
    "SchemaNotCurrent",
    "check",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

_SCRIPTS = Path(__file__).resolve().parent.parent / "migrations"
FIX = "run `release-gate db upgrade` (with the same RELEASE_GATE_DATABASE_URL) first"


class SchemaNotCurrent(ConfigurationError):
    title = "Decision store not migrated"
    type_suffix = "store-not-migrated"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(_SCRIPTS)).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError("no migrations shipped")
    return head


def current_revision(db: Database) -> str | None:
    try:
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"decision store unreachable: {type(exc).__name__}") from exc


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to ``revision``; returns (before, after)."""
    before = current_revision(db)
    config = _config()
    try:
        with db.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"migration failed: {type(exc).__name__}: {exc}") from exc
    return before, head_revision() if revision == "head" else revision


def downgrade(db: Database, revision: str) -> None:
    """Migrate down to ``revision`` (tests, and an operator undoing a release)."""
    config = _config()
    try:
        with db.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"migration failed: {type(exc).__name__}: {exc}") from exc


def check(db: Database) -> None:
    """Raise :class:`SchemaNotCurrent` unless the database is at the newest revision."""
    current, head = current_revision(db), head_revision()
    if current is None:
        raise SchemaNotCurrent(f"the decision store has no schema yet; {FIX}")
    if current != head:
        raise SchemaNotCurrent(
            f"the decision store schema is at {current}, this release needs {head}; {FIX}"
        )
