"""The packet story and the list of recent packets, from the real store (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.store import Store
from release_gate.store.query import InvalidCursor
from release_gate.store.story import list_packets, read_packet_story
from release_gate.store.story.packets import read_packet_page
from tests.ui._scenario import (
    HOLD_REASON,
    LANE,
    OTHER_LANE,
    OTHER_PACKET,
    PACKET,
    PEOPLE,
    R6_RETURNED,
    R7_OBJECTION,
    R7_RATIONALE,
    TIMELINE_NOTE,
    ApiKeys,
    Story,
    Trust,
    manifest,
)


def _store(client: TestClient) -> Store:
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    assert isinstance(store, Store)
    return store


def _now() -> int:
    return int(time.time())


class TestPacketStory:
    def test_revisions_newest_first_with_supersession_hold_and_block(
        self, any_gate: TestClient, any_seeded: Story
    ) -> None:
        story = read_packet_story(_store(any_gate).db, PACKET, now_s=_now())
        by_revision = {r.revision: r for r in story.revisions}
        assert [r.revision for r in story.revisions] == [8, 7, 6]
        assert by_revision[6].state.kind == "superseded"
        assert by_revision[6].superseded_by == 7
        assert by_revision[6].superseded_by_decision == any_seeded.r7["decision_id"]
        assert by_revision[7].state.kind == "on_hold"
        assert by_revision[7].state.hold is not None
        assert by_revision[7].state.hold.reason == HOLD_REASON
        assert by_revision[7].superseded_by is None
        assert by_revision[8].state.kind == "blocked"
        assert set(by_revision[8].state.codes) == {"signers.missing_role", "objections.unaccepted"}
        assert by_revision[8].digests == (any_seeded.r8["packet"]["digest"],)
        assert (by_revision[7].decisions, by_revision[7].approvals) == (1, 1)

    def test_decisions_are_the_audit_apis_records_newest_first(
        self, any_gate: TestClient, any_seeded: Story, api_keys: ApiKeys
    ) -> None:
        story = read_packet_story(_store(any_gate).db, PACKET, now_s=_now())
        listed = any_gate.get(
            "/v1/decisions", params={"packet_id": PACKET}, headers=api_keys.bearer("auditor")
        ).json()["items"]
        ids = [r.decision.decision_id for r in story.decisions]
        assert ids == [d["decision_id"] for d in listed]
        assert ids == [any_seeded.r8["decision_id"], any_seeded.r7["decision_id"],
                       any_seeded.r6["decision_id"]]  # fmt: skip
        assert story.next_cursor is None

    def test_tokens_say_why_they_were_revoked(
        self, any_gate: TestClient, any_seeded: Story
    ) -> None:
        story = read_packet_story(_store(any_gate).db, PACKET, now_s=_now())
        tokens = {t.token_id: t for t in story.tokens}
        r6, r7 = tokens[any_seeded.r6["decision_id"]], tokens[any_seeded.r7["decision_id"]]
        assert r6.state == r7.state == "revoked"
        assert r6.revocation is not None
        assert r7.revocation is not None
        assert (r6.revocation.reason, r6.revocation.cause) == (
            "superseded",
            any_seeded.r7["decision_id"],
        )
        assert (r7.revocation.reason, r7.revocation.cause) == ("hold", any_seeded.hold["hold_id"])
        assert r6.outcome is not None
        assert (r6.outcome.outcome, r6.outcome.findings, r6.outcome.note) == (
            "returned",
            ("stale_evidence",),
            R6_RETURNED,
        )
        assert r7.outcome is None
        assert len(tokens) == 2  # the denial minted none; the other packet is not in this story

    def test_token_states_live_and_expired(self, any_gate: TestClient, any_seeded: Story) -> None:
        db = _store(any_gate).db
        (live,) = read_packet_story(db, OTHER_PACKET, now_s=_now()).tokens
        assert live.state == "live"
        later = _now() + 3600  # past the lane's 900 s token lifetime
        (expired,) = read_packet_story(db, OTHER_PACKET, now_s=later).tokens
        assert expired.state == "expired"
        (revision,) = read_packet_story(db, OTHER_PACKET, now_s=later).revisions
        assert revision.state.kind == "expired"

    def test_accepted_disagreement_of_each_approval(
        self, any_gate: TestClient, any_seeded: Story
    ) -> None:
        story = read_packet_story(_store(any_gate).db, PACKET, now_s=_now())
        r7, r6 = story.disagreements
        assert (r7.revision, r6.revision) == (7, 6)
        assert r7.decision_ids == (any_seeded.r7["decision_id"],)
        assert r7.release_owner == PEOPLE["owner"][0]
        (item,) = r7.items  # the resolved OBJ-13 is not residual disagreement
        assert (item.objection_id, item.summary, item.rationale) == (
            "OBJ-12",
            R7_OBJECTION,
            R7_RATIONALE,
        )
        assert (item.raised_by, item.accepted_by) == (PEOPLE["cs"][0], PEOPLE["owner"][0])
        assert [i.objection_id for i in r6.items] == ["OBJ-11"]

    def test_holds_with_reason_and_actor_placed_and_lifted(
        self, any_gate: TestClient, any_seeded: Story, api_keys: ApiKeys
    ) -> None:
        db = _store(any_gate).db
        (hold,) = read_packet_story(db, PACKET, now_s=_now()).holds
        assert (hold.reason, hold.placed_by, hold.active) == (
            HOLD_REASON,
            api_keys.names["release_owner"],
            True,
        )
        hold_id = any_seeded.hold["hold_id"]
        lifted = any_gate.delete(f"/v1/holds/{hold_id}", headers=api_keys.bearer("release_owner"))
        assert lifted.status_code == 200
        story = read_packet_story(db, PACKET, now_s=_now())
        (hold,) = story.holds
        assert not hold.active
        assert hold.lifted_by == api_keys.names["release_owner"]
        assert story.revisions[1].state.kind == "revoked"  # r7: no longer held, token still revoked

    def test_evidence_events_about_the_packets_evidence(
        self, any_gate: TestClient, any_seeded: Story
    ) -> None:
        db = _store(any_gate).db
        (event,) = read_packet_story(db, PACKET, now_s=_now()).evidence_events
        assert event.event_id == any_seeded.event["event_id"]
        assert (event.source, event.ref, event.digest, event.material, event.note) == (
            "incident_timeline",
            f"incident_timeline/{PACKET}",
            any_seeded.event_digest,
            True,
            TIMELINE_NOTE,
        )
        assert event.revoked_tokens == ()
        # the other packet cites other evidence: the event did not touch it
        assert read_packet_story(db, OTHER_PACKET, now_s=_now()).evidence_events == ()

    def test_unknown_packet_is_empty(self, any_gate: TestClient) -> None:
        assert read_packet_story(_store(any_gate).db, "PKT-NONE", now_s=_now()).empty

    def test_a_re_approved_manifest_is_one_disagreement_entry(
        self, gate: TestClient, trust: Trust, api_keys: ApiKeys
    ) -> None:
        document = manifest(trust, revision=1, packet_id="PKT-TWICE")
        headers = {"content-type": "application/json", **api_keys.bearer("evaluator")}
        body = json.dumps(document).encode()
        ids = [
            gate.post("/v1/evaluate", content=body, headers=headers).json()["decision_id"]
            for _ in range(2)
        ]
        story = read_packet_story(_store(gate).db, "PKT-TWICE", now_s=_now())
        (entry,) = story.disagreements
        assert entry.decision_ids == tuple(reversed(ids))
        assert [t.state for t in story.tokens] == ["live", "live"]


def _evaluate(client: TestClient, api_keys: ApiKeys, document: dict[str, Any]) -> None:
    response = client.post(
        "/v1/evaluate",
        content=json.dumps(document).encode(),
        headers={"content-type": "application/json", **api_keys.bearer("evaluator")},
    )
    assert response.status_code == 200, response.text


class TestPacketList:
    def test_one_row_per_packet_and_lane_newest_first(
        self, any_gate: TestClient, any_seeded: Story
    ) -> None:
        page = list_packets(_store(any_gate).db, lane=None, limit=25, cursor=None, now_s=_now())
        rows = [(i.packet_id, i.lane, i.revision, i.state.kind) for i in page.items]
        assert rows == [(OTHER_PACKET, OTHER_LANE, 2, "live"), (PACKET, LANE, 8, "blocked")]
        assert page.items[1].decision_id == any_seeded.r8["decision_id"]
        assert set(page.items[1].state.codes) == {"signers.missing_role", "objections.unaccepted"}
        assert page.next_cursor is None

    def test_lane_filter(self, any_gate: TestClient, any_seeded: Story) -> None:
        db = _store(any_gate).db
        page = list_packets(db, lane=LANE, limit=25, cursor=None, now_s=_now())
        assert [i.packet_id for i in page.items] == [PACKET]
        assert list_packets(db, lane="nope", limit=25, cursor=None, now_s=_now()).items == ()

    def test_the_latest_revision_on_hold(
        self, any_gate: TestClient, trust: Trust, api_keys: ApiKeys
    ) -> None:
        _evaluate(any_gate, api_keys, manifest(trust, revision=3, packet_id="PKT-H"))
        hold = {"packet_id": "PKT-H", "revision": 3, "lane": LANE, "reason": "wait"}
        any_gate.post("/v1/holds", json=hold, headers=api_keys.bearer("release_owner"))
        (row,) = list_packets(
            _store(any_gate).db, lane=None, limit=5, cursor=None, now_s=_now()
        ).items
        assert row.state.kind == "on_hold"
        assert row.state.hold is not None
        assert row.state.hold.reason == "wait"

    def test_pages_list_every_pair_once_in_order_of_newest_activity(
        self, any_gate: TestClient, trust: Trust, api_keys: ApiKeys
    ) -> None:
        # Activity, oldest first: A B A C D B. Newest activity: B, D, C, A.
        for packet, revision in [("A", 1), ("B", 1), ("A", 2), ("C", 1), ("D", 1), ("B", 2)]:
            _evaluate(any_gate, api_keys, manifest(trust, revision=revision, packet_id=packet))
        db = _store(any_gate).db
        seen: list[str] = []
        cursor = None
        for _page in range(5):  # a cursor that never ends fails here, never hangs
            page = list_packets(db, lane=None, limit=2, cursor=cursor, now_s=_now())
            seen += [i.packet_id for i in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["B", "D", "C", "A"]

    def test_a_page_reads_a_bounded_stretch_of_the_log(
        self, gate: TestClient, trust: Trust, api_keys: ApiKeys
    ) -> None:
        _evaluate(gate, api_keys, manifest(trust, revision=1, packet_id="QUIET"))
        for revision in range(1, 6):
            _evaluate(gate, api_keys, manifest(trust, revision=revision, packet_id="BUSY"))
        with _store(gate).db.read() as conn:
            # Two rows scanned: BUSY only, and where to go on from.
            first = read_packet_page(conn, lane=None, limit=5, cursor=None, now_s=0, scan_limit=2)
            assert [i.packet_id for i in first.items] == ["BUSY"]
            assert first.next_cursor is not None
            rest = read_packet_page(
                conn, lane=None, limit=5, cursor=first.next_cursor, now_s=0, scan_limit=100
            )
        assert [i.packet_id for i in rest.items] == ["QUIET"]
        assert rest.next_cursor is None

    @pytest.mark.parametrize("cursor", ["", "bm9wZQ", "x" * 300, "eyJ2IjoxfQ"])
    def test_a_cursor_the_gate_did_not_issue_is_refused(
        self, gate: TestClient, cursor: str
    ) -> None:
        with pytest.raises(InvalidCursor, match="not one this gate issued"):
            list_packets(_store(gate).db, lane=None, limit=2, cursor=cursor, now_s=_now())

    def test_a_cursor_of_another_lane_is_refused(
        self, gate: TestClient, trust: Trust, api_keys: ApiKeys
    ) -> None:
        for packet in ("A", "B"):
            _evaluate(gate, api_keys, manifest(trust, revision=1, packet_id=packet))
        db = _store(gate).db
        cursor = list_packets(db, lane=LANE, limit=1, cursor=None, now_s=_now()).next_cursor
        assert cursor is not None
        with pytest.raises(InvalidCursor, match="another lane"):
            list_packets(db, lane=None, limit=1, cursor=cursor, now_s=_now())
