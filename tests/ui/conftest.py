"""Fixtures for the packet pages: our own trust store and API keys, the real app and store.

- ``trust``: a policies copy with governance data and signer keys of the tests' own;
- ``api_keys``: a key file with one key per role (plain keys kept by the test);
- ``ui_settings``: a gate with authentication on, on SQLite (``any_ui_settings``: on
  SQLite, then PostgreSQL when ``RELEASE_GATE_TEST_DATABASE_URL`` is set);
- ``gate``/``any_gate``: the real app behind ``TestClient`` with those settings;
- ``seeded``/``any_seeded``: the same, after :func:`tests.ui._scenario.seed_story`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.runtime import build_runtime
from tests.databases import database_url, migrate
from tests.ui._scenario import ApiKeys, Story, Trust, seed_story, write_api_keys, write_trust


@pytest.fixture
def trust(tmp_path: Path) -> Trust:
    return write_trust(tmp_path / "policies")


@pytest.fixture
def api_keys(tmp_path: Path) -> ApiKeys:
    return write_api_keys(tmp_path / "api-keys.json")


def make_settings(
    tmp_path: Path, trust: Trust, db_url: str, key_file: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "policies": trust.policies,
        "state_dir": tmp_path / "state",
        "signing_key_file": key_file,
        "database_url": db_url,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def ui_settings(
    tmp_path: Path, trust: Trust, db_url: str, signing_key_file: Path, api_keys: ApiKeys
) -> Settings:
    return make_settings(tmp_path, trust, db_url, signing_key_file, api_keys=api_keys.path)


@pytest.fixture
def any_ui_settings(
    tmp_path: Path, trust: Trust, any_db_url: str, signing_key_file: Path, api_keys: ApiKeys
) -> Settings:
    return make_settings(tmp_path, trust, any_db_url, signing_key_file, api_keys=api_keys.path)


@contextmanager
def running(settings: Settings, **kwargs: Any) -> Iterator[TestClient]:
    """The real app with ``settings``, behind a ``TestClient`` (lifespan run)."""
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime), **kwargs) as client:
            yield client
    finally:
        runtime.close()


@pytest.fixture
def gate(ui_settings: Settings) -> Iterator[TestClient]:
    with running(ui_settings) as client:
        yield client


@pytest.fixture
def any_gate(any_ui_settings: Settings) -> Iterator[TestClient]:
    with running(any_ui_settings) as client:
        yield client


@pytest.fixture
def production_settings(
    tmp_path: Path, trust: Trust, signing_key_file: Path, api_keys: ApiKeys
) -> Iterator[Settings]:
    """Production mode on a migrated PostgreSQL schema (skipped without PostgreSQL)."""
    with database_url("postgresql", tmp_path) as url:
        migrate(url)
        yield make_settings(
            tmp_path, trust, url, signing_key_file, api_keys=api_keys.path, env="production"
        )


def seed(client: TestClient, trust: Trust, api_keys: ApiKeys) -> Story:
    def call(role: str) -> Any:
        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post(
                path,
                content=json.dumps(body).encode(),
                headers={"content-type": "application/json", **api_keys.bearer(role)},
            )
            assert response.status_code in (200, 201), response.text
            result: dict[str, Any] = response.json()
            return result

        return post

    return seed_story(trust, call)


@pytest.fixture
def seeded(gate: TestClient, trust: Trust, api_keys: ApiKeys) -> Story:
    return seed(gate, trust, api_keys)


@pytest.fixture
def any_seeded(any_gate: TestClient, trust: Trust, api_keys: ApiKeys) -> Story:
    return seed(any_gate, trust, api_keys)
