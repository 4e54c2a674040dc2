"""API keys tied to lanes or evidence sources: each system acts for its own only.

Without ``lanes`` any intake key could report outcomes of another lane's tokens and
move that lane's acceptance rate; without ``sources`` any source system could say
another's evidence changed and revoke approvals. With them, the gate answers 403
and records nothing.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from release_gate.keys.api_keys import generate_key, hash_key
from release_gate.store.schema import EvidenceEventRow, IntakeOutcomeRow, VerifyFailureRow
from tests.feedback._world import LANE, OTHER_LANE, World, digest, event, keys_file, manifest
from tests.ui._scenario import ApiKeys

#: The key of the intake system of LANE: it verifies tokens and reports outcomes there.
LANE_KEY = "lane-intake"
#: The key of the case management system: it reports case_management events only.
SOURCE_KEY = "case-source"


@pytest.fixture
def keys(tmp_path: Path) -> ApiKeys:
    """The usual key per role, one intake-and-verifier key tied to ``LANE`` and one
    evidence-source key tied to ``case_management``."""
    base = keys_file(tmp_path / "api-keys.json")
    lane_key, source_key = generate_key(), generate_key()
    entries = json.loads(base.path.read_text(encoding="utf-8"))
    entries += [
        {
            "name": "lane-intake-key",
            "sha256": hash_key(lane_key),
            "roles": ["intake", "verifier"],
            "lanes": [LANE],
        },
        {
            "name": "case-source-key",
            "sha256": hash_key(source_key),
            "roles": ["evidence_source"],
            "sources": ["case_management"],
        },
    ]
    base.path.write_text(json.dumps(entries), encoding="utf-8")
    return ApiKeys(
        path=base.path,
        keys={**base.keys, LANE_KEY: lane_key, SOURCE_KEY: source_key},
        names={**base.names, LANE_KEY: "lane-intake-key", SOURCE_KEY: "case-source-key"},
    )


def _outcome(token_id: str) -> dict[str, object]:
    return {"token_id": token_id, "outcome": "returned", "findings": ["wrong_audience"]}


def _verify_body(decision: dict[str, object], lane: str) -> dict[str, object]:
    packet = decision["packet"]
    assert isinstance(packet, dict)
    return {"token": decision["token"], "lane": lane, "packet_digest": packet["digest"]}


class TestIntakeOutcomes:
    def test_its_own_lanes_token_is_recorded(self, any_world: World) -> None:
        own = any_world.approve(manifest(any_world.trust, revision=1))
        response = any_world.outcome(_outcome(own["decision_id"]), role=LANE_KEY)
        assert response.status_code == 201, response.text
        with any_world.store.db.read() as conn:
            (row,) = conn.execute(select(IntakeOutcomeRow)).all()
        assert (row.token_id, row.actor) == (own["decision_id"], "lane-intake-key")

    def test_another_lanes_token_is_a_403_and_changes_nothing(self, any_world: World) -> None:
        other = any_world.approve(manifest(any_world.trust, revision=1, lane=OTHER_LANE))
        head = any_world.head()
        response = any_world.outcome(_outcome(other["decision_id"]), role=LANE_KEY)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        detail = response.json()["detail"]
        assert LANE in detail
        assert OTHER_LANE in detail
        assert any_world.head() == head
        assert any_world.count(IntakeOutcomeRow) == 0
        assert any_world.report(OTHER_LANE)["intake"]["reported"] == 0
        # the lane's own intake (an unrestricted key) may still report it
        assert any_world.outcome(_outcome(other["decision_id"])).status_code == 201

    def test_an_unknown_token_is_still_a_404(self, world: World) -> None:
        response = world.outcome(_outcome(str(uuid.uuid4())), role=LANE_KEY)
        assert response.status_code == 404


class TestVerify:
    def test_its_own_lane_is_verified(self, world: World) -> None:
        own = world.approve(manifest(world.trust, revision=1))
        response = world.post("/v1/verify", _verify_body(own, LANE), role=LANE_KEY)
        assert response.status_code == 200, response.text
        assert response.json()["valid"] is True

    def test_another_lane_is_a_403_and_not_counted_as_a_failure(self, world: World) -> None:
        other = world.approve(manifest(world.trust, revision=1, lane=OTHER_LANE))
        response = world.post("/v1/verify", _verify_body(other, OTHER_LANE), role=LANE_KEY)
        assert response.status_code == 403
        assert "limited to the lanes" in response.json()["detail"]
        with world.store.db.read() as conn:
            assert conn.execute(select(VerifyFailureRow)).all() == []


class TestEvidenceSources:
    def test_its_own_source_is_recorded(self, world: World) -> None:
        body = event(digest("case v2"), source="case_management", ref="case_management/INC-4471")
        response = world.evidence(body, role=SOURCE_KEY)
        assert response.status_code == 201, response.text
        assert world.count(EvidenceEventRow) == 1

    def test_another_source_is_a_403_and_revokes_nothing(self, any_world: World) -> None:
        approved = any_world.approve(manifest(any_world.trust, revision=1))
        head = any_world.head()
        response = any_world.evidence(event(digest("timeline v2")), role=SOURCE_KEY)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert "incident_timeline" in response.json()["detail"]
        assert any_world.head() == head
        assert any_world.count(EvidenceEventRow) == 0
        assert any_world.verify(approved)["valid"] is True
