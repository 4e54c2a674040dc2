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

# A staged deny finding, as a rule whose METADATA has custom.effective_on builds it: in
# effect from 10:00 at +01:00, which is 09:00Z, the fixture's evaluation time.
effective_on := "2026-11-26T10:00:00+01:00"

staged := data.lib.result.staged_violation(
	"objections.rationale_too_short",
	"residual acceptance of objection obj-1 has a rationale of 3 characters, under 20",
	"/objections/0",
	effective_on,
)

# found are the [code, path, message] triples of decision items (compared as such: OPA's type
# checker knows the shipped findings' shape, not the staged one's).
found(items) := [[item.code, item.path, item.message] | some item in items]

staged_found := [[staged.code, staged.path, staged.message]]

# staged_decision is the decision at evaluated_at with the staged finding as the only deny finding.
staged_decision(evaluated_at) := result if {
	doc := object.union(fixtures.valid_input, {"evaluated_at": evaluated_at})
	result := gate.decision with input as doc with data.governance as fixtures.governance
		with data.release.objections.deny as {staged}
}

test_decision_warned_when_staged_rule_is_before_effective_on if {
	result := staged_decision("2026-11-26T08:59:59.999999Z")
	result.allow == true
	result.violations == []
	found(result.warnings) == staged_found
}

test_decision_denied_when_staged_rule_is_exactly_effective_on if {
	result := staged_decision("2026-11-26T09:00:00.000000Z")
	result.allow == false
	found(result.violations) == staged_found
	result.warnings == []
}

test_decision_denied_when_staged_rule_is_past_effective_on if {
	result := staged_decision("2027-03-01T00:00:00Z")
	result.allow == false
	found(result.violations) == staged_found
}

test_decision_denied_when_staged_rule_has_no_evaluation_time if {
	doc := object.remove(fixtures.valid_input, ["evaluated_at"])
	result := gate.decision with input as doc with data.governance as fixtures.governance
		with data.release.objections.deny as {staged}
	result.allow == false
	found(result.violations) == staged_found
}

test_decision_warned_when_topic_has_a_warn_rule if {
	aging := data.lib.result.violation(
		"evidence.aging",
		"evidence ev-1 from incident_timeline is 4h old, over half the 6h maximum",
		"/evidence/0",
	)
	result := gate.decision with input as fixtures.valid_input with data.governance as fixtures.governance
		with data.release.evidence.warn as {aging}
	result == {"allow": true, "violations": [], "warnings": [aging]}
}

test_decision_denied_when_a_violation_comes_with_warnings if {
	doc := object.union(fixtures.valid_input, {"manifest": {"lane": "customer-broadcast"}})
	notice := note("lane")
	result := gate.decision with input as doc with data.governance as fixtures.governance
		with data.release.lane.warn as {notice}
		with data.release.objections.deny as {staged}
		with data.release.signers.deny as set()
	result.allow == false
	{v.code | some v in result.violations} == {"lane.unknown", "objections.rationale_too_short"}
	result.warnings == [notice]
}

# note is a warn finding of topic, for the tests of the warn collection.
note(topic) := data.lib.result.violation(sprintf("%s.note", [topic]), "a note", "")

test_decision_allowed_when_every_topic_warns_and_nothing_denies if {
	result := gate.decision with input as fixtures.valid_input with data.governance as fixtures.governance
		with data.release.signatures.warn as {note("signatures")}
		with data.release.signers.warn as {note("signers")}
		with data.release.lane.warn as {note("lane")}
		with data.release.objections.warn as {note("objections")}
		with data.release.evidence.warn as {note("evidence")}
		with data.release.packet.warn as {note("packet")}
	result.allow == true
	count(result.warnings) == 6
}

test_decision_denied_when_the_input_is_empty if {
	result := gate.decision with input as {} with data.governance as fixtures.governance
	result.allow == false
}

test_decision_denied_when_the_facts_are_missing if {
	doc := object.remove(fixtures.valid_input, ["facts"])
	result := gate.decision with input as doc with data.governance as fixtures.governance
	result.allow == false
}

test_decision_denied_when_a_signature_has_no_fact if {
	facts := object.union(fixtures.valid_input.facts, {"signatures": []})
	doc := object.union(fixtures.valid_input, {"facts": facts})
	result := gate.decision with input as doc with data.governance as fixtures.governance
	result.allow == false
}

test_decision_denied_when_the_evaluation_time_is_missing if {
	doc := object.remove(fixtures.valid_input, ["evaluated_at"])
	result := gate.decision with input as doc with data.governance as fixtures.governance
	result.allow == false
}
