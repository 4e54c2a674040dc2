"""The real policies on regorus: every contract code at its path, signatures and signers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.governance import governance_data

from ._rego_support import (
    AGENT,
    AGENT_CS,
    COMMS,
    CS,
    FUTURE_TOLERANCE_NS,
    INVALID_LAST,
    OWNER,
    PRIYA_AS_COMMS,
    TIMELINE_MAX_NS,
    TOMAS_COMMS,
    TOMAS_CS,
    Gate,
    Input,
    acceptance_by,
    found,
    set_at,
    valid_input,
    with_signatures,
)


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate()


class TestAllow:
    def test_valid_input_is_allowed_without_violations(self, gate: Gate) -> None:
        decision = gate.decide(valid_input())
        assert set(decision) == {"allow", "violations", "warnings"}
        assert decision["allow"] is True
        assert decision["violations"] == []
        assert isinstance(decision["warnings"], list)  # warn rules may say something

    def test_allow_is_a_json_boolean(self, gate: Gate) -> None:
        assert gate.decide(valid_input())["allow"] is True
        doc = valid_input()
        doc["manifest"]["lane"] = "nope"
        assert gate.decide(doc)["allow"] is False


CASES: dict[str, tuple[Callable[[Input], Input], set[tuple[str, str]]]] = {
    "signature.unknown_key": (
        set_at("/facts/signatures/1", {"status": "unknown_key"}),
        {("signature.unknown_key", "/signatures/1"), ("signers.missing_role", "/signatures")},
    ),
    "signature.invalid": (
        lambda d: with_signatures(d, OWNER, COMMS, CS, TOMAS_CS, statuses=INVALID_LAST),
        {("signature.invalid", "/signatures/3")},
    ),
    "signature.role_not_held": (
        lambda d: with_signatures(d, OWNER, COMMS, CS, PRIYA_AS_COMMS),
        {("signature.role_not_held", "/signatures/3")},
    ),
    "signers.missing_role": (
        lambda d: with_signatures(d, OWNER, COMMS),
        {("signers.missing_role", "/signatures")},
    ),
    "signers.not_distinct": (
        lambda d: with_signatures(d, OWNER, TOMAS_COMMS, TOMAS_CS),
        {("signers.not_distinct", "/signatures")},
    ),
    "signers.release_owner_missing": (
        set_at("/manifest/release_owner", COMMS[0]),
        {
            ("signers.release_owner_missing", "/release_owner"),
            ("objections.accepted_by_non_owner", "/objections/0"),
        },
    ),
    "signers.agent_not_permitted": (
        lambda d: with_signatures(d, OWNER, COMMS, CS, AGENT_CS),
        {("signers.agent_not_permitted", "/signatures/3")},
    ),
    "lane.unknown": (set_at("/manifest/lane", "customer-broadcast"), {("lane.unknown", "/lane")}),
    "lane.audience_out_of_scope": (
        set_at("/manifest/audience/1", "affected-customers"),
        {("lane.audience_out_of_scope", "/audience/1")},
    ),
    "lane.action_out_of_scope": (
        set_at("/manifest/requested_actions/0", "issue_service_credit"),
        {("lane.action_out_of_scope", "/requested_actions/0")},
    ),
    "objections.unaccepted": (
        set_at("/manifest/objections/0/residual_acceptance", None),
        {("objections.unaccepted", "/objections/0")},
    ),
    "objections.accepted_by_non_owner": (
        acceptance_by(COMMS[0]),
        {("objections.accepted_by_non_owner", "/objections/0")},
    ),
    "evidence.missing_source": (
        lambda d: set_at("/manifest/evidence", d["manifest"]["evidence"][:3])(d),
        {("evidence.missing_source", "/evidence")},
    ),
    "evidence.unknown_source": (
        set_at("/manifest/evidence/2/source", "social_media"),
        {("evidence.unknown_source", "/evidence/2"), ("evidence.missing_source", "/evidence")},
    ),
    "evidence.stale": (
        set_at("/facts/evidence/0/age_ns", TIMELINE_MAX_NS + 1),
        {("evidence.stale", "/evidence/0")},
    ),
    "evidence.future_timestamp": (
        set_at("/facts/evidence/3/age_ns", -FUTURE_TOLERANCE_NS - 1),
        {("evidence.future_timestamp", "/evidence/3")},
    ),
}


class TestEveryCode:
    @pytest.mark.parametrize("code", sorted(CASES))
    def test_code_is_reported_at_its_path(self, gate: Gate, code: str) -> None:
        change, expected = CASES[code]
        decision = gate.decide(change(valid_input()))
        assert decision["allow"] is False
        assert found(decision) == expected

    def test_every_contract_code_has_a_case(self) -> None:
        assert len(CASES) == 16


class TestSignatures:
    @pytest.mark.parametrize(
        ("status", "code"),
        [("unknown_key", "signature.unknown_key"), ("invalid", "signature.invalid")],
    )
    def test_each_signature_gets_at_most_one_code(self, gate: Gate, status: str, code: str) -> None:
        wrong_role = (CS[0], "support_release_owner", CS[2])  # also a role not held
        doc = with_signatures(valid_input(), OWNER, COMMS, CS, wrong_role)
        doc["facts"]["signatures"][3] = {"status": status}
        assert found(gate.decide(doc)) == {(code, "/signatures/3")}

    def test_missing_fact_fails_closed_as_unknown_key(self, gate: Gate) -> None:
        doc = valid_input()
        doc["facts"]["signatures"] = doc["facts"]["signatures"][:2]
        assert ("signature.unknown_key", "/signatures/2") in found(gate.decide(doc))

    def test_signer_without_kind_counts_as_human(self, gate: Gate) -> None:
        assert "kind" not in gate.governance["signers"][TOMAS_CS[0]]
        doc = with_signatures(valid_input(), OWNER, COMMS, TOMAS_CS)
        assert gate.decide(doc)["allow"] is True


class TestSigners:
    def test_agent_signature_does_not_fill_a_required_role(self, gate: Gate) -> None:
        doc = with_signatures(valid_input(), OWNER, COMMS, AGENT_CS)
        assert found(gate.decide(doc)) == {
            ("signers.missing_role", "/signatures"),
            ("signers.agent_not_permitted", "/signatures/2"),
        }

    def test_agent_release_owner_is_not_permitted(self, gate: Gate) -> None:
        doc = set_at("/manifest/release_owner", AGENT)(valid_input())
        assert ("signers.agent_not_permitted", "/release_owner") in found(gate.decide(doc))

    def test_agent_residual_acceptance_is_not_permitted(self, gate: Gate) -> None:
        decision = gate.decide(acceptance_by(AGENT)(valid_input()))
        assert found(decision) == {
            ("signers.agent_not_permitted", "/objections/0/residual_acceptance/accepted_by"),
            ("objections.accepted_by_non_owner", "/objections/0"),
        }

    def test_distinct_signers_off_allows_one_person_for_two_roles(self) -> None:
        governance = governance_data()
        governance["lanes"]["exec-customer-review"]["distinct_signers"] = False
        doc = with_signatures(valid_input(), OWNER, TOMAS_COMMS, TOMAS_CS)
        assert Gate(governance).decide(doc)["allow"] is True

    def test_release_owner_role_comes_from_governance(self) -> None:
        governance = governance_data()
        governance["release_owner_role"] = "incident_communications_manager"
        decision = Gate(governance).decide(valid_input())
        assert found(decision) == {("signers.release_owner_missing", "/release_owner")}
        assert "incident_communications_manager" in decision["violations"][0]["message"]
