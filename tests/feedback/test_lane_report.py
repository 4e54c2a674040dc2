"""``GET /v1/reports/lanes/{lane}`` over HTTP, on SQLite and PostgreSQL (contract section 9).

A lane's story is told through the API (denials, approvals, a supersession, a
hold, an evidence change, intake outcomes, failed verifications), and every
figure of the report is checked against it: the window's boundaries (``since``
inclusive, ``until`` exclusive, per figure as docs/operators.md defines them),
the empty cases, another lane's activity kept out, and the refusals.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from release_gate.store.reports import DEFAULT_WINDOW_NS, nearest_rank
from release_gate.timestamps import format_ns, parse_timestamp_ns
from release_gate_client import RevocationList
from tests.feedback._world import OTHER_LANE, World, ago, digest, event, manifest

EMPTY_INTAKE: dict[str, Any] = {
    "released": 0,
    "reported": 0,
    "accepted": 0,
    "returned": 0,
    "acceptance_rate": None,
    "findings": {},
}
NO_APPROVAL = {"packets": 0, "median_seconds": None, "p90_seconds": None, "median_denials": None}


def _us(timestamp: str) -> int:
    return parse_timestamp_ns(timestamp) // 1000


def _seconds(first: dict[str, Any], approval: dict[str, Any]) -> float:
    """What the log says: from the first decision's evaluated_at to the approval's."""
    return (_us(approval["evaluated_at"]) - _us(first["evaluated_at"])) / 1_000_000


def _out_of_scope(document: dict[str, Any]) -> None:
    document["requested_actions"].append("issue_service_credit")


@dataclass
class Story:
    """What :func:`tell` did in the lane, in order."""

    a_missing: dict[str, Any]  # PKT-A r1 denied: a signer missing
    a_scope: dict[str, Any]  # PKT-A r1 denied: an action out of scope (and the signer)
    a1: dict[str, Any]  # PKT-A r1 approved
    b1: dict[str, Any]  # PKT-B r1 approved at once
    c_agent: dict[str, Any]  # PKT-C r1 denied: an agent signed, never approved
    a2: dict[str, Any]  # PKT-A r2 approved: supersedes a1 (revoked, superseded)
    hold: dict[str, Any]  # PKT-B r1 held: b1 revoked (hold)
    d1: dict[str, Any]  # PKT-D r1 approved, then its evidence changed (evidence.changed)
    d_event: dict[str, Any]
    other_lane: dict[str, Any]  # PKT-A r1 approved in the other lane


def tell(world: World) -> Story:
    trust = world.trust
    a_missing = world.evaluate(manifest(trust, revision=1, packet_id="PKT-A", signers=("owner",)))
    a_scope = world.evaluate(
        manifest(trust, revision=1, packet_id="PKT-A", mutate=_out_of_scope, signers=("owner",))
    )
    a1 = world.approve(manifest(trust, revision=1, packet_id="PKT-A"))
    b1 = world.approve(manifest(trust, revision=1, packet_id="PKT-B"))
    c_agent = world.evaluate(
        manifest(trust, revision=1, packet_id="PKT-C", signers=("owner", "comms", "agent"))
    )
    a2 = world.approve(manifest(trust, revision=2, packet_id="PKT-A"))
    hold = world.post(
        "/v1/holds", {"packet_id": "PKT-B", "revision": 1, "reason": "scope"}, role="release_owner"
    ).json()
    d1 = world.approve(
        manifest(trust, revision=1, packet_id="PKT-D", mutate=_own_timeline("INC-D"))
    )
    changed = event(digest("D, corrected"), ref="incident_timeline/INC-D")
    d_event = world.evidence(changed).json()
    other_lane = world.approve(manifest(trust, revision=1, packet_id="PKT-A", lane=OTHER_LANE))
    for denied in (a_missing, a_scope, c_agent):
        assert denied["allow"] is False
    assert hold["revoked_tokens"] == [b1["decision_id"]]
    assert d_event["revoked_tokens"] == [d1["decision_id"]]
    return Story(a_missing, a_scope, a1, b1, c_agent, a2, hold, d1, d_event, other_lane)


def _own_timeline(ref: str) -> Any:
    def mutate(document: dict[str, Any]) -> None:
        document["evidence"][0]["ref"] = f"incident_timeline/{ref}"

    return mutate


def _codes(decision: dict[str, Any]) -> set[str]:
    return {v["code"] for v in decision["violations"]}


class TestTheLaneStory:
    def test_every_figure(self, any_world: World) -> None:
        story = tell(any_world)
        # the intake lane reports back; a revoked token and the wrong lane fail verification
        token = {name: getattr(story, name)["decision_id"] for name in ("a1", "a2", "b1", "d1")}
        for body in (
            {"token_id": token["a2"], "outcome": "accepted", "findings": []},
            {"token_id": token["a1"], "outcome": "returned", "findings": ["stale_evidence"]},
            {
                "token_id": token["d1"],
                "outcome": "returned",
                "findings": ["stale_evidence", "hidden_disagreement"],
            },
            {"token_id": story.other_lane["decision_id"], "outcome": "accepted", "findings": []},
        ):
            assert any_world.outcome(body).status_code == 201
        assert any_world.verify(story.b1)["reason"] == "token.revoked"
        assert any_world.verify(story.a2, lane=OTHER_LANE)["reason"] == "token.wrong_audience"
        assert any_world.verify(story.a2)["valid"] is True

        report = any_world.report()
        denials = [story.a_missing, story.a_scope, story.c_agent]
        by_code: dict[str, int] = {}
        for denied in denials:
            for code in _codes(denied):
                by_code[code] = by_code.get(code, 0) + 1
        assert by_code["lane.action_out_of_scope"] == 1
        assert by_code["signers.agent_not_permitted"] == 1
        a_seconds = _seconds(story.a_missing, story.a1)
        assert report == {
            "lane": "exec-customer-review",
            "since": report["since"],
            "until": report["until"],
            "decisions": {"allow": 4, "deny": 3},  # a1, b1, a2, d1
            "denials_by_code": dict(sorted(by_code.items())),
            "agent_boundary": {"lane.action_out_of_scope": 1, "signers.agent_not_permitted": 1},
            "approval": {
                # A (2 denials first), B and D (at once): C was never approved
                "packets": 3,
                "median_seconds": 0.0,
                "p90_seconds": a_seconds,
                "median_denials": 0,
            },
            "intake": {
                "released": 4,
                "reported": 3,
                "accepted": 1,
                "returned": 2,
                "acceptance_rate": 1 / 3,
                "findings": {"hidden_disagreement": 1, "stale_evidence": 2},
            },
            "revocations": {"evidence.changed": 1, "hold": 1, "superseded": 1},
            "verify_failures": {"token.revoked": 1},
        }
        assert a_seconds > 0
        other = any_world.report(OTHER_LANE)
        assert other["decisions"] == {"allow": 1, "deny": 0}
        assert other["intake"]["acceptance_rate"] == 1.0
        assert other["verify_failures"] == {"token.wrong_audience": 1}
        assert other["approval"] == {
            "packets": 1,
            "median_seconds": 0.0,
            "p90_seconds": 0.0,
            "median_denials": 0,
        }

    def test_the_default_window_is_the_last_30_days(self, world: World) -> None:
        before = time.time_ns()
        report = world.report()
        until = parse_timestamp_ns(report["until"])
        assert before // 1000 * 1000 <= until <= time.time_ns()
        assert parse_timestamp_ns(report["since"]) == until - DEFAULT_WINDOW_NS
        only_since = world.report(since=report["since"])
        assert only_since["since"] == report["since"]
        only_until = world.report(until=report["until"])
        assert only_until["since"] == report["since"]

    @pytest.mark.parametrize("lane", ["exec-customer-review", "exec-board-digest"])
    def test_an_empty_lane_reports_zeros_and_nulls(self, any_world: World, lane: str) -> None:
        report = any_world.report(lane)
        assert report["decisions"] == {"allow": 0, "deny": 0}
        assert report["approval"] == NO_APPROVAL
        assert report["intake"] == EMPTY_INTAKE
        for key in ("denials_by_code", "agent_boundary", "revocations", "verify_failures"):
            assert report[key] == {}

    def test_released_but_unreported_has_no_acceptance_rate(self, world: World) -> None:
        world.approve(manifest(world.trust, revision=1))
        intake = world.report()["intake"]
        assert intake == {**EMPTY_INTAKE, "released": 1}


class TestWindowBoundaries:
    def test_decisions_since_inclusive_until_exclusive(self, any_world: World) -> None:
        first = any_world.evaluate(manifest(any_world.trust, revision=1, signers=("owner",)))
        second = any_world.approve(manifest(any_world.trust, revision=1))
        third = any_world.approve(manifest(any_world.trust, revision=2))
        window = {"since": second["evaluated_at"], "until": third["evaluated_at"]}
        report = any_world.report(**window)
        assert (report["since"], report["until"]) == (window["since"], window["until"])
        assert report["decisions"] == {"allow": 1, "deny": 0}
        assert report["intake"]["released"] == 1
        # the packet's first approval (second) is in: timed from its first decision (before)
        assert report["approval"]["packets"] == 1
        assert report["approval"]["median_seconds"] == _seconds(first, second)
        assert report["approval"]["median_denials"] == 1
        # the supersession of second's token happened at third: not in [second, third)
        assert report["revocations"] == {}
        assert any_world.report(since=third["evaluated_at"])["revocations"] == {"superseded": 1}
        # one microsecond later, second is out and so is the first approval
        later = format_ns(parse_timestamp_ns(second["evaluated_at"]) + 1000)
        shifted = any_world.report(since=later, until=window["until"])
        assert shifted["decisions"] == {"allow": 0, "deny": 0}
        assert shifted["approval"] == NO_APPROVAL
        before = any_world.report(until=second["evaluated_at"])
        assert before["decisions"] == {"allow": 0, "deny": 1}
        assert before["denials_by_code"] == {"signers.missing_role": 1}
        assert before["approval"] == NO_APPROVAL

    def test_the_window_is_echoed_as_given(self, world: World) -> None:
        decision = world.approve(manifest(world.trust, revision=1))
        at_ns = parse_timestamp_ns(decision["evaluated_at"])
        hour = 3600 * 1_000_000_000
        # the decision's instant, written in +01:00: the same instant, so it is counted
        local = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((at_ns + hour) // 10**9))
        since = f"{local}.{at_ns % 10**9 // 1000:06d}+01:00"
        report = world.report(since=since)
        assert report["since"] == since
        assert report["decisions"]["allow"] == 1

    def test_an_empty_window_counts_nothing(self, world: World) -> None:
        decision = world.approve(manifest(world.trust, revision=1))
        at = decision["evaluated_at"]
        report = world.report(since=at, until=at)
        assert report["decisions"] == {"allow": 0, "deny": 0}
        assert report["intake"] == EMPTY_INTAKE

    def test_outcomes_count_with_the_tokens_released_in_the_window(self, world: World) -> None:
        early = world.approve(manifest(world.trust, revision=1))
        late = world.approve(manifest(world.trust, revision=1, packet_id="PKT-FB-9"))
        for decision in (early, late):
            body = {"token_id": decision["decision_id"], "outcome": "accepted", "findings": []}
            assert world.outcome(body).status_code == 201
        # reported after `until`, but for a token released before it: counted
        report = world.report(until=late["evaluated_at"])
        assert report["intake"] == {
            **EMPTY_INTAKE,
            "released": 1,
            "reported": 1,
            "accepted": 1,
            "acceptance_rate": 1.0,
        }

    def test_revocations_by_when_they_happened(self, world: World) -> None:
        world.approve(manifest(world.trust, revision=1))
        hold = world.post(
            "/v1/holds",
            {"packet_id": "PKT-FB-1", "revision": 1, "reason": "r"},
            role="release_owner",
        )
        assert hold.status_code == 201
        revoked_at = next(iter(_revoked_at(world).values()))
        assert world.report(since=revoked_at)["revocations"] == {"hold": 1}
        assert world.report(until=revoked_at)["revocations"] == {}

    def test_verify_failures_by_when_they_happened(self, world: World) -> None:
        decision = world.approve(manifest(world.trust, revision=1))
        world.verify(decision, lane=OTHER_LANE)
        at = format_ns(time.time_ns())
        world.verify(decision, lane=OTHER_LANE)
        assert world.report(OTHER_LANE, until=at)["verify_failures"] == {"token.wrong_audience": 1}
        assert world.report(OTHER_LANE, since=at)["verify_failures"] == {"token.wrong_audience": 1}
        assert world.report(OTHER_LANE)["verify_failures"] == {"token.wrong_audience": 2}


def _revoked_at(world: World) -> dict[str, str]:
    """When each token was revoked, as the signed revocation list says (once it verifies)."""
    text = world.get("/v1/revocations", role="verifier").text.strip()
    RevocationList.from_jws(text, keys=world.runtime.verification_keys(), issuer="release-gate")
    payload = text.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {entry["jti"]: entry["revoked_at"] for entry in claims["revoked"]}


class TestRefusals:
    def test_an_unknown_lane_is_a_404(self, any_world: World) -> None:
        response = any_world.get("/v1/reports/lanes/no-such-lane")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "no-such-lane" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("role", "status"),
        [(None, 401), ("evaluator", 403), ("intake", 403), ("release_owner", 403)],
    )
    def test_only_auditors_read_reports(self, world: World, role: str | None, status: int) -> None:
        response = world.get("/v1/reports/lanes/exec-customer-review", role=role)
        assert response.status_code == status

    @pytest.mark.parametrize(
        ("params", "named"),
        [
            ({"since": "yesterday"}, "since"),
            ({"until": "2026-11-26 09:00:00"}, "until"),
            ({"since": "2026-11-27T00:00:00Z", "until": "2026-11-26T00:00:00Z"}, "since"),
        ],
    )
    def test_a_bad_window_is_a_400_naming_it(
        self, world: World, params: dict[str, str], named: str
    ) -> None:
        response = world.get("/v1/reports/lanes/exec-customer-review", **params)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"].startswith(named)


class TestPercentiles:
    @pytest.mark.parametrize(
        ("values", "share", "expected"),
        [
            ([5.0], 0.9, 5.0),
            ([1.0, 2.0], 0.9, 2.0),
            ([1.0, 2.0], 0.5, 1.0),
            ([float(v) for v in range(1, 11)], 0.9, 9.0),
            ([float(v) for v in range(1, 12)], 0.9, 10.0),
            ([3.0, 1.0, 2.0], 0.9, 3.0),
        ],
    )
    def test_nearest_rank(self, values: list[float], share: float, expected: float) -> None:
        assert nearest_rank(values, share) == expected

    def test_median_of_an_even_count_is_the_mean_of_the_middle_two(self, world: World) -> None:
        first = world.approve(manifest(world.trust, revision=1, packet_id="PKT-E1"))
        world.evaluate(manifest(world.trust, revision=1, packet_id="PKT-E2", signers=("owner",)))
        world.evaluate(manifest(world.trust, revision=1, packet_id="PKT-E2", signers=("owner",)))
        world.evaluate(manifest(world.trust, revision=1, packet_id="PKT-E2", signers=("owner",)))
        world.approve(manifest(world.trust, revision=1, packet_id="PKT-E2"))
        approval = world.report(since=first["evaluated_at"])["approval"]
        assert approval["packets"] == 2
        assert approval["median_denials"] == 1.5


def test_evidence_events_revoke_in_the_lane_they_were_released(world: World) -> None:
    """An evidence change revokes in every lane; each lane's report counts its own."""
    world.approve(manifest(world.trust, revision=1))
    world.approve(manifest(world.trust, revision=1, lane=OTHER_LANE))
    changed = world.evidence(event(digest("new"), observed_at=ago(seconds=30))).json()
    assert len(changed["revoked_tokens"]) == 2
    assert world.report()["revocations"] == {"evidence.changed": 1}
    assert world.report(OTHER_LANE)["revocations"] == {"evidence.changed": 1}
