package release.gate_test

import data.release.fixtures_test as fixtures
import data.release.gate
import rego.v1

test_decision_allowed_when_every_rule_passes if {
	result := gate.decision with input as fixtures.valid_input with data.governance as fixtures.governance
	result == {"allow": true, "violations": [], "warnings": []}
}

test_decision_allowed_when_example_governance_data_is_used if {
	# the bundle's own data.governance: the example trust store and lane
	result := gate.decision with input as fixtures.valid_input
	result.allow == true
	result.violations == []
}

test_decision_denied_when_several_rules_fail if {
	doc := object.union(fixtures.valid_input, {
		"manifest": {"audience": ["affected-customers"], "objections": [object.union(
			fixtures.accepted_objection,
			{"residual_acceptance": null},
		)]},
		"facts": {
			"signatures": [fixtures.verified, {"status": "invalid"}, fixtures.verified],
			"evidence": array.concat(array.slice(fixtures.evidence_facts, 0, 4), [{"age_ns": -4000000000000000000}]),
		},
	})
	result := gate.decision with input as doc with data.governance as fixtures.governance
	result.allow == false
	{[v.code, v.path] | some v in result.violations} == {
		["evidence.future_timestamp", "/evidence/4"],
		["lane.audience_out_of_scope", "/audience/0"],
		["objections.unaccepted", "/objections/0"],
		["signature.invalid", "/signatures/1"],
		["signers.missing_role", "/signatures"],
	}
	every v in result.violations {
		is_string(v.message)
		v.message != ""
	}
}

test_decision_denied_when_lane_is_unknown_and_other_rules_still_report if {
	doc := object.union(fixtures.valid_input, {
		"manifest": {"lane": "customer-broadcast", "release_owner": "marcus.oyelaran@example.com"},
		"facts": {"signatures": [fixtures.verified, fixtures.verified, {"status": "unknown_key"}]},
	})
	result := gate.decision with input as doc with data.governance as fixtures.governance
	result.allow == false
	{[v.code, v.path] | some v in result.violations} == {
		["lane.unknown", "/lane"],
		["objections.accepted_by_non_owner", "/objections/0"],
		["signature.unknown_key", "/signatures/2"],
		["signers.release_owner_missing", "/release_owner"],
	}
}

test_decision_denied_when_packet_revision_is_on_hold if {
	held := {"hold_id": "h-1", "revision": 3, "lane": null, "reason": "scope changed"}
	doc := object.union(fixtures.valid_input, {"facts": {"holds": [held]}})
	result := gate.decision with input as doc with data.governance as fixtures.governance
	result.allow == false
	{[v.code, v.path] | some v in result.violations} == {["packet.on_hold", "/packet/revision"]}
}
