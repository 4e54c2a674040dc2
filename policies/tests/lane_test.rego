package release.lane_test

import data.release.fixtures_test as fixtures
import data.release.lane
import rego.v1

# findings are the [code, path] pairs lane.deny reports for doc under the fixture governance.
findings(doc) := result if {
	denials := lane.deny with input as doc with data.governance as fixtures.governance
	result := {[v.code, v.path] | some v in denials}
}

with_manifest(changes) := object.union(fixtures.valid_input, {"manifest": changes})

test_unknown_denied_when_lane_is_not_in_governance if {
	findings(with_manifest({"lane": "customer-broadcast"})) == {["lane.unknown", "/lane"]}
}

test_unknown_allowed_when_lane_is_in_governance if {
	findings(fixtures.valid_input) == set()
}

test_audience_out_of_scope_denied_when_audience_not_allowed if {
	doc := with_manifest({"audience": ["exec-review-board", "affected-customers", "support-leadership"]})
	findings(doc) == {["lane.audience_out_of_scope", "/audience/1"]}
}

test_audience_out_of_scope_allowed_when_every_audience_is_allowed if {
	doc := with_manifest({"audience": ["exec-review-board", "customer-success-leadership", "support-leadership"]})
	findings(doc) == set()
}

test_audience_out_of_scope_allowed_when_lane_is_unknown if {
	doc := with_manifest({"lane": "customer-broadcast", "audience": ["affected-customers"]})
	findings(doc) == {["lane.unknown", "/lane"]}
}

test_action_out_of_scope_denied_when_customer_send_requested if {
	doc := with_manifest({"requested_actions": ["send_customer_notice", "route_for_executive_review", "issue_credit"]})
	findings(doc) == {
		["lane.action_out_of_scope", "/requested_actions/0"],
		["lane.action_out_of_scope", "/requested_actions/2"],
	}
}

test_action_out_of_scope_allowed_when_every_action_is_allowed if {
	doc := with_manifest({"requested_actions": ["attach_to_review_agenda", "route_for_executive_review"]})
	findings(doc) == set()
}

test_action_out_of_scope_allowed_when_lane_is_unknown if {
	doc := with_manifest({"lane": "customer-broadcast", "requested_actions": ["send_customer_notice"]})
	findings(doc) == {["lane.unknown", "/lane"]}
}
