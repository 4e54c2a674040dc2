"""Shared fixtures: real keys, real policies, real database, real HTTP (ASGI).

- ``settings``: a gate configured in ``tmp_path`` (a migrated SQLite file, a fresh
  signing key) with the repository's policies; ``db_url`` is its store;
  ``any_db_url`` a migrated store on each backend (SQLite, then PostgreSQL);
- ``runtime`` / ``client``: the real app behind ``TestClient`` (runs the lifespan);
- ``make_manifest``: builds a manifest that the example lane approves *now*, signed
  with the labelled demo keys; pass ``mutate`` to change it before signing and
  ``signers`` to choose who signs. Builders live in :mod:`tests.helpers`.
- ``opa_binary``: a real ``opa`` (``RELEASE_GATE_TEST_OPA_BIN``, else on ``PATH``);
  tests that take it skip without one. Servers: :mod:`tests.opa_server`.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.keys.signing import write_private_key
from release_gate.runtime import Runtime, build_runtime
from tests.databases import BACKENDS, database_url, migrate
from tests.helpers import DEFAULT_SIGNERS, POLICIES, ManifestFactory, Signer, base_manifest, sign
from tests.opa_server import SKIP_REASON, OpaBinaryError, find_opa


@pytest.fixture
def make_manifest() -> ManifestFactory:
    def factory(
        mutate: Callable[[dict[str, Any]], None] | None = None,
        *,
        signers: tuple[Signer, ...] = DEFAULT_SIGNERS,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        document = copy.deepcopy(base_manifest(now))
        if mutate is not None:
            mutate(document)
        return sign(document, *signers)

    return factory


@pytest.fixture
def signing_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "gate.pem"
    write_private_key(path, Ed25519PrivateKey.generate(), force=False)
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A migrated SQLite store."""
    with database_url("sqlite", tmp_path) as url:
        migrate(url)
        yield url


@pytest.fixture(params=BACKENDS)
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated store on SQLite, then on PostgreSQL (skipped when not configured)."""
    with database_url(request.param, tmp_path) as url:
        migrate(url)
        yield url


@pytest.fixture
def settings(tmp_path: Path, signing_key_file: Path, db_url: str) -> Settings:
    return Settings(
        policies=POLICIES,
        state_dir=tmp_path / "state",
        signing_key_file=signing_key_file,
        database_url=db_url,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = build_runtime(settings)
    yield built
    built.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def opa_binary() -> Path:
    """The real ``opa`` to run servers with; skips the test when there is none."""
    try:
        binary = find_opa()
    except OpaBinaryError as exc:
        pytest.fail(str(exc), pytrace=False)
    if binary is None:
        pytest.skip(SKIP_REASON)
    return binary
