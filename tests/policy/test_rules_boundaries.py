"""The real policies on regorus: lane scoping, evidence boundaries, everything reported."""

from __future__ import annotations

import copy

import pytest

from ._rego_support import (
    ACCOUNT_REVIEW_MAX_NS,
    AGENT_CS,
    CLAMP_NS,
    COMMS,
    FUTURE_TOLERANCE_NS,
    NS,
    OWNER,
    TIMELINE_MAX_NS,
    Gate,
    evidence,
    found,
    set_at,
    valid_input,
    with_signatures,
)


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate()


class TestLane:
    def test_unknown_lane_skips_lane_rules_but_others_still_report(self, gate: Gate) -> None:
        doc = set_at("/manifest/lane", "customer-broadcast")(valid_input())
        doc = with_signatures(doc, OWNER, COMMS, statuses=["verified", "invalid"])
        doc["manifest"]["audience"] = ["affected-customers"]
        doc["facts"]["evidence"][0]["age_ns"] = CLAMP_NS
        doc["facts"]["evidence"][1]["age_ns"] = -CLAMP_NS
        assert found(gate.decide(doc)) == {
            ("lane.unknown", "/lane"),
            ("signature.invalid", "/signatures/1"),
            ("evidence.future_timestamp", "/evidence/1"),
        }


class TestEvidenceBoundaries:
    @pytest.mark.parametrize(
        ("age_ns", "stale"),
        [
            (TIMELINE_MAX_NS - 1, False),
            (TIMELINE_MAX_NS, False),
            (TIMELINE_MAX_NS + 1, True),
            (CLAMP_NS, True),
        ],
    )
    def test_stale_only_beyond_the_exact_maximum(
        self, gate: Gate, age_ns: int, stale: bool
    ) -> None:
        doc = set_at("/facts/evidence/0/age_ns", age_ns)(valid_input())
        expected = {("evidence.stale", "/evidence/0")} if stale else set()
        assert found(gate.decide(doc)) == expected

    @pytest.mark.parametrize(
        ("age_ns", "future"),
        [
            (0, False),
            (-FUTURE_TOLERANCE_NS, False),
            (-FUTURE_TOLERANCE_NS - 1, True),
            (-CLAMP_NS, True),
        ],
    )
    def test_future_only_beyond_the_tolerance(self, gate: Gate, age_ns: int, future: bool) -> None:
        doc = set_at("/facts/evidence/0/age_ns", age_ns)(valid_input())
        expected = {("evidence.future_timestamp", "/evidence/0")} if future else set()
        assert found(gate.decide(doc)) == expected

    def test_clamped_age_is_compared_exactly_and_rendered_in_days(self, gate: Gate) -> None:
        max_ns = 3_999_999_999 * NS
        governance = copy.deepcopy(gate.governance)
        governance["lanes"]["exec-customer-review"]["max_evidence_age_seconds"][
            "incident_timeline"
        ] = 3_999_999_999
        local = Gate(governance)
        fresh = set_at("/facts/evidence/0/age_ns", max_ns)(valid_input())
        assert local.decide(fresh)["allow"] is True
        stale = local.decide(set_at("/facts/evidence/0/age_ns", max_ns + 1)(valid_input()))
        assert found(stale) == {("evidence.stale", "/evidence/0")}
        assert stale["violations"][0]["message"] == (
            "evidence EV-1 from incident_timeline is 46296d 7h old, over the 46296d 7h maximum"
        )

    def test_optional_source_with_a_maximum_age_is_accepted(self, gate: Gate) -> None:
        doc = valid_input()
        doc["manifest"]["evidence"].append(evidence("EV-5", "account_review"))
        doc["facts"]["evidence"].append({"age_ns": ACCOUNT_REVIEW_MAX_NS})
        assert gate.decide(doc)["allow"] is True


class TestReportsEverything:
    def test_several_violations_are_all_reported_together(self, gate: Gate) -> None:
        doc = with_signatures(valid_input(), OWNER, AGENT_CS, statuses=["invalid", "verified"])
        doc["manifest"]["requested_actions"] = ["send_customer_notice"]
        doc["manifest"]["objections"][0]["residual_acceptance"] = None
        doc["manifest"]["evidence"][3]["source"] = "social_media"
        doc["facts"]["evidence"][0]["age_ns"] = CLAMP_NS
        assert found(gate.decide(doc)) == {
            ("signature.invalid", "/signatures/0"),
            ("signers.missing_role", "/signatures"),
            ("signers.release_owner_missing", "/release_owner"),
            ("signers.agent_not_permitted", "/signatures/1"),
            ("lane.action_out_of_scope", "/requested_actions/0"),
            ("objections.unaccepted", "/objections/0"),
            ("evidence.missing_source", "/evidence"),
            ("evidence.unknown_source", "/evidence/3"),
            ("evidence.stale", "/evidence/0"),
        }
