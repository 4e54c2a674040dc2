"""``GET /v1/decisions`` and ``/v1/decisions/{id}``: filters, cursors, the manifest as received."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from tests.helpers import LANE, ManifestFactory
from tests.store._flow import evaluate, revision


def _seed(gate: TestClient, make_manifest: ManifestFactory) -> list[dict]:  # type: ignore[type-arg]
    decisions = [evaluate(gate, revision(make_manifest, n, supersedes=n - 1)) for n in (3, 4, 5)]
    decisions.append(evaluate(gate, revision(make_manifest, 2, supersedes=1)))  # superseded
    return decisions


class TestDecisionList:
    def test_lists_newest_first_with_outcome(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        seeded = _seed(gate, make_manifest)
        body = gate.get("/v1/decisions").json()
        assert [d["decision_id"] for d in body["items"]] == [d["decision_id"] for d in seeded[::-1]]
        assert [d["outcome"] for d in body["items"]] == ["deny", "allow", "allow", "allow"]
        assert body["next_cursor"] is None

    def test_filters_by_outcome_revision_lane_and_packet(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        _seed(gate, make_manifest)
        deny = gate.get("/v1/decisions", params={"outcome": "deny"}).json()["items"]
        assert [d["packet_revision"] for d in deny] == [2]
        assert deny[0]["violations"][0]["code"] == "packet.superseded"
        assert len(gate.get("/v1/decisions", params={"revision": 4}).json()["items"]) == 1
        assert len(gate.get("/v1/decisions", params={"lane": LANE}).json()["items"]) == 4
        assert gate.get("/v1/decisions", params={"lane": "nope"}).json()["items"] == []
        assert (
            len(gate.get("/v1/decisions", params={"packet_id": "PKT-TEST-1"}).json()["items"]) == 4
        )
        assert gate.get("/v1/decisions", params={"packet": "PKT-X"}).json()["items"] == []

    def test_packet_and_packet_id_that_disagree_are_400(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        _seed(gate, make_manifest)
        both = {"packet_id": "PKT-TEST-1", "packet": "PKT-X"}
        response = gate.get("/v1/decisions", params=both)
        assert response.status_code == 400
        assert "alias" in response.json()["detail"]
        same = {"packet_id": "PKT-TEST-1", "packet": "PKT-TEST-1"}
        assert len(gate.get("/v1/decisions", params=same).json()["items"]) == 4

    def test_filters_by_time_range(self, gate: TestClient, make_manifest: ManifestFactory) -> None:
        seeded = _seed(gate, make_manifest)
        second = seeded[1]["evaluated_at"]
        since = gate.get("/v1/decisions", params={"since": second}).json()["items"]
        assert seeded[0]["decision_id"] not in {d["decision_id"] for d in since}
        until = gate.get("/v1/decisions", params={"until": second}).json()["items"]
        assert [d["decision_id"] for d in until] == [seeded[0]["decision_id"]]
        bad = gate.get("/v1/decisions", params={"since": "yesterday"})
        assert bad.status_code == 400

    def test_cursor_pages_through_everything_once(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        seeded = _seed(gate, make_manifest)
        seen: list[str] = []
        params: dict[str, str | int] = {"limit": 3}
        for _page in range(len(seeded) + 1):  # a cursor that never ends fails, never hangs
            page = gate.get("/v1/decisions", params=params).json()
            seen += [d["decision_id"] for d in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == [d["decision_id"] for d in seeded[::-1]]

    def test_forged_cursor_is_400(self, gate: TestClient) -> None:
        response = gate.get("/v1/decisions", params={"cursor": "bm90LWEtY3Vyc29y"})
        assert response.status_code == 400
        assert response.json()["type"].endswith("invalid-cursor")

    @pytest.mark.parametrize("name", ["since", "until"])
    @pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
    def test_far_since_or_until_filters_instead_of_failing(
        self, gate: TestClient, make_manifest: ManifestFactory, name: str, when: str
    ) -> None:
        evaluate(gate, revision(make_manifest, 3, supersedes=2))
        response = gate.get("/v1/decisions", params={name: when})
        assert response.status_code == 200, response.text
        expected = (name == "since") == when.startswith("0001")
        assert len(response.json()["items"]) == (1 if expected else 0)

    def test_cursor_is_bound_to_the_filters_that_issued_it(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        _seed(gate, make_manifest)
        cursor = _first_cursor(gate, {"lane": LANE})
        same = gate.get("/v1/decisions", params={"lane": LANE, "limit": 1, "cursor": cursor})
        assert same.status_code == 200
        other = gate.get("/v1/decisions", params={"outcome": "allow", "cursor": cursor})
        assert other.status_code == 400
        assert "other filters" in other.json()["detail"]

    @pytest.mark.parametrize(
        "change",
        [
            {"before": 2**63},
            {"before": 10**30},
            {"before": 0},
            {"before": True},
            {"v": True},
            {"v": 1},
            {"extra": 1},
            {"q": None},
        ],
        ids=[
            "2^63",
            "10^30",
            "zero",
            "bool-before",
            "bool-version",
            "old-version",
            "extra",
            "no-filters",
        ],
    )
    def test_altered_cursor_is_400(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        change: dict[str, object],
    ) -> None:
        _seed(gate, make_manifest)
        value = _decode_cursor(_first_cursor(gate, {}))
        value.update(change)
        if change == {"q": None}:
            del value["q"]
        response = gate.get("/v1/decisions", params={"cursor": _encode_cursor(value)})
        assert response.status_code == 400, response.text
        assert response.json()["type"].endswith("invalid-cursor")

    def test_overlong_cursor_is_400_not_422(self, gate: TestClient) -> None:
        response = gate.get("/v1/decisions", params={"cursor": "A" * 300})
        assert response.status_code == 400
        assert response.json()["type"].endswith("invalid-cursor")


def _first_cursor(gate: TestClient, params: dict[str, str]) -> str:
    cursor = gate.get("/v1/decisions", params={**params, "limit": 1}).json()["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def _decode_cursor(cursor: str) -> dict[str, object]:
    value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert isinstance(value, dict)
    return value


def _encode_cursor(value: dict[str, object]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TestDecisionGet:
    def test_record_has_everything_to_reproduce_the_decision(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        manifest = revision(make_manifest, 3, supersedes=2)
        decision = evaluate(gate, manifest)
        record = gate.get(f"/v1/decisions/{decision['decision_id']}").json()
        assert record["manifest"] == manifest
        assert json.loads(record["manifest_text"]) == manifest
        assert record["manifest_digest"] == decision["manifest_digest"]
        assert record["policy_digest"] == decision["policy"]["digest"]
        assert record["engine"] == "regorus"
        assert record["token_id"] == decision["decision_id"]
        assert record["token_expires_at"] > 0
        assert record["accepted_objections"] == ["OBJ-1"]
        assert record["facts"]["history"]["latest_approved_revision"] is None
        assert len(record["record_hash"]) == 64

    def test_unknown_or_malformed_id_is_404(self, gate: TestClient) -> None:
        assert gate.get("/v1/decisions/00000000-0000-4000-8000-000000000000").status_code == 404
        response = gate.get("/v1/decisions/nope")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
