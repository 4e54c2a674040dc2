"""Fixtures for the HTTP tests: a gate whose clock is pinned to a whole second.

The decision path takes its clock by injection (``Gate(clock=...)``); pinning it
makes the evidence boundaries (exactly the maximum age, one second more, 60 s in
the future) exact. The instant is the wall clock at fixture time, truncated to
the second, so minted tokens are still valid for ``/v1/verify``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from release_gate.config import Settings
from release_gate.gate import Gate
from release_gate.manifest import Limits
from release_gate.runtime import Runtime, build_runtime
from tests.helpers import DEFAULT_SIGNERS, ManifestFactory, Signer
from tests.service._support import Build


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.fromtimestamp(int(time.time()), dt.UTC)


def pin_clock(runtime: Runtime, now: dt.datetime) -> None:
    """Rebuild the runtime's gate with a fixed clock (a dependency override)."""
    if runtime.gate is None or runtime.governance is None or runtime.engine is None:
        return
    settings = runtime.settings
    instant = int(now.timestamp()) * 1_000_000_000
    runtime.gate = Gate(
        governance=runtime.governance,
        engine=runtime.engine,
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


@pytest.fixture
def runtime(settings: Settings, now: dt.datetime) -> Iterator[Runtime]:
    built = build_runtime(settings)
    pin_clock(built, now)
    yield built
    built.close()


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
