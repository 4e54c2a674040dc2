"""Group commit: the entries waiting at one moment are one transaction, and behave in it
exactly as they would one after the other; a batch that fails records none of them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from release_gate.decision.log import FactsChanged
from release_gate.decision.model import Decision, Facts, History, PacketRef
from release_gate.runtime import Runtime
from release_gate.store import Store
from release_gate.store.appender import Batch
from release_gate.store.state import Needs
from tests.helpers import LANE, ManifestFactory
from tests.store._flow import evaluate, revision, verify

DEADLINE = 20.0


class _Plug:
    """An entry that holds the writer inside its transaction until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def needs(self) -> Needs:
        return Needs()

    def apply(self, batch: Batch) -> None:
        self.entered.set()
        assert self.release.wait(DEADLINE), "the test never released the plug"


class _Poison:
    """An entry that breaks its batch (not a refusal: a failure)."""

    def needs(self) -> Needs:
        return Needs()

    def apply(self, batch: Batch) -> None:
        raise RuntimeError("poison")


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@contextmanager
def _plugged(store: Store, waiting: int) -> Iterator[Callable[[object], None]]:
    """While the writer is held in a batch of its own, the caller queues ``waiting``
    entries (through ``queue``); on exit they are released into one next batch."""
    plug = _Plug()
    threads: list[threading.Thread] = []

    def queue(target: object) -> None:
        thread = threading.Thread(target=target)  # type: ignore[arg-type]
        thread.start()
        threads.append(thread)

    holder = threading.Thread(target=store.appender.append, args=(plug,))
    holder.start()
    assert plug.entered.wait(DEADLINE)
    try:
        yield queue
        _wait(lambda: store.appender.queued() >= waiting, f"{waiting} queued entries")
    finally:
        plug.release.set()
        holder.join(DEADLINE)
        for thread in threads:
            thread.join(DEADLINE)


def _decide(gate: TestClient, manifest: dict[str, Any], into: list[Any]) -> Callable[[], None]:
    def run() -> None:
        into.append(
            gate.post(
                "/v1/evaluate",
                content=json.dumps(manifest).encode(),
                headers={"content-type": "application/json"},
            )
        )

    return run


