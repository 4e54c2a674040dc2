"""``/metrics`` for issue 10: evidence events, revocations by reason, intake outcomes and
findings, failed verifications; every label value from a fixed set."""

from __future__ import annotations

import re

from tests.feedback._world import OTHER_LANE, World, digest, event, manifest


def _metrics(world: World) -> dict[str, float]:
    text = world.client.get("/metrics").text
    found = re.findall(r"^(release_gate_\w+_total\{[^}]*\}) (\S+)$", text, flags=re.MULTILINE)
    return {series: float(value) for series, value in found}


class TestCounters:
    def test_evidence_events_by_source_and_result(self, world: World) -> None:
        world.evidence(event(digest("one")))
        world.evidence(event(digest("one")))  # repeat
        world.evidence(event(digest("two"), material=False))
        world.evidence(event(digest("three"), source="hallway_chat"))
        metrics = _metrics(world)
        series = "release_gate_evidence_events_total"
        assert metrics[f'{series}{{result="newest",source="incident_timeline"}}'] == 1
        assert metrics[f'{series}{{result="repeat",source="incident_timeline"}}'] == 1
        assert metrics[f'{series}{{result="recorded",source="incident_timeline"}}'] == 1
        assert metrics[f'{series}{{result="newest",source="other"}}'] == 1
        assert not any("hallway_chat" in name for name in metrics)

    def test_revocations_by_reason_wherever_they_happen(self, world: World) -> None:
        before = _metrics(world)
        assert before['release_gate_revocations_total{reason="superseded"}'] == 0
        world.approve(manifest(world.trust, revision=1))
        world.approve(manifest(world.trust, revision=2))  # revokes revision 1: superseded
        hold = {"packet_id": "PKT-FB-1", "revision": 2, "reason": "scope"}
        assert world.post("/v1/holds", hold, role="release_owner").status_code == 201
        world.approve(manifest(world.trust, revision=1, packet_id="PKT-FB-2"))
        world.evidence(event(digest("corrected")))  # revokes PKT-FB-2: evidence.changed
        metrics = _metrics(world)
        for reason in ("superseded", "hold", "evidence.changed"):
            assert metrics[f'release_gate_revocations_total{{reason="{reason}"}}'] == 1
        assert metrics['release_gate_revocations_total{reason="policy.changed"}'] == 0

    def test_intake_outcomes_and_findings(self, world: World) -> None:
        accepted = world.approve(manifest(world.trust, revision=1))
        returned = world.approve(manifest(world.trust, revision=1, lane=OTHER_LANE))
        for body in (
            {"token_id": accepted["decision_id"], "outcome": "accepted", "findings": []},
            {"token_id": accepted["decision_id"], "outcome": "accepted", "findings": []},
            {
                "token_id": returned["decision_id"],
                "outcome": "returned",
                "findings": ["wrong_audience", "other"],
            },
        ):
            world.outcome(body)
        metrics = _metrics(world)
        outcomes = "release_gate_intake_outcomes_total"
        findings = "release_gate_intake_findings_total"
        assert metrics[f'{outcomes}{{lane="exec-customer-review",outcome="accepted"}}'] == 1
        assert metrics[f'{outcomes}{{lane="exec-board-digest",outcome="returned"}}'] == 1
        assert metrics[f'{findings}{{finding="wrong_audience",lane="exec-board-digest"}}'] == 1
        assert metrics[f'{findings}{{finding="other",lane="exec-board-digest"}}'] == 1

    def test_verify_failures_by_lane_and_reason(self, world: World) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        world.verify(approved, lane=OTHER_LANE)
        world.verify(approved, lane="x" * 100)
        world.verify(approved)
        metrics = _metrics(world)
        series = "release_gate_verify_failures_total"
        assert metrics[f'{series}{{lane="exec-board-digest",reason="token.wrong_audience"}}'] == 1
        assert metrics[f'{series}{{lane="other",reason="token.wrong_audience"}}'] == 1
        assert sum(v for k, v in metrics.items() if k.startswith(series)) == 2
