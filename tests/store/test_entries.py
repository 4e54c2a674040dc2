"""The store's other chained entries: evidence events, intake outcomes, policy events.

What each records and revokes, that a repeat records nothing, and that the
chain and its state still verify (on SQLite and PostgreSQL).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from release_gate.runtime import Runtime
from release_gate.store import Store
from release_gate.store.evidence import EvidenceEvent
from release_gate.store.outcomes import IntakeOutcome, OutcomeConflict, TokenNotFound
from release_gate.store.policy_events import PolicyChange
from release_gate.store.schema import EvidenceEventRow, PolicyEventRow
from tests.helpers import ManifestFactory, sha256
from tests.store._flow import evaluate, revision, verify

NEW = sha256("timeline, after the correction")


def _store(runtime: Runtime) -> Store:
    assert runtime.store is not None
    return runtime.store


def _timeline(manifest: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = next(
        e for e in manifest["evidence"] if e["source"] == "incident_timeline"
    )
    return item


def _event(item: dict[str, Any], digest: str, *, ago_s: int, material: bool) -> EvidenceEvent:
    observed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - ago_s))
    return EvidenceEvent(item["source"], item["ref"], digest, observed, material, None)


def _count(store: Store, table: Any) -> int:
    with store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


class TestEvidenceEvents:
    def test_a_newer_material_snapshot_revokes_approvals_citing_another(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        store = _store(store_runtime)
        manifest = revision(make_manifest, 3, supersedes=2)
        approved = evaluate(gate, manifest)
        item = _timeline(manifest)
        recorded = store.evidence.record(
            _event(item, NEW, ago_s=1, material=True), actor="timeline", now_ns=time.time_ns()
        )
        assert recorded.created
        assert recorded.newest
        assert recorded.revoked_tokens == [approved["decision_id"]]
        assert verify(gate, approved)["reason"] == "token.revoked"
        revoked = {r["jti"]: r for r in store.revocations.live(now_s=int(time.time()))}
        assert revoked[approved["decision_id"]]["reason"] == "evidence.changed"
        facts = store.facts(
            packet_id="PKT-TEST-1", lane=approved["lane"], evidence=((item["source"], item["ref"]),)
        )
        assert [s.digest for s in facts.snapshots] == [NEW]
        assert store.verify_chain().ok

    def test_a_repeat_records_nothing_and_gives_the_first_answer(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        store = _store(store_runtime)
        manifest = revision(make_manifest, 3, supersedes=2)
        evaluate(gate, manifest)
        event = _event(_timeline(manifest), NEW, ago_s=1, material=True)
        first = store.evidence.record(event, actor="timeline", now_ns=time.time_ns())
        again = store.evidence.record(event, actor="timeline", now_ns=time.time_ns())
        assert again.created is False
        assert (again.event_id, again.revoked_tokens) == (first.event_id, first.revoked_tokens)
        assert _count(store, EvidenceEventRow) == 1

    @pytest.mark.parametrize("material", [True, False])
    def test_an_older_or_immaterial_snapshot_only_records(
        self,
        gate: TestClient,
        store_runtime: Runtime,
        make_manifest: ManifestFactory,
        material: bool,
    ) -> None:
        store = _store(store_runtime)
        manifest = revision(make_manifest, 3, supersedes=2)
        approved = evaluate(gate, manifest)
        item = _timeline(manifest)
        store.evidence.record(
            _event(item, item["digest"], ago_s=10, material=True), actor="t", now_ns=time.time_ns()
        )
        ago = 60 if material else 1  # older than the newest material one, or not material
        late = store.evidence.record(
            _event(item, NEW, ago_s=ago, material=material), actor="t", now_ns=time.time_ns()
        )
        assert late.created
        assert late.newest is False
        assert late.revoked_tokens == []
        assert verify(gate, approved)["valid"] is True
        assert store.verify_chain().ok


class TestIntakeOutcomes:
    def test_one_outcome_per_token(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        store = _store(store_runtime)
        approved = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        now = time.time_ns()
        with pytest.raises(TokenNotFound, match="no recorded approval"):
            store.outcomes.record(
                IntakeOutcome("0" * 36, "accepted", (), None), actor="lane", now_ns=now
            )
        returned = IntakeOutcome(approved["decision_id"], "returned", ("stale_evidence",), None)
        first = store.outcomes.record(returned, actor="lane", now_ns=now)
        assert first.created
        assert first.lane == approved["lane"]
        again = store.outcomes.record(returned, actor="lane", now_ns=now)
        assert (again.outcome_id, again.created) == (first.outcome_id, False)
        accepted = IntakeOutcome(approved["decision_id"], "accepted", (), None)
        with pytest.raises(OutcomeConflict, match="already has the outcome returned"):
            store.outcomes.record(accepted, actor="lane", now_ns=now)
        assert store.verify_chain().ok


class TestPolicyEvents:
    def test_replicas_revoke_each_token_once(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        store = _store(store_runtime)
        approved = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        change = PolicyChange(
            "r2", "sha256:" + "2" * 64, None, "regorus", frozenset({approved["decision_id"]})
        )
        now = time.time_ns()
        assert store.policy_events.record(change, actor="replica-a", now_ns=now) == [
            approved["decision_id"]
        ]
        assert store.policy_events.record(change, actor="replica-b", now_ns=now) == []
        assert _count(store, PolicyEventRow) == 1
        revoked = {r["jti"]: r for r in store.revocations.live(now_s=int(time.time()))}
        assert revoked[approved["decision_id"]]["reason"] == "policy.changed"
        assert list(store.policy_events.live_approvals(now_s=int(time.time()))) == []
        assert store.verify_chain().ok
