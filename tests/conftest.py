"""Shared fixtures: real keys, real policies, real database, real HTTP (ASGI).

- ``gate_policies``: the session's test-owned bundle, the repository's rules with the
  governance data of :mod:`tests.governance` (``rego_policies``: the same with the
  Rego unit tests; ``example_policies``: the rules with the examples' demo data); a
  test that changes a bundle writes its own (``tests.governance.write_bundle``);
- ``settings``: a gate configured in ``tmp_path`` (a migrated SQLite file, a fresh
  signing key) with ``gate_policies``; ``db_url`` is its store;
  ``any_db_url`` a migrated store on each backend (SQLite, then PostgreSQL);
- ``runtime`` / ``client``: the real app behind ``TestClient`` (runs the lifespan);
- ``make_manifest``: builds a manifest that the tests' lane approves *now*, signed
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
from tests.governance import demo_governance, write_bundle
from tests.helpers import DEFAULT_SIGNERS, ManifestFactory, Signer, base_manifest, sign
from tests.opa_server import SKIP_REASON, OpaBinaryError, find_opa


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest test first: the governance owner's run of a copy's suite.

    Under pytest-xdist (``make test``) it then runs beside the rest of the suite
    on the other worker, rather than alone at the end.
    """
    items.sort(key=lambda item: item.path.name != "test_governance_owner.py")


@pytest.fixture(scope="session")
def gate_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's rules with the tests' own governance data (never changed in place)."""
    return write_bundle(tmp_path_factory.mktemp("bundle") / "policies")


@pytest.fixture(scope="session")
def rego_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``gate_policies`` with the repository's Rego unit tests (``policies/tests``)."""
    return write_bundle(tmp_path_factory.mktemp("bundle") / "policies", rego_tests=True)


@pytest.fixture(scope="session")
def example_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's rules with the demo data the examples are signed for."""
    return write_bundle(tmp_path_factory.mktemp("bundle") / "policies", demo_governance())


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
def settings(tmp_path: Path, signing_key_file: Path, db_url: str, gate_policies: Path) -> Settings:
    return Settings(
        policies=gate_policies,
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
