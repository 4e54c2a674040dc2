"""Store fixtures: the whole app on each backend (SQLite, then PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.runtime import Runtime, build_runtime


@pytest.fixture
def store_settings(
    tmp_path: Path, signing_key_file: Path, any_db_url: str, gate_policies: Path
) -> Settings:
    return Settings(
        policies=gate_policies,
        state_dir=tmp_path / "state",
        signing_key_file=signing_key_file,
        database_url=any_db_url,
    )


@pytest.fixture
def store_runtime(store_settings: Settings) -> Iterator[Runtime]:
    built = build_runtime(store_settings)
    yield built
    built.close()


@pytest.fixture
def gate(store_runtime: Runtime) -> Iterator[TestClient]:
    """The real app on the parametrized backend, auth off (development mode)."""
    with TestClient(create_app(store_runtime.settings, runtime=store_runtime)) as client:
        yield client
