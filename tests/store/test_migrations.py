"""Schema by Alembic: the service refuses an unmigrated store; ``db upgrade`` fixes it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from release_gate.cli import main
from release_gate.config import Settings
from release_gate.runtime import Runtime, build_runtime
from release_gate.store import Database, Store
from release_gate.store.migrate import (
    SchemaNotCurrent,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from release_gate.store.schema import Base
from tests.databases import BACKENDS, database_url
from tests.helpers import ManifestFactory
from tests.store._flow import evaluate, revision, verify


class TestMigrations:
    def test_unmigrated_store_refuses_to_start_naming_the_fix(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        fresh = settings.model_copy(
            update={"database_url": f"sqlite:///{tmp_path / 'new.db'}", "auto_migrate": False}
        )
        with pytest.raises(SchemaNotCurrent, match="release-gate db upgrade"):
            build_runtime(fresh)

    def test_production_never_migrates_by_itself(self, settings: Settings) -> None:
        assert settings.model_copy(update={"env": "production"}).effective_auto_migrate is False

    def test_development_migrates_a_fresh_store_at_start(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        fresh = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
        assert fresh.auto_migrate is None
        runtime = build_runtime(fresh)
        try:
            assert runtime.gate is not None
            assert runtime.store is not None
            db = Database(fresh.effective_database_url)
            try:
                assert current_revision(db) == head_revision()
            finally:
                db.close()
        finally:
            runtime.close()

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_db_upgrade_then_current(
        self, backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with database_url(backend, tmp_path) as url:
            assert main(["db", "current", "--database-url", url]) == 1
            capsys.readouterr()
            assert main(["db", "upgrade", "--database-url", url]) == 0
            assert json.loads(capsys.readouterr().out)["to"] == head_revision()
            assert main(["db", "upgrade", "--database-url", url]) == 0
            capsys.readouterr()
            assert main(["db", "current", "--database-url", url]) == 0
            assert json.loads(capsys.readouterr().out)["up_to_date"] is True

    def test_models_match_the_migrations(self, any_db_url: str) -> None:
        db = Database(any_db_url)
        try:
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        finally:
            db.close()
        assert diff == []

    def test_auto_migrate_setting_migrates_at_start_up(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        fresh = settings.model_copy(
            update={"database_url": f"sqlite:///{tmp_path / 'auto.db'}", "auto_migrate": True}
        )
        runtime = build_runtime(fresh)
        try:
            assert runtime.store is not None
            runtime.store.ping()
        finally:
            runtime.close()


class TestStateReplay:
    def test_an_existing_log_is_replayed_into_the_state(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        """Migration 0002 fills the state from a log written before it: dropping the state
        (down to 0001) and migrating again gives exactly the state the appends kept."""
        store = store_runtime.store
        assert store is not None
        approved = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        evaluate(gate, revision(make_manifest, 2, supersedes=1))  # a denial: superseded
        evaluate(gate, revision(make_manifest, 4, supersedes=3))
        store.holds.place(
            packet_id="PKT-TEST-1",
            revision=4,
            lane=None,
            reason="r",
            actor="t",
            now_ns=time.time_ns(),
        )
        evaluate(gate, revision(make_manifest, 1, supersedes=None, packet_id="PKT-OTHER"))
        kept = _state(store)
        assert all(kept.values()), kept
        downgrade(store.db, "0001_audit_log")
        with store.db.read() as conn:
            assert not inspect(conn).has_table("packet_state")
        upgrade(store.db)
        assert _state(store) == kept
        assert store.verify_chain().ok
        assert verify(gate, approved)["reason"] == "token.revoked"


def _state(store: Store) -> dict[str, list[tuple[object, ...]]]:
    tables = (
        "packet_state",
        "active_holds",
        "live_tokens",
        "live_token_evidence",
        "decision_codes",
        "revocations",
    )
    with store.db.read() as conn:
        return {
            table: sorted(tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}")))  # noqa: S608
            for table in tables
        }
