"""Fixtures for issue 10: the real app with our own trust store and one API key per role.

- ``trust``: a copy of the policies with governance data and signer keys of the tests' own;
- ``keys``: an API key file with a key per role (``evidence_source`` and ``intake`` too);
- ``world``: the app on SQLite; ``any_world``: on SQLite, then PostgreSQL (skipped when
  ``RELEASE_GATE_TEST_DATABASE_URL`` is unset). Both with authentication on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.runtime import build_runtime
from tests.feedback._world import Trust, World, keys_file, write_trust
from tests.ui._scenario import ApiKeys


@pytest.fixture
def trust(tmp_path: Path) -> Trust:
    return write_trust(tmp_path / "policies")


@pytest.fixture
def keys(tmp_path: Path) -> ApiKeys:
    return keys_file(tmp_path / "api-keys.json")


def world_settings(tmp_path: Path, trust: Trust, keys: ApiKeys, url: str, key: Path) -> Settings:
    return Settings(
        policies=trust.policies,
        state_dir=tmp_path / "state",
        signing_key_file=key,
        database_url=url,
        api_keys=keys.path,
    )


@contextmanager
def running(settings: Settings, trust: Trust, keys: ApiKeys) -> Iterator[World]:
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            yield World(client=client, runtime=runtime, trust=trust, keys=keys)
    finally:
        runtime.close()


@pytest.fixture
def world(
    tmp_path: Path, trust: Trust, keys: ApiKeys, db_url: str, signing_key_file: Path
) -> Iterator[World]:
    with running(world_settings(tmp_path, trust, keys, db_url, signing_key_file), trust, keys) as w:
        yield w


@pytest.fixture
def any_world(
    tmp_path: Path, trust: Trust, keys: ApiKeys, any_db_url: str, signing_key_file: Path
) -> Iterator[World]:
    settings = world_settings(tmp_path, trust, keys, any_db_url, signing_key_file)
    with running(settings, trust, keys) as w:
        yield w
