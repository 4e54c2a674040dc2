"""Facts are re-checked under the chain lock: a hold or approval that lands between
evaluation and append is honoured (re-evaluation), never minted past."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from release_gate.decision.decide import Gate
from release_gate.decision.manifest import Limits
from release_gate.policy.engine import PolicyEngine, PolicyResult
from release_gate.runtime import Runtime
from release_gate.store import Store, StoreUnavailable
from tests.helpers import ManifestFactory
from tests.store._flow import revision


class _Interleaving:
    """Wraps the real engine; runs ``meanwhile`` after each of the first ``times`` evaluations."""

    def __init__(self, engine: PolicyEngine, meanwhile: Callable[[], object], times: int) -> None:
        self.name = engine.name
        self._engine, self._meanwhile, self._left = engine, meanwhile, times
        self.calls = 0

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        result = self._engine.evaluate(policy_input_json)
        self.calls += 1
        if self._left > 0:
            self._left -= 1
            self._meanwhile()
        return result

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)


def _gate(runtime: Runtime, engine: object) -> Gate:
    assert runtime.store is not None
    assert runtime.governance is not None
    assert runtime.rules is not None
    return Gate(
        governance=runtime.governance,
        engine=engine,  # type: ignore[arg-type]
        rules=runtime.rules,
        store=runtime.store.decisions,
        minter=runtime.minter,
        limits=Limits(max_signatures=32, max_objections=1000, max_evidence=1000),
        max_depth=32,
    )


def _hold(store: Store) -> Callable[[], object]:
    return lambda: store.holds.place(
        packet_id="PKT-TEST-1",
        revision=3,
        lane=None,
        reason="late",
        actor="t",
        now_ns=time.time_ns(),
    )


class TestFactsRecheck:
    def test_hold_landing_after_evaluation_is_honoured(
        self, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        assert store_runtime.store is not None
        assert store_runtime.engine is not None
        engine = _Interleaving(store_runtime.engine, _hold(store_runtime.store), times=1)
        body = json.dumps(revision(make_manifest, 3, supersedes=2)).encode()
        decision = _gate(store_runtime, engine).evaluate(body)
        assert engine.calls == 2
        assert decision.allow is False
        assert decision.token is None
        assert decision.codes == ["packet.on_hold"]
        record = store_runtime.store.decisions.get(decision.decision_id)
        assert record is not None
        assert record.decision.basis.facts.holds[0].reason == "late"

    def test_facts_that_never_settle_fail_closed(
        self, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        store = store_runtime.store
        assert store is not None
        assert store_runtime.engine is not None

        def hold_another_revision() -> None:
            store.holds.place(
                packet_id="PKT-TEST-1", revision=99, lane=None, reason="x", actor="t", now_ns=1
            )

        engine = _Interleaving(store_runtime.engine, hold_another_revision, times=100)
        body = json.dumps(revision(make_manifest, 3, supersedes=2)).encode()
        with pytest.raises(StoreUnavailable, match="kept changing"):
            _gate(store_runtime, engine).evaluate(body)
        assert store.decisions.head().seq == 5
        assert store.verify_chain().ok
