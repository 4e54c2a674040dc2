"""Supersession and holds over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.runtime import Runtime
from tests.helpers import LANE, ManifestFactory, post_json
from tests.store._flow import codes, evaluate, revision, verify


def _hold(client: TestClient, **body: Any) -> dict[str, Any]:
    response = post_json(client, "/v1/holds", {"packet_id": "PKT-TEST-1", **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


class TestSupersession:
    def test_older_revision_denied_once_newer_is_approved(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        assert evaluate(gate, revision(make_manifest, 4, supersedes=3))["allow"] is True
        older = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        assert older["allow"] is False
        assert older["token"] is None
        assert codes(older) == {("packet.superseded", "/packet/revision")}

    def test_supersedes_revision_must_name_latest_approved(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        assert evaluate(gate, revision(make_manifest, 3, supersedes=2))["allow"] is True
        skipping = evaluate(gate, revision(make_manifest, 5, supersedes=2))
        assert codes(skipping) == {("packet.superseded", "/packet/supersedes_revision")}
        assert evaluate(gate, revision(make_manifest, 5, supersedes=3))["allow"] is True

    def test_same_revision_may_be_approved_again(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        manifest = revision(make_manifest, 3, supersedes=2)
        first, second = evaluate(gate, manifest), evaluate(gate, manifest)
        assert first["allow"]
        assert second["allow"]
        assert verify(gate, first)["valid"] is True

    def test_approving_newer_revision_revokes_older_tokens(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        old = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        assert verify(gate, old)["valid"] is True
        new = evaluate(gate, revision(make_manifest, 4, supersedes=3))
        assert verify(gate, old) == {"valid": False, "reason": "token.revoked", "claims": None}
        assert verify(gate, new)["valid"] is True

    def test_other_packets_are_not_affected(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        other = evaluate(gate, revision(make_manifest, 7, supersedes=6, packet_id="PKT-OTHER"))
        evaluate(gate, revision(make_manifest, 4, supersedes=3))
        assert verify(gate, other)["valid"] is True
        assert evaluate(gate, revision(make_manifest, 3, packet_id="PKT-OTHER"))["allow"] is False


class TestHolds:
    def test_hold_revokes_live_tokens_and_denies_evaluations(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        manifest = revision(make_manifest, 3, supersedes=2)
        before = evaluate(gate, manifest)
        hold = _hold(gate, revision=3, reason="audience scope changed")
        assert hold["revoked_tokens"] == [before["decision_id"]]
        assert verify(gate, before)["reason"] == "token.revoked"
        held = evaluate(gate, manifest)
        assert codes(held) == {("packet.on_hold", "/packet/revision")}
        assert "audience scope changed" in held["violations"][0]["message"]

    def test_lifting_a_hold_allows_again_but_revocation_stays(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        manifest = revision(make_manifest, 3, supersedes=2)
        before = evaluate(gate, manifest)
        hold = _hold(gate, revision=3, lane=LANE, reason="evidence changed")
        lifted = gate.delete(f"/v1/holds/{hold['hold_id']}")
        assert lifted.status_code == 200
        assert lifted.json()["active"] is False
        after = evaluate(gate, manifest)
        assert after["allow"] is True
        assert verify(gate, before)["reason"] == "token.revoked"
        assert verify(gate, after)["valid"] is True

    def test_hold_on_another_revision_does_not_apply(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        _hold(gate, revision=2, reason="y")
        assert evaluate(gate, revision(make_manifest, 3, supersedes=2))["allow"] is True
        assert len(gate.get("/v1/holds").json()["holds"]) == 1

    def test_hold_on_a_lane_governance_does_not_define_is_422_and_holds_nothing(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        """A mistyped lane must not look like a stopped release (it would hold nothing)."""
        head = gate.get("/v1/decisions/head").json()
        response = post_json(
            gate,
            "/v1/holds",
            {
                "packet_id": "PKT-TEST-1",
                "revision": 3,
                "lane": "exec-customer-reveiw",
                "reason": "x",
            },
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in response.json()["errors"]] == ["/lane"]
        assert "exec-customer-reveiw" in response.json()["errors"][0]["detail"]
        assert gate.get("/v1/holds").json()["holds"] == []
        assert gate.get("/v1/decisions/head").json() == head
        assert evaluate(gate, revision(make_manifest, 3, supersedes=2))["allow"] is True

    def test_lifting_twice_is_a_conflict_and_unknown_is_not_found(self, gate: TestClient) -> None:
        hold = _hold(gate, revision=3, reason="x")
        assert gate.delete(f"/v1/holds/{hold['hold_id']}").status_code == 200
        again = gate.delete(f"/v1/holds/{hold['hold_id']}")
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert gate.delete("/v1/holds/00000000-0000-0000-0000-000000000000").status_code == 404
        assert gate.delete("/v1/holds/not-a-uuid").status_code == 404

    @pytest.mark.parametrize(
        ("body", "pointer"),
        [
            ({"revision": 3}, "/reason"),
            ({"revision": 0, "reason": "x"}, "/revision"),
            ({"revision": "3", "reason": "x"}, "/revision"),
            ({"revision": 3, "reason": "x", "extra": 1}, "/extra"),
            ({"revision": 3, "reason": "nul \u0000 inside"}, "/reason"),
        ],
    )
    def test_invalid_hold_request_is_422(
        self, gate: TestClient, body: dict[str, Any], pointer: str
    ) -> None:
        response = post_json(gate, "/v1/holds", {"packet_id": "PKT-TEST-1", **body})
        assert response.status_code == 422
        assert pointer in {e["pointer"] for e in response.json()["errors"]}


class TestAuditTrail:
    def test_chain_verifies_after_decisions_and_holds(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        evaluate(gate, revision(make_manifest, 3, supersedes=2))
        hold = _hold(gate, revision=3, reason="x")
        gate.delete(f"/v1/holds/{hold['hold_id']}")
        evaluate(gate, revision(make_manifest, 4, supersedes=3))
        assert store_runtime.store is not None
        report = store_runtime.store.verify_chain()
        assert report.ok
        assert report.entries == 4
        assert gate.get("/v1/decisions/head").json()["seq"] == 4
