"""A served policy's leases: a retired policy closes its engine only after its last lease."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from release_gate.config import Settings
from release_gate.keys.signing import ephemeral_key
from release_gate.keys.tokens import TokenMinter
from release_gate.policy.engine import PolicyEngineError
from release_gate.runtime import Runtime, build_runtime
from release_gate.served import ServedPolicy, load_served
from tests.helpers import ManifestFactory
from tests.reload._support import REVISION_2, policy_dir, tighten_timeline

DEADLINE = 20.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(policies=policy_dir(tmp_path / "policies"), state_dir=tmp_path / "state")


def _served(settings: Settings) -> ServedPolicy:
    return load_served(settings, store=None, minter=TokenMinter(key=ephemeral_key(), issuer="t"))


def _retiring(policy: ServedPolicy, timeout: float) -> tuple[threading.Thread, list[bool]]:
    """``policy.retire(timeout)`` on another thread; returns once it refuses new leases."""
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(policy.retire(timeout=timeout)))
    thread.start()
    deadline = time.monotonic() + DEADLINE
    while policy.acquire():  # leases are granted until retire() has begun
        policy.release()
        assert time.monotonic() < deadline, "retire() did not begin"
        thread.join(timeout=0.01)
    return thread, result


class TestLeases:
    def test_retire_waits_for_the_last_lease_then_closes_the_engine(
        self, settings: Settings, make_manifest: ManifestFactory
    ) -> None:
        policy = _served(settings)
        body = json.dumps(make_manifest()).encode()
        now = time.time_ns()
        assert policy.acquire()
        thread, result = _retiring(policy, timeout=DEADLINE)
        assert thread.is_alive()
        assert policy.gate.evaluate(body, now_ns=now).allow  # the leased engine still decides
        policy.release()
        thread.join(timeout=DEADLINE)
        assert result == [True]
        with pytest.raises(PolicyEngineError, match="shut down"):
            policy.gate.evaluate(body, now_ns=now)

    def test_a_lease_held_past_the_deadline_fails_closed(
        self, settings: Settings, make_manifest: ManifestFactory
    ) -> None:
        policy = _served(settings)
        assert policy.acquire()
        assert policy.retire(timeout=0.01) is False
        with pytest.raises(PolicyEngineError):
            policy.gate.evaluate(json.dumps(make_manifest()).encode(), now_ns=time.time_ns())
        policy.release()


@pytest.fixture
def runtime(settings: Settings, signing_key_file: Path, db_url: str) -> Iterator[Runtime]:
    built = build_runtime(
        settings.model_copy(update={"signing_key_file": signing_key_file, "database_url": db_url})
    )
    yield built
    built.close()


class TestServing:
    def test_a_request_after_a_swap_leases_the_new_policy(
        self, runtime: Runtime, settings: Settings
    ) -> None:
        old = runtime.policy
        assert old is not None
        with runtime.serving() as leased:
            assert leased is old
            tighten_timeline(settings.policies)
            runtime.policy = _served(settings)
            thread, result = _retiring(old, timeout=DEADLINE)
            with runtime.serving() as current:
                assert current.revision == REVISION_2
            assert thread.is_alive()  # the first lease is still held
        thread.join(timeout=DEADLINE)
        assert result == [True]
