"""``POST /v1/evidence-events`` over HTTP, on SQLite and PostgreSQL (contract section 9).

A material change revokes the live approvals citing another snapshot of that
evidence (``/v1/verify``, the signed revocation list, the client) and from then
on a manifest citing another snapshot is denied, ``evidence.superseded``; a new
revision citing the new snapshot is approved. Repeats, older and immaterial
observations, bad input and wrong roles change nothing they should not.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from release_gate.store.schema import EvidenceEventRow, RevocationRow
from release_gate_client import RevocationList, TokenRevoked, verify_token
from tests.feedback._world import (
    LANE,
    OTHER_LANE,
    TIMELINE_REF,
    World,
    ago,
    codes,
    digest,
    event,
    manifest,
)

NEW = digest("timeline, after the correction of the outage start")


def _other_timeline_ref(document: dict[str, Any]) -> None:
    document["evidence"][0]["ref"] = "incident_timeline/INC-9999"


def _revocation_list(world: World) -> RevocationList:
    response = world.get("/v1/revocations", role="verifier")
    assert response.status_code == 200, response.text
    return RevocationList.from_jws(
        response.text.strip(), keys=world.runtime.verification_keys(), issuer="release-gate"
    )


class TestMaterialChange:
    def test_the_whole_story(self, any_world: World) -> None:
        approved = any_world.approve(manifest(any_world.trust, revision=1))
        observed = ago(minutes=2)
        response = any_world.evidence(event(NEW, observed_at=observed, note="start moved 40 min"))
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {"event_id", "revoked_tokens"}
        assert body["revoked_tokens"] == [approved["decision_id"]]
        # the token is revoked online, in the signed list, and for the client
        assert any_world.verify(approved) == {
            "valid": False,
            "reason": "token.revoked",
            "claims": None,
        }
        listed = _revocation_list(any_world)
        assert listed.reasons[approved["decision_id"]] == "evidence.changed"
        with pytest.raises(TokenRevoked, match=r"evidence\.changed"):
            verify_token(
                approved["token"],
                keys=any_world.runtime.verification_keys(),
                issuer="release-gate",
                audience=LANE,
                packet_digest=approved["packet"]["digest"],
                revocations=listed,
            )
        # the old snapshot is denied from now on, with the contract's message
        stale = any_world.evaluate(manifest(any_world.trust, revision=1))
        assert stale["allow"] is False
        assert codes(stale) == {("evidence.superseded", "/evidence/0")}
        assert stale["violations"][0]["message"] == (
            f"evidence EV-incident_timeline from incident_timeline was replaced by a "
            f"snapshot observed at {observed}"
        )
        assert stale["violations"][0]["title"] == "Evidence replaced by a newer snapshot"
        # a new revision citing the new snapshot is approved
        fresh = manifest(
            any_world.trust, revision=2, snapshots={"incident_timeline": NEW}, observed_at=observed
        )
        renewed = any_world.approve(fresh)
        assert any_world.verify(renewed)["valid"] is True
        assert any_world.store.verify_chain().ok

    def test_the_event_is_an_entry_of_the_chain(self, world: World) -> None:
        before = world.head()
        response = world.evidence(event(NEW))
        assert response.status_code == 201
        assert world.head() == before + 1
        with world.store.db.read() as conn:
            row = conn.execute(EvidenceEventRow.__table__.select()).one()
        assert (row.source, row.ref, row.digest, row.material) == (
            "incident_timeline",
            TIMELINE_REF,
            NEW,
            True,
        )
        assert row.actor == world.keys.names["evidence_source"]
        assert world.store.verify_chain().ok

    def test_every_live_approval_citing_another_snapshot_is_revoked(self, world: World) -> None:
        one = world.approve(manifest(world.trust, revision=1))
        other_packet = world.approve(manifest(world.trust, revision=4, packet_id="PKT-FB-2"))
        other_lane = world.approve(manifest(world.trust, revision=1, lane=OTHER_LANE))
        same = world.approve(
            manifest(
                world.trust, revision=1, packet_id="PKT-FB-3", snapshots={"incident_timeline": NEW}
            )
        )
        other_ref = world.approve(
            manifest(world.trust, revision=1, packet_id="PKT-FB-4", mutate=_other_timeline_ref)
        )
        body = world.evidence(event(NEW, observed_at=ago(minutes=1))).json()
        revoked = {one["decision_id"], other_packet["decision_id"], other_lane["decision_id"]}
        assert set(body["revoked_tokens"]) == revoked
        assert world.verify(same)["valid"] is True
        assert world.verify(other_ref)["valid"] is True
        assert world.count(RevocationRow) == 3

    def test_an_event_for_another_ref_revokes_nothing(self, world: World) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        response = world.evidence(event(NEW, ref="incident_timeline/INC-9999"))
        assert response.status_code == 201
        assert response.json()["revoked_tokens"] == []
        assert world.verify(approved)["valid"] is True
        assert world.evaluate(manifest(world.trust, revision=1))["allow"] is True


class TestIdempotence:
    def test_the_same_snapshot_again_is_the_first_answer_and_records_nothing(
        self, any_world: World
    ) -> None:
        any_world.approve(manifest(any_world.trust, revision=1))
        first = any_world.evidence(event(NEW))
        head = any_world.head()
        # again, even with another observation time, materiality or note
        for again in (event(NEW), event(NEW, observed_at=ago(seconds=5), material=False)):
            response = any_world.evidence(again)
            assert response.status_code == 200, response.text
            assert response.json() == first.json()
        assert any_world.head() == head
        assert any_world.count(EvidenceEventRow) == 1

    def test_replicas_receiving_the_same_event_at_once_record_it_once(
        self, any_world: World, tmp_path: Any
    ) -> None:
        from tests.feedback.conftest import running, world_settings

        approved = any_world.approve(manifest(any_world.trust, revision=1))
        settings = any_world.runtime.settings
        replica_settings = world_settings(
            tmp_path / "replica",
            any_world.trust,
            any_world.keys,
            settings.effective_database_url,
            settings.signing_key_file,  # type: ignore[arg-type]
        )
        body = event(NEW)
        with running(replica_settings, any_world.trust, any_world.keys) as replica:
            gates = [any_world, replica, any_world, replica]
            barrier = threading.Barrier(len(gates), timeout=30)
            answers: list[Any] = [None] * len(gates)

            def send(i: int) -> None:
                barrier.wait()
                answers[i] = gates[i].evidence(body)

            threads = [threading.Thread(target=send, args=(i,)) for i in range(len(gates))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(thread.is_alive() for thread in threads)
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 200, 200, 201]
        assert len({a.json()["event_id"] for a in answers}) == 1
        assert all(a.json()["revoked_tokens"] == [approved["decision_id"]] for a in answers)
        assert any_world.count(EvidenceEventRow) == 1
        assert any_world.count(RevocationRow) == 1
        assert any_world.store.verify_chain().ok


class TestRaces:
    def test_no_token_citing_the_old_snapshot_survives_an_event_racing_approvals(
        self, any_world: World
    ) -> None:
        """Approvals and the event in flight together: each approval is either recorded
        before the event (and revoked by it) or after it (and denied): none stays valid."""
        documents = [
            manifest(any_world.trust, revision=1, packet_id=f"PKT-RACE-{i}") for i in range(8)
        ]
        barrier = threading.Barrier(len(documents) + 1, timeout=30)
        decisions: list[dict[str, Any]] = []
        sent: list[Any] = []

        def approve(document: dict[str, Any]) -> None:
            barrier.wait()
            decisions.append(any_world.evaluate(document))

        def change() -> None:
            barrier.wait()
            sent.append(any_world.evidence(event(NEW)))

        threads = [threading.Thread(target=approve, args=(d,)) for d in documents]
        threads.append(threading.Thread(target=change))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert len(decisions) == len(documents)
        revoked = set(sent[0].json()["revoked_tokens"])
        for decision in decisions:
            if decision["allow"]:
                assert decision["decision_id"] in revoked
                assert any_world.verify(decision)["reason"] == "token.revoked"
            else:
                assert codes(decision) == {("evidence.superseded", "/evidence/0")}
        assert any_world.store.verify_chain().ok


class TestOlderAndImmaterial:
    def test_an_older_observation_never_overrides_a_newer_one(self, any_world: World) -> None:
        newer_at, older_at = ago(minutes=1), ago(minutes=30)
        older = digest("timeline, an earlier correction")
        assert any_world.evidence(event(NEW, observed_at=newer_at)).status_code == 201
        approved = any_world.approve(
            manifest(any_world.trust, revision=1, snapshots={"incident_timeline": NEW})
        )
        late = any_world.evidence(event(older, observed_at=older_at))
        assert late.status_code == 201
        assert late.json()["revoked_tokens"] == []
        assert any_world.verify(approved)["valid"] is True
        denied = any_world.evaluate(
            manifest(any_world.trust, revision=1, snapshots={"incident_timeline": older})
        )
        assert codes(denied) == {("evidence.superseded", "/evidence/0")}
        assert newer_at in denied["violations"][0]["message"]

    def test_the_same_observation_time_does_not_override_either(self, world: World) -> None:
        at = ago(minutes=1)
        world.evidence(event(NEW, observed_at=at))
        tie = world.evidence(event(digest("a tie"), observed_at=at))
        assert tie.status_code == 201
        cites_new = manifest(world.trust, revision=1, snapshots={"incident_timeline": NEW})
        assert world.evaluate(cites_new)["allow"] is True

    def test_an_immaterial_event_only_records(self, any_world: World) -> None:
        approved = any_world.approve(manifest(any_world.trust, revision=1))
        response = any_world.evidence(event(NEW, material=False, note="typo fixed"))
        assert response.status_code == 201
        assert response.json()["revoked_tokens"] == []
        assert any_world.verify(approved)["valid"] is True
        assert any_world.evaluate(manifest(any_world.trust, revision=1))["allow"] is True
        assert any_world.count(EvidenceEventRow) == 1


BAD_BODIES: dict[str, tuple[Any, str]] = {
    "missing material": ({k: v for k, v in event(NEW).items() if k != "material"}, "/material"),
    "material as a string": (event(NEW, material="yes"), "/material"),
    "material as a number": (event(NEW, material=1), "/material"),
    "unknown field": (event(NEW, packet_id="PKT-FB-1"), "/packet_id"),
    "source not an id": (event(NEW, source="incident timeline"), "/source"),
    "digest not sha256": (event("md5:abc"), "/digest"),
    "digest upper case": (event(NEW.upper().replace("SHA256", "sha256")), "/digest"),
    "observed_at not RFC 3339": (event(NEW, observed_at="2026-11-26 09:00:00"), "/observed_at"),
    "observed_at lower-case t": (event(NEW, observed_at="2026-11-26t09:00:00Z"), "/observed_at"),
    "ref too long": (event(NEW, ref="r" * 4097), "/ref"),
    "ref with U+0000": (event(NEW, ref="incident_timeline/\x00"), "/ref"),
    "note with U+0000": (event(NEW, note="a\x00b"), "/note"),
    "note not text": (event(NEW, note=7), "/note"),
    "not an object": ([event(NEW)], ""),
}


class TestBadInput:
    @pytest.mark.parametrize("name", sorted(BAD_BODIES))
    def test_is_a_422_naming_the_field_and_changes_nothing(
        self, any_world: World, name: str
    ) -> None:
        approved = any_world.approve(manifest(any_world.trust, revision=1))
        head = any_world.head()
        body, pointer = BAD_BODIES[name]
        response = any_world.evidence(body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 422
        assert pointer in [e["pointer"] for e in problem["errors"]]
        assert any_world.head() == head
        assert any_world.count(EvidenceEventRow) == 0
        assert any_world.verify(approved)["valid"] is True

    def test_an_observation_from_the_future_is_refused(self, world: World) -> None:
        ahead = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        response = world.evidence(event(NEW, observed_at=ahead))
        assert response.status_code == 422
        assert response.json()["errors"][0]["pointer"] == "/observed_at"
        assert "after the gate's clock" in response.json()["detail"]
        assert world.count(EvidenceEventRow) == 0

    def test_not_json_is_a_400(self, world: World) -> None:
        response = world.client.post(
            "/v1/evidence-events",
            content=b'{"source": "a", "source": "b"}',
            headers={"content-type": "application/json", **world.keys.bearer("evidence_source")},
        )
        assert response.status_code == 400
        assert world.count(EvidenceEventRow) == 0

    def test_another_media_type_is_a_415(self, world: World) -> None:
        response = world.client.post(
            "/v1/evidence-events",
            content=b"source=a",
            headers={"content-type": "text/plain", **world.keys.bearer("evidence_source")},
        )
        assert response.status_code == 415

    @pytest.mark.parametrize(
        ("role", "status"),
        [(None, 401), ("evaluator", 403), ("intake", 403), ("auditor", 403), ("verifier", 403)],
    )
    def test_only_the_evidence_source_role_may_send(
        self, world: World, role: str | None, status: int
    ) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        response = world.evidence(event(NEW), role=role)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert world.count(EvidenceEventRow) == 0
        assert world.verify(approved)["valid"] is True
