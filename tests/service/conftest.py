"""Fixtures for the HTTP tests: one gate per test module, its clock pinned to a second.

The decision path takes its clock by injection (``Gate(clock=...)``); pinning it
makes the evidence boundaries (exactly the maximum age, one second more, 60 s in
the future) exact. The instant is the wall clock when the module starts,
truncated to the second, so minted tokens are still valid for ``/v1/verify``.

The runtime (engine, store, key) is shared by the tests of a module to keep the
suite fast: tests compare store counts before and after, and tests that break
the store or need exact metrics build their own app.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.decision.decide import Gate
from release_gate.decision.manifest import Limits
from release_gate.keys.signing import write_private_key
from release_gate.runtime import Runtime, build_runtime
from tests.databases import migrate
from tests.helpers import DEFAULT_SIGNERS, ManifestFactory, Signer
from tests.service._support import Build


@pytest.fixture(scope="module")
def now() -> dt.datetime:
    return dt.datetime.fromtimestamp(int(time.time()), dt.UTC)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate")


@pytest.fixture(scope="module")
def signing_key_file(module_dir: Path) -> Path:
    path = module_dir / "keys" / "gate.pem"
    write_private_key(path, Ed25519PrivateKey.generate(), force=False)
    return path


@pytest.fixture(scope="module")
def settings(module_dir: Path, signing_key_file: Path, gate_policies: Path) -> Settings:
    url = f"sqlite:///{module_dir / 'decisions.db'}"
    migrate(url)
    return Settings(
        policies=gate_policies,
        state_dir=module_dir / "state",
        signing_key_file=signing_key_file,
        database_url=url,
    )


@pytest.fixture
def fresh_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The module's settings with a (migrated) database of this test's own."""
    url = f"sqlite:///{tmp_path / 'own.db'}"
    migrate(url)
    return settings.model_copy(update={"database_url": url})


def pin_clock(runtime: Runtime, now: dt.datetime) -> None:
    """Rebuild the runtime's gate with a fixed clock (a dependency override)."""
    if (
        runtime.gate is None
        or runtime.governance is None
        or runtime.engine is None
        or runtime.rules is None
    ):
        return
    settings = runtime.settings
    instant = int(now.timestamp()) * 1_000_000_000
    runtime.gate = Gate(
        governance=runtime.governance,
        engine=runtime.engine,
        rules=runtime.rules,
        store=runtime.store,
        minter=runtime.minter,
        limits=Limits(
            max_signatures=settings.max_signatures,
            max_objections=settings.max_objections,
            max_evidence=settings.max_evidence,
        ),
        max_depth=settings.max_nesting_depth,
        clock=lambda: instant,
    )


@pytest.fixture(scope="module")
def runtime(settings: Settings, now: dt.datetime) -> Iterator[Runtime]:
    built = build_runtime(settings)
    pin_clock(built, now)
    yield built
    built.close()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def build(make_manifest: ManifestFactory, now: dt.datetime) -> Build:
    """``build(mutate, signers=...)``: a signed manifest, timed against the pinned clock."""

    def factory(
        mutate: Callable[[dict[str, Any]], None] | None = None,
        *,
        signers: tuple[Signer, ...] = DEFAULT_SIGNERS,
    ) -> dict[str, Any]:
        return make_manifest(mutate, signers=signers, now=now)

    return factory