class TestOneTransaction:
    def test_two_approvals_in_one_batch_supersede_as_in_sequence(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        """The second approval's facts are checked against the first's effect, and the
        first's token, minted in the same transaction, is revoked by the second."""
        store = store_runtime.store
        assert store is not None
        approved = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        record = store.decisions.get(approved["decision_id"])
        assert record is not None
        first = _copy(record.decision, revision=4, decision_id=_uuid("a"))
        second = _copy(record.decision, revision=5, decision_id=_uuid("b"))
        results: dict[str, Any] = {}
        batches = store.appender.batches
        with _plugged(store, waiting=2) as queue:
            queue(_append(store, results, "first", first, _history(3, approved)))
            _wait(lambda: store.appender.queued() >= 1, "the first append")
            queue(_append(store, results, "second", second, _history(4, approved)))
        assert results == {"first": None, "second": None}
        assert store.appender.batches == batches + 2, "the plug's batch, then one for both"
        revoked = {r["jti"]: r for r in store.revocations.live(now_s=int(time.time()))}
        assert revoked[approved["decision_id"]]["reason"] == "superseded"
        assert revoked[first.decision_id]["reason"] == "superseded"
        assert not store.revocations.is_revoked(second.decision_id)
        assert store.verify_chain().ok

    def test_facts_moved_by_an_earlier_entry_of_the_batch_are_a_refusal_for_that_one(
        self, store_runtime: Runtime, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        store = store_runtime.store
        assert store is not None
        approved = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        record = store.decisions.get(approved["decision_id"])
        assert record is not None
        first = _copy(record.decision, revision=4, decision_id=_uuid("a"))
        second = _copy(record.decision, revision=5, decision_id=_uuid("b"))
        results: dict[str, Any] = {}
        with _plugged(store, waiting=2) as queue:
            queue(_append(store, results, "first", first, _history(3, approved)))
            _wait(lambda: store.appender.queued() >= 1, "the first append")
            queue(_append(store, results, "second", second, _history(3, approved)))
        assert results["first"] is None
        refused = results["second"]
        assert isinstance(refused, FactsChanged)
        assert refused.current.history.latest_approved_revision == 4
        assert store.decisions.get(second.decision_id) is None, "a refused entry is not recorded"
        assert store.verify_chain().ok

    def test_concurrent_approvals_over_http_end_as_in_sequence(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        """Revisions 4 and 5 both claim to supersede 3 and are both allowed on the facts
        read before either is recorded; in their batch 4 moves the facts first, so 5 is
        evaluated again and denied, exactly as if it had come after 4."""
        store = store_runtime.store
        assert store is not None
        third = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        answers: list[Any] = []
        with _plugged(store, waiting=2) as queue:
            queue(_decide(gate, revision(make_manifest, 4, supersedes=3), answers))
            _wait(lambda: store.appender.queued() >= 1, "the first approval")
            queue(_decide(gate, revision(make_manifest, 5, supersedes=3), answers))
        fourth, fifth = sorted((a.json() for a in answers), key=lambda d: d["packet"]["revision"])
        assert fourth["allow"] is True
        assert fifth["allow"] is False
        assert [v["code"] for v in fifth["violations"]] == ["packet.superseded"]
        assert fifth["token"] is None
        assert verify(gate, third)["reason"] == "token.revoked"
        assert verify(gate, fourth)["valid"] is True
        assert store.verify_chain().ok


class TestFailedBatch:
    def test_a_failed_batch_fails_every_decision_in_it_with_503_and_no_record(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        store = store_runtime.store
        assert store is not None
        before = store.count()
        answers: list[Any] = []
        poisoned: list[BaseException] = []

        def poison() -> None:
            try:
                store.appender.append(_Poison())
            except Exception as exc:
                poisoned.append(exc)

        with _plugged(store, waiting=3) as queue:
            queue(_decide(gate, revision(make_manifest, 3, supersedes=2), answers))
            queue(_decide(gate, revision(make_manifest, 4, supersedes=3), answers))
            _wait(lambda: store.appender.queued() >= 2, "both evaluations")
            queue(poison)
        assert sorted(a.status_code for a in answers) == [503, 503]
        for answer in answers:
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert "token" not in answer.json()
        assert [type(p).__name__ for p in poisoned] == ["StoreUnavailable"]
        assert store.count() == before
        assert store.verify_chain().ok
        assert evaluate(gate, revision(make_manifest, 3, supersedes=2))["allow"] is True


class TestFactsByKey:
    def test_a_decision_reads_no_history_however_long(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        """The facts come from the state tables by key: with 30 earlier decisions of the
        packet, the next one selects nothing from the log itself."""
        store = store_runtime.store
        assert store is not None
        manifest = revision(make_manifest, 3, supersedes=2)
        for _ in range(30):
            evaluate(gate, manifest)
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(store.db.engine, "before_cursor_execute", record)
        try:
            assert evaluate(gate, manifest)["allow"] is True
        finally:
            event.remove(store.db.engine, "before_cursor_execute", record)
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert reads, "the facts were read"
        assert not [s for s in reads if " decisions" in s or " hold_events" in s], reads


class TestStateIsAudited:
    @pytest.mark.parametrize(
        ("table", "tamper"),
        [
            ("active_holds", "DELETE FROM active_holds"),
            ("packet_state", "UPDATE packet_state SET latest_approved_revision = 1"),
            ("live_tokens", "DELETE FROM live_tokens"),
        ],
    )
    def test_audit_verify_names_state_that_disagrees_with_the_log(
        self,
        gate: TestClient,
        store_runtime: Runtime,
        make_manifest: ManifestFactory,
        table: str,
        tamper: str,
    ) -> None:
        store = store_runtime.store
        assert store is not None
        evaluate(gate, revision(make_manifest, 3, supersedes=2))
        store.holds.place(
            packet_id="PKT-TEST-1",
            revision=3,
            lane=LANE,
            reason="r",
            actor="t",
            now_ns=time.time_ns(),
        )
        evaluate(gate, revision(make_manifest, 4, supersedes=3))
        assert store.verify_chain().ok
        with store.db.engine.begin() as conn:
            conn.execute(text(tamper))
        report = store.verify_chain()
        assert report.ok is False
        assert [p.table for p in report.state] == [table]
        assert report.to_dict()["state"]["ok"] is False


def _copy(decision: Decision, *, revision: int, decision_id: str) -> Decision:
    packet = PacketRef(id=decision.packet.id, revision=revision, digest=decision.packet.digest)
    return replace(decision, decision_id=decision_id, packet=packet)


def _uuid(letter: str) -> str:
    return str(uuid.UUID(letter * 32))


def _history(latest: int, approved: dict[str, Any]) -> Facts:
    """Facts whose latest approval is ``latest`` (all copies share rev 3's digest)."""
    return Facts(history=History(latest, approved["packet"]["digest"]))


def _append(
    store: Store, results: dict[str, Any], name: str, decision: Decision, expected: Facts
) -> Callable[[], None]:
    def run() -> None:
        try:
            store.decisions.append(decision, expected_facts=expected)
            results[name] = None
        except FactsChanged as changed:
            results[name] = changed

    return run


class TestAppendMetrics:
    def test_metrics_show_transactions_and_entries(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        """Entries per transaction is the group commit's batch size, for operators."""
        for number in (3, 4, 5):
            evaluate(gate, revision(make_manifest, number, supersedes=number - 1))
        text = gate.get("/metrics").text
        values = {
            line.split()[0]: float(line.split()[1])
            for line in text.splitlines()
            if line.startswith(
                ("release_gate_store_batches_total", "release_gate_store_entries_total")
            )
        }
        assert values["release_gate_store_entries_total"] == 3
        assert 1 <= values["release_gate_store_batches_total"] <= 3
