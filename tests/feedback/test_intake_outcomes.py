"""``POST /v1/intake-outcomes`` over HTTP (contract section 9), and the failed
verifications ``/v1/verify`` counts for the lane reports.

One outcome per token, recorded in the chain; the same body again is the first
answer; a different outcome is a 409; an unknown token a 404; bad bodies a 422
naming the field; wrong roles 401/403. None of the refusals changes the log.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from release_gate.api.verify import UNDEFINED_LANE
from release_gate.store.schema import IntakeOutcomeRow, VerifyFailureRow
from tests.feedback._world import OTHER_LANE, World, manifest


def _outcome(token_id: str, outcome: str = "accepted", *findings: str, **extra: Any) -> Any:
    return {"token_id": token_id, "outcome": outcome, "findings": list(findings), **extra}


class TestOneOutcomePerToken:
    def test_accepted_then_the_same_again_then_a_different_one(self, any_world: World) -> None:
        approved = any_world.approve(manifest(any_world.trust, revision=1))
        head = any_world.head()
        first = any_world.outcome(_outcome(approved["decision_id"]))
        assert first.status_code == 201, first.text
        assert set(first.json()) == {"outcome_id"}
        assert any_world.head() == head + 1
        again = any_world.outcome(_outcome(approved["decision_id"]))
        assert again.status_code == 200
        assert again.json() == first.json()
        other = any_world.outcome(_outcome(approved["decision_id"], "returned", "other"))
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
        assert "already has the outcome accepted" in other.json()["detail"]
        assert any_world.head() == head + 1
        assert any_world.count(IntakeOutcomeRow) == 1
        assert any_world.store.verify_chain().ok

    def test_returned_with_findings_in_any_order_is_the_same_body(self, world: World) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        token = approved["decision_id"]
        body = _outcome(token, "returned", "stale_evidence", "wrong_audience", note="old scope")
        first = world.outcome(body)
        assert first.status_code == 201
        swapped = _outcome(token, "returned", "wrong_audience", "stale_evidence", note="old scope")
        assert world.outcome(swapped).json() == first.json()
        with world.store.db.read() as conn:
            row = conn.execute(select(IntakeOutcomeRow.__table__)).one()
        assert (row.token_id, row.lane, row.outcome, row.note) == (
            token,
            approved["lane"],
            "returned",
            "old scope",
        )
        assert row.actor == world.keys.names["intake"]

    def test_another_note_is_another_outcome(self, world: World) -> None:
        token = world.approve(manifest(world.trust, revision=1))["decision_id"]
        assert world.outcome(_outcome(token, note="fine")).status_code == 201
        assert world.outcome(_outcome(token, note="fine, really")).status_code == 409

    def test_a_revoked_token_may_still_be_reported(self, world: World) -> None:
        old = world.approve(manifest(world.trust, revision=1))
        world.approve(manifest(world.trust, revision=2))  # supersedes revision 1
        response = world.outcome(_outcome(old["decision_id"], "returned", "stale_evidence"))
        assert response.status_code == 201

    def test_the_token_id_is_read_as_a_uuid(self, world: World) -> None:
        token = world.approve(manifest(world.trust, revision=1))["decision_id"]
        first = world.outcome(_outcome(token.upper()))
        assert first.status_code == 201
        assert world.outcome(_outcome(token)).json() == first.json()


class TestRefusals:
    @pytest.mark.parametrize(
        "token_id", [str(uuid.uuid4()), "not-a-token", "", "x" * 128], ids=str.__len__
    )
    def test_a_token_no_allow_minted_is_a_404(self, any_world: World, token_id: str) -> None:
        any_world.approve(manifest(any_world.trust, revision=1))
        head = any_world.head()
        response = any_world.outcome(_outcome(token_id))
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404
        assert any_world.head() == head
        assert any_world.count(IntakeOutcomeRow) == 0

    def test_a_denied_decision_has_no_token(self, world: World) -> None:
        denied = world.evaluate(manifest(world.trust, revision=1, signers=("owner", "comms")))
        assert denied["allow"] is False
        assert world.outcome(_outcome(denied["decision_id"])).status_code == 404

    @pytest.mark.parametrize(
        ("name", "change", "pointer"),
        [
            ("findings on accepted", {"findings": ["other"]}, "/findings"),
            ("returned without findings", {"outcome": "returned"}, "/findings"),
            (
                "duplicate findings",
                {"outcome": "returned", "findings": ["other", "other"]},
                "/findings",
            ),
            ("unknown finding", {"outcome": "returned", "findings": ["typo"]}, "/findings/0"),
            ("unknown outcome", {"outcome": "rejected"}, "/outcome"),
            ("token id not a string", {"token_id": 7}, "/token_id"),
            ("findings missing", {"findings": None}, "/findings"),
            ("unknown field", {"lane": "exec-customer-review"}, "/lane"),
            ("note with U+0000", {"note": "a\x00"}, "/note"),
        ],
    )
    def test_a_bad_body_is_a_422_naming_the_field(
        self, any_world: World, name: str, change: dict[str, Any], pointer: str
    ) -> None:
        token = any_world.approve(manifest(any_world.trust, revision=1))["decision_id"]
        head = any_world.head()
        body = {**_outcome(token), **change}
        if change.get("findings", ()) is None:
            del body["findings"]
        response = any_world.outcome(body)
        assert response.status_code == 422, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert pointer in [e["pointer"] for e in response.json()["errors"]]
        assert any_world.head() == head
        assert any_world.count(IntakeOutcomeRow) == 0

    @pytest.mark.parametrize(
        ("role", "status"),
        [(None, 401), ("verifier", 403), ("evidence_source", 403), ("auditor", 403)],
    )
    def test_only_the_intake_role_may_report(
        self, world: World, role: str | None, status: int
    ) -> None:
        token = world.approve(manifest(world.trust, revision=1))["decision_id"]
        response = world.outcome(_outcome(token), role=role)
        assert response.status_code == status
        assert world.count(IntakeOutcomeRow) == 0


class TestVerifyFailuresAreCounted:
    def _failures(self, world: World) -> list[tuple[str, str]]:
        with world.store.db.read() as conn:
            rows = conn.execute(select(VerifyFailureRow.lane, VerifyFailureRow.reason)).all()
        return sorted((row.lane, row.reason) for row in rows)

    def test_each_valid_false_by_the_lane_asked_for(self, any_world: World) -> None:
        approved = any_world.approve(manifest(any_world.trust, revision=1))
        assert any_world.verify(approved)["valid"] is True
        assert any_world.verify(approved, lane=OTHER_LANE)["reason"] == "token.wrong_audience"
        other_packet = {**approved["packet"], "digest": "sha256:" + "0" * 64}
        wrong_digest = {**approved, "packet": other_packet}
        assert any_world.verify(wrong_digest)["reason"] == "token.digest_mismatch"
        assert any_world.verify(approved, lane="no-such-lane")["valid"] is False
        assert self._failures(any_world) == sorted(
            [
                (OTHER_LANE, "token.wrong_audience"),
                (approved["lane"], "token.digest_mismatch"),
                (UNDEFINED_LANE, "token.wrong_audience"),
            ]
        )

    def test_a_valid_token_is_not_counted(self, world: World) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        world.verify(approved)
        assert self._failures(world) == []
