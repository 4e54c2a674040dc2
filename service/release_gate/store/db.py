"""Database engines and the one serialized write transaction.

Every append to the audit log (decisions and hold events) runs in
:meth:`Database.serialized`, which holds the database-wide write lock for the
chain: on PostgreSQL a ``SELECT ... FOR UPDATE`` on the single ``chain_head``
row (taken by the caller, see :mod:`release_gate.store.chain`), on SQLite
``BEGIN IMMEDIATE`` (the database's one writer lock). So any number of gate
replicas on one database append to a single linear chain.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk before
the caller is answered. SQLite's own busy handler sleeps with backoff (up to
100 ms a try), which under concurrent writers gave second-long tails; so
writers first queue on a Python lock (threads of one process) and on an
exclusive ``flock`` of ``<database>.lock`` (worker processes and replicas on
one machine), both of which hand over at once, and only then ``BEGIN
IMMEDIATE``. The pysqlite driver's own transaction handling is switched off
(``isolation_level=None``) so that the ``BEGIN`` we emit is the one that counts
(the SQLAlchemy documented recipe).

:meth:`Database.snapshot` is a read transaction that sees one instant of the
database however many writers commit meanwhile (``REPEATABLE READ`` on
PostgreSQL; any SQLite read transaction in WAL mode): ``audit verify`` reads the
head and every entry in one.

A SQLite file holds every manifest as received, so it is private whatever the
umask: missing directories are made 0700, the database file is created 0600
before SQLite opens it (SQLite gives its ``-wal`` and ``-shm`` files the
database's mode), and an existing database, ``-wal`` or ``-shm`` file open to
its group or others is made 0600, with a warning (:mod:`release_gate.ops.files`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import StoreUnavailable
from release_gate.ops.files import make_private_dirs, private_file, tighten_file

__all__ = ["Database", "StoreUnavailable", "make_engine"]

logger = logging.getLogger(__name__)

_IMMEDIATE = "release_gate_immediate"

#: Connections kept per process: the HTTP thread pool's requests read facts at once.
_POOL_SIZE = 32


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_file(parsed: URL) -> Path | None:
    """The file of a plain SQLite path; ``None`` for memory and URI forms.

    A URI (``sqlite:///file:/path?mode=ro&uri=true``) is the operator's exact
    instruction (read-only, shared cache...): nothing is created for it, and
    ``file:/path`` is not a relative directory to make.
    """
    database = parsed.database
    if not database or database == ":memory:":
        return None
    if database.startswith("file:") or str(parsed.query.get("uri", "")).lower() == "true":
        return None
    return Path(database)


def _private_sqlite(path: Path) -> None:
    """Directory 0700 if made here; the database, ``-wal`` and ``-shm`` files 0600."""
    make_private_dirs(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm"):
        tighten_file(path.with_name(path.name + suffix))


class _FileLock:
    """An exclusive ``flock`` held by one writer at a time, across processes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get a private directory and file, WAL and
    ``FULL`` sync."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = _sqlite_file(parsed)
        if database is not None:
            _private_sqlite(database)
        # A pool as large as the concurrency: an overflow connection is opened (and its
        # PRAGMAs run) for one request and closed after it.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=_POOL_SIZE,
            max_overflow=_POOL_SIZE,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=_POOL_SIZE, max_overflow=_POOL_SIZE)


class Database:
    """One engine, short transactions; thread-safe (a connection per call)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.backend = self.engine.dialect.name
        self._writers: AbstractContextManager[object] = (
            threading.Lock() if self.backend == "sqlite" else nullcontext()
        )
        file = _sqlite_file(make_url(url)) if self.backend == "sqlite" else None
        self._file_lock = _FileLock(file.with_name(file.name + ".lock")) if file else None

    @contextmanager
    def serialized(self) -> Iterator[Connection]:
        """A write transaction that holds the chain's lock until commit."""
        with self._writers, self._file_lock or nullcontext(), self.engine.connect() as conn:
            if self.backend == "sqlite":
                conn = conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees the database as of one instant."""
        with self.engine.connect() as conn:
            if self.backend == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"decision store unreachable: {type(exc).__name__}") from exc

    def close(self) -> None:
        self.engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()
