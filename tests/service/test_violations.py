"""Contract section 3 over HTTP: every violation code, with its exact path."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.governance import FUTURE_TOLERANCE_SECONDS, MAX_EVIDENCE_AGE_SECONDS
from tests.helpers import AGENT, COMMS, CS, OWNER
from tests.service._support import (
    MARCUS_REVOKED,
    TOMAS_COMMS,
    TOMAS_CS,
    Build,
    at,
    evaluate,
    found,
)

TIMELINE_MAX = MAX_EVIDENCE_AGE_SECONDS["incident_timeline"]  # evidence[0] of the base manifest
AHEAD = FUTURE_TOLERANCE_SECONDS


def _with_extra_signature(manifest: dict[str, Any], signature: dict[str, Any]) -> dict[str, Any]:
    return {**manifest, "signatures": [*manifest["signatures"], signature]}


class TestApproval:
    def test_signed_manifest_within_lane_is_allowed_with_token(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build())
        assert decision["allow"] is True
        assert decision["violations"] == []
        assert isinstance(decision["token"], str)


class TestSignatureCodes:
    def test_unknown_subject_is_unknown_key(self, client: TestClient, build: Build) -> None:
        stranger = ("eve@example.com", "customer_success_reviewer", "eve-1", "priya-raman")
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, stranger)))
        assert found(decision) == [("signature.unknown_key", "/signatures/3")]
        assert decision["allow"] is False

    def test_unknown_key_id_is_unknown_key(self, client: TestClient, build: Build) -> None:
        wrong_id = (CS[0], CS[1], "priya-2099-01", CS[3])
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, wrong_id)))
        assert found(decision) == [("signature.unknown_key", "/signatures/3")]

    def test_revoked_key_is_unknown_key(self, client: TestClient, build: Build) -> None:
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, MARCUS_REVOKED)))
        assert found(decision) == [("signature.unknown_key", "/signatures/3")]

    def test_key_id_of_another_subject_is_unknown_key(
        self, client: TestClient, build: Build
    ) -> None:
        borrowed = (OWNER[0], OWNER[1], CS[2], OWNER[3])  # dana under priya's key id
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, borrowed)))
        assert found(decision) == [("signature.unknown_key", "/signatures/3")]

    def test_unknown_key_wins_over_a_signature_that_would_not_verify(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        bogus = {**manifest["signatures"][0], "key_id": "dana-2099-01", "signature": "A" * 86}
        decision = evaluate(client, _with_extra_signature(manifest, bogus))
        assert found(decision) == [("signature.unknown_key", "/signatures/3")]

    def test_signature_over_another_manifest_is_invalid(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        other = build(lambda m: m.update(manifest_id="rm-other"))
        decision = evaluate(client, _with_extra_signature(manifest, other["signatures"][2]))
        assert found(decision) == [("signature.invalid", "/signatures/3")]

    def test_signature_made_with_another_key_is_invalid(
        self, client: TestClient, build: Build
    ) -> None:
        impostor = (CS[0], CS[1], CS[2], "dana-whitfield")  # priya's key id, dana's key
        decision = evaluate(client, build(signers=(OWNER, COMMS, impostor)))
        assert ("signature.invalid", "/signatures/2") in found(decision)
        assert [c for c, _ in found(decision)].count("signature.invalid") == 1

    def test_verified_signature_for_a_role_not_held_is_role_not_held(
        self, client: TestClient, build: Build
    ) -> None:
        priya_as_comms = (CS[0], COMMS[1], CS[2], CS[3])
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, priya_as_comms)))
        assert found(decision) == [("signature.role_not_held", "/signatures/3")]

    def test_invalid_wins_over_role_not_held(self, client: TestClient, build: Build) -> None:
        # priya's key id and a role she does not hold, signed with dana's key
        forged = (CS[0], COMMS[1], CS[2], "dana-whitfield")
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, forged)))
        assert found(decision) == [("signature.invalid", "/signatures/3")]

    def test_unneeded_bad_signature_still_denies(self, client: TestClient, build: Build) -> None:
        manifest = build()
        broken = {**manifest["signatures"][1], "signature": manifest["signatures"][0]["signature"]}
        decision = evaluate(client, _with_extra_signature(manifest, broken))
        assert decision["allow"] is False
        assert decision["token"] is None
        assert found(decision) == [("signature.invalid", "/signatures/3")]

    def test_each_signature_gets_at_most_one_code(self, client: TestClient, build: Build) -> None:
        stranger = ("eve@example.com", "support_release_owner", "eve-1", "dana-whitfield")
        revoked_as_owner = (MARCUS_REVOKED[0], OWNER[1], MARCUS_REVOKED[2], MARCUS_REVOKED[3])
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, stranger, revoked_as_owner)))
        paths = [p for c, p in found(decision) if c.startswith("signature.")]
        assert paths == ["/signatures/3", "/signatures/4"]


class TestSignerRules:
    def test_missing_required_role_is_reported_at_signatures(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(signers=(OWNER, COMMS)))
        assert found(decision) == [("signers.missing_role", "/signatures")]
        assert "customer_success_reviewer" in decision["violations"][0]["message"]

    def test_each_missing_role_is_its_own_violation(self, client: TestClient, build: Build) -> None:
        decision = evaluate(client, build(signers=(OWNER,)))
        assert found(decision) == [("signers.missing_role", "/signatures")] * 2

    def test_the_same_signer_twice_for_one_role_is_allowed(
        self, client: TestClient, build: Build
    ) -> None:
        assert evaluate(client, build(signers=(OWNER, OWNER, COMMS, CS)))["allow"] is True

    def test_one_subject_covering_two_required_roles_is_not_distinct(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(signers=(OWNER, TOMAS_COMMS, TOMAS_CS)))
        assert found(decision) == [("signers.not_distinct", "/signatures")]

    def test_distinct_signers_with_an_extra_valid_role_holder_are_allowed(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, TOMAS_CS)))
        assert decision["allow"] is True

    def test_release_owner_without_owner_signature_is_missing(
        self, client: TestClient, build: Build
    ) -> None:
        def owner_is_priya(m: dict[str, Any]) -> None:
            m["release_owner"] = CS[0]
            m["objections"][0]["residual_acceptance"]["accepted_by"] = CS[0]

        decision = evaluate(client, build(owner_is_priya))
        assert found(decision) == [("signers.release_owner_missing", "/release_owner")]


class TestAgentRules:
    def test_agent_signing_a_required_role_is_not_permitted(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(signers=(OWNER, COMMS, AGENT)))
        assert found(decision) == [
            ("signers.agent_not_permitted", "/signatures/2"),
            ("signers.missing_role", "/signatures"),
        ]

    def test_agent_signature_next_to_the_humans_still_denies(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(signers=(OWNER, COMMS, CS, AGENT)))
        assert found(decision) == [("signers.agent_not_permitted", "/signatures/3")]

    def test_agent_as_release_owner_is_not_permitted(
        self, client: TestClient, build: Build
    ) -> None:
        def agent_owner(m: dict[str, Any]) -> None:
            m["release_owner"] = AGENT[0]
            m["objections"][0]["residual_acceptance"]["accepted_by"] = AGENT[0]

        decision = evaluate(client, build(agent_owner))
        assert found(decision) == [
            ("signers.agent_not_permitted", "/objections/0/residual_acceptance/accepted_by"),
            ("signers.agent_not_permitted", "/release_owner"),
            ("signers.release_owner_missing", "/release_owner"),
        ]

    def test_agent_accepting_an_objection_is_not_permitted(
        self, client: TestClient, build: Build
    ) -> None:
        def agent_accepts(m: dict[str, Any]) -> None:
            m["objections"][0]["residual_acceptance"]["accepted_by"] = AGENT[0]

        decision = evaluate(client, build(agent_accepts))
        assert found(decision) == [
            ("objections.accepted_by_non_owner", "/objections/0"),
            ("signers.agent_not_permitted", "/objections/0/residual_acceptance/accepted_by"),
        ]


class TestLaneRules:
    def test_unknown_lane_skips_lane_rules_but_reports_the_others(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def off_lane(m: dict[str, Any]) -> None:
            m["lane"] = "no-such-lane"
            m["audience"] = ["customer:acme-corp"]
            m["requested_actions"] = ["approve_service_credit"]
            m["objections"][0]["residual_acceptance"] = None
            m["evidence"][0]["observed_at"] = at(now, hours=1)
            m["evidence"][1]["source"] = "made_up_source"

        decision = evaluate(client, build(off_lane, signers=(OWNER, COMMS, CS, MARCUS_REVOKED)))
        assert found(decision) == [
            ("evidence.future_timestamp", "/evidence/0"),
            ("lane.unknown", "/lane"),
            ("objections.unaccepted", "/objections/0"),
            ("signature.unknown_key", "/signatures/3"),
        ]

    def test_unknown_lane_still_reports_agent_owner_and_acceptance(
        self, client: TestClient, build: Build
    ) -> None:
        def agent_off_lane(m: dict[str, Any]) -> None:
            m["lane"] = "no-such-lane"
            m["release_owner"] = AGENT[0]
            m["objections"][0]["residual_acceptance"]["accepted_by"] = AGENT[0]

        decision = evaluate(client, build(agent_off_lane))
        assert found(decision) == [
            ("lane.unknown", "/lane"),
            ("signers.agent_not_permitted", "/objections/0/residual_acceptance/accepted_by"),
            ("signers.agent_not_permitted", "/release_owner"),
            ("signers.release_owner_missing", "/release_owner"),
        ]

    def test_unknown_lane_alone_denies(self, client: TestClient, build: Build) -> None:
        decision = evaluate(client, build(lambda m: m.update(lane="no-such-lane")))
        assert found(decision) == [("lane.unknown", "/lane")]
        assert decision["lane"] == "no-such-lane"

    def test_audience_outside_the_lane_is_out_of_scope(
        self, client: TestClient, build: Build
    ) -> None:
        def widen(m: dict[str, Any]) -> None:
            m["audience"] = ["exec-review-board", "customer:acme-corp", "support-leadership"]

        decision = evaluate(client, build(widen))
        assert found(decision) == [("lane.audience_out_of_scope", "/audience/1")]

    def test_action_outside_the_lane_is_out_of_scope(
        self, client: TestClient, build: Build
    ) -> None:
        def widen(m: dict[str, Any]) -> None:
            m["requested_actions"] = [
                "send_customer_notice",
                "route_for_executive_review",
                "approve_service_credit",
            ]

        decision = evaluate(client, build(widen))
        assert found(decision) == [
            ("lane.action_out_of_scope", "/requested_actions/0"),
            ("lane.action_out_of_scope", "/requested_actions/2"),
        ]


class TestObjectionRules:
    def test_open_objection_without_acceptance_is_unaccepted(
        self, client: TestClient, build: Build
    ) -> None:
        def drop(m: dict[str, Any]) -> None:
            m["objections"][0]["residual_acceptance"] = None

        decision = evaluate(client, build(drop))
        assert found(decision) == [("objections.unaccepted", "/objections/0")]

    def test_acceptance_by_someone_other_than_the_owner_is_reported(
        self, client: TestClient, build: Build
    ) -> None:
        def comms_accepts(m: dict[str, Any]) -> None:
            m["objections"][0]["residual_acceptance"]["accepted_by"] = COMMS[0]

        decision = evaluate(client, build(comms_accepts))
        assert found(decision) == [("objections.accepted_by_non_owner", "/objections/0")]

    def test_resolved_objections_need_no_acceptance(self, client: TestClient, build: Build) -> None:
        def resolve(m: dict[str, Any]) -> None:
            m["objections"][0]["status"] = "resolved"
            m["objections"][0]["residual_acceptance"] = None

        assert evaluate(client, build(resolve))["allow"] is True


class TestEvidenceRules:
    @pytest.mark.parametrize(
        ("seconds_ago", "codes"),
        [
            (TIMELINE_MAX, []),
            (TIMELINE_MAX + 1, [("evidence.stale", "/evidence/0")]),
            (-AHEAD, []),
            (-AHEAD - 1, [("evidence.future_timestamp", "/evidence/0")]),
        ],
        ids=["exactly-max-age-fresh", "one-second-over-stale", "60s-ahead-ok", "61s-ahead"],
    )
    def test_age_boundaries(
        self,
        client: TestClient,
        build: Build,
        now: dt.datetime,
        seconds_ago: int,
        codes: list[tuple[str, str]],
    ) -> None:
        def observed(m: dict[str, Any]) -> None:
            m["evidence"][0]["observed_at"] = at(now, seconds=-seconds_ago)  # incident_timeline

        assert found(evaluate(client, build(observed))) == codes

    @pytest.mark.parametrize(
        ("offset", "codes"),
        [
            (dt.timedelta(0), []),
            (dt.timedelta(seconds=-1), [("evidence.stale", "/evidence/0")]),
        ],
        ids=["max-age-fresh", "one-second-over-stale"],
    )
    @pytest.mark.parametrize("zone", ["+05:30", "-08:00", "-00:00", "+23:59"])
    def test_offsets_compare_as_instants(
        self,
        client: TestClient,
        build: Build,
        now: dt.datetime,
        zone: str,
        offset: dt.timedelta,
        codes: list[tuple[str, str]],
    ) -> None:
        sign_, hours, minutes = zone[0], int(zone[1:3]), int(zone[4:6])
        shift = dt.timedelta(hours=hours, minutes=minutes) * (-1 if sign_ == "-" else 1)
        local = now - dt.timedelta(seconds=TIMELINE_MAX) + offset + shift
        text = local.strftime("%Y-%m-%dT%H:%M:%S") + zone

        def observed(m: dict[str, Any]) -> None:
            m["evidence"][0]["observed_at"] = text

        assert found(evaluate(client, build(observed))) == codes

    def test_fraction_of_a_second_over_the_max_age_is_stale(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def observed(m: dict[str, Any]) -> None:
            # TIMELINE_MAX + 0.000000001 s old
            m["evidence"][0]["observed_at"] = (
                at(now, seconds=-(TIMELINE_MAX + 1))[:-1] + ".999999999Z"
            )

        assert found(evaluate(client, build(observed))) == [("evidence.stale", "/evidence/0")]

    def test_missing_required_source_is_reported_at_evidence(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(lambda m: m["evidence"].pop(1)))
        assert found(decision) == [("evidence.missing_source", "/evidence")]
        assert "case_management" in decision["violations"][0]["message"]

    def test_source_without_max_age_is_unknown(self, client: TestClient, build: Build) -> None:
        def extra(m: dict[str, Any]) -> None:
            m["evidence"].append({**m["evidence"][0], "id": "EV-X", "source": "hearsay"})

        decision = evaluate(client, build(extra))
        assert found(decision) == [("evidence.unknown_source", "/evidence/4")]

    def test_optional_source_with_max_age_is_accepted(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def extra(m: dict[str, Any]) -> None:
            m["evidence"].append({**m["evidence"][0], "id": "EV-X", "source": "account_review"})

        assert evaluate(client, build(extra))["allow"] is True

    def test_future_evidence_from_an_unknown_source_reports_both(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def extra(m: dict[str, Any]) -> None:
            m["evidence"].append(
                {
                    **m["evidence"][0],
                    "id": "EV-X",
                    "source": "hearsay",
                    "observed_at": at(now, hours=2),
                }
            )

        assert found(evaluate(client, build(extra))) == [
            ("evidence.future_timestamp", "/evidence/4"),
            ("evidence.unknown_source", "/evidence/4"),
        ]

    def test_optional_source_older_than_its_max_age_is_stale(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def extra(m: dict[str, Any]) -> None:
            old = at(now, seconds=-(MAX_EVIDENCE_AGE_SECONDS["account_review"] + 1))
            m["evidence"].append(
                {**m["evidence"][0], "id": "EV-X", "source": "account_review", "observed_at": old}
            )

        assert found(evaluate(client, build(extra))) == [("evidence.stale", "/evidence/4")]

    def test_required_source_present_only_as_stale_item_is_not_missing(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def old(m: dict[str, Any]) -> None:
            m["evidence"][1]["observed_at"] = at(now, days=-30)

        assert found(evaluate(client, build(old))) == [("evidence.stale", "/evidence/1")]

    def test_future_evidence_is_not_also_stale(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def observed(m: dict[str, Any]) -> None:
            m["evidence"][2]["observed_at"] = at(now, days=400)

        assert found(evaluate(client, build(observed))) == [
            ("evidence.future_timestamp", "/evidence/2")
        ]


class TestViolationReporting:
    def test_every_violation_is_reported_sorted_by_code_then_path(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def everything(m: dict[str, Any]) -> None:
            m["audience"].append("customer:acme-corp")
            m["requested_actions"].append("send_customer_notice")
            m["objections"][0]["residual_acceptance"] = None
            m["evidence"][0]["observed_at"] = at(now, days=-2)
            m["evidence"][1]["source"] = "hearsay"

        decision = evaluate(client, build(everything, signers=(OWNER, MARCUS_REVOKED, AGENT)))
        assert found(decision) == [
            ("evidence.missing_source", "/evidence"),
            ("evidence.stale", "/evidence/0"),
            ("evidence.unknown_source", "/evidence/1"),
            ("lane.action_out_of_scope", "/requested_actions/1"),
            ("lane.audience_out_of_scope", "/audience/1"),
            ("objections.unaccepted", "/objections/0"),
            ("signature.unknown_key", "/signatures/1"),
            ("signers.agent_not_permitted", "/signatures/2"),
            ("signers.missing_role", "/signatures"),
            ("signers.missing_role", "/signatures"),
        ]

    def test_paths_sort_as_strings_not_numbers(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def many(m: dict[str, Any]) -> None:
            for i in range(4, 12):
                m["evidence"].append(
                    {**m["evidence"][0], "id": f"EV-extra-{i}", "source": "account_review"}
                )
            m["evidence"][2]["source"] = "hearsay"
            m["evidence"][10]["source"] = "hearsay"

        decision = evaluate(client, build(many))
        unknown = [p for c, p in found(decision) if c == "evidence.unknown_source"]
        assert unknown == ["/evidence/10", "/evidence/2"]

    def test_violations_are_sorted_by_code_path_then_message(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(signers=(OWNER,)))
        keys = [(v["code"], v["path"], v["message"]) for v in decision["violations"]]
        assert keys == sorted(keys)
        assert len({m for _, _, m in keys}) == 2

    def test_decision_echoes_packet_lane_and_policy(self, client: TestClient, build: Build) -> None:
        manifest = build(signers=(OWNER,))
        decision = evaluate(client, manifest)
        policy = client.get("/v1/policy").json()
        assert decision["packet"] == {
            k: manifest["packet"][k] for k in ("id", "revision", "digest")
        }
        assert decision["lane"] == manifest["lane"]
        assert decision["policy"] == {"revision": policy["revision"], "digest": policy["digest"]}
        assert isinstance(decision["warnings"], list)
        assert set(decision) == {
            "decision_id",
            "allow",
            "manifest_digest",
            "packet",
            "lane",
            "policy",
            "violations",
            "warnings",
            "token",
            "evaluated_at",
        }
