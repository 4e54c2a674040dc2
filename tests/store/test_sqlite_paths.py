"""SQLite database URLs: the gate makes a plain file's directory, and nothing for a URI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from release_gate.store.db import make_engine


def test_plain_path_gets_its_directory(tmp_path: Path) -> None:
    database = tmp_path / "state" / "nested" / "decisions.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        assert database.parent.is_dir()
    finally:
        engine.dispose()


def test_uri_form_creates_nothing_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``file:/abs/path`` once became a directory named ``file:`` under the working directory."""
    database = tmp_path / "uri.db"
    sqlite3.connect(database).close()
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    engine = make_engine(f"sqlite:///file:{database}?mode=rw&uri=true")
    try:
        with engine.connect() as connection:  # the URI reaches the database it names
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert list(work.iterdir()) == []
    finally:
        engine.dispose()


def test_memory_database_needs_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    make_engine("sqlite:///:memory:").dispose()
    assert list(tmp_path.iterdir()) == []
