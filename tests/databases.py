"""Test databases: a SQLite file per test, or a fresh PostgreSQL schema per test.

PostgreSQL comes from ``RELEASE_GATE_TEST_DATABASE_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); tests that need it
are skipped, with that reason, when it is unset. Each test gets its own schema
(``search_path`` in the URL), dropped afterwards, so tests never collide.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from release_gate.store import Database
from release_gate.store.migrate import upgrade

PG_ENV = "RELEASE_GATE_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL store tests need a server")
    return url


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema (dropped on exit)."""
    base = pg_base_url()
    schema = f"rg_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if make_url(base).query else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'decisions.db'}"
        return
    with pg_schema_url() as url:
        yield url


def migrate(url: str) -> None:
    """Bring the store at ``url`` to the newest schema.

    A new SQLite file is a copy of one migrated once per test process: Alembic
    loads every migration script again on each upgrade (about 80 ms), and most
    tests start from an empty, current store. The migration itself is tested
    on its own, from scratch, in tests/store/test_migrations.py.
    """
    target = make_url(url)
    if target.get_backend_name() == "sqlite" and target.database:
        path = Path(target.database)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_sqlite_template(), path)
            return
    _upgrade(url)


def _upgrade(url: str) -> None:
    db = Database(url)
    try:
        upgrade(db)
    finally:
        db.close()


@functools.cache
def _sqlite_template() -> Path:
    """An empty SQLite store at the newest schema, for this process's tests to copy."""
    folder = Path(tempfile.mkdtemp(prefix="release-gate-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "decisions.db"
    _upgrade(f"sqlite:///{path}")
    return path
