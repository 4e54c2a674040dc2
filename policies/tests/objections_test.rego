package release.objections_test

import data.release.fixtures_test as fixtures
import data.release.objections
import rego.v1

# findings are the [code, path] pairs objections.deny reports for doc under the fixture governance.
findings(doc) := result if {
	denials := objections.deny with input as doc with data.governance as fixtures.governance
	result := {[v.code, v.path] | some v in denials}
}

with_objections(items) := object.union(fixtures.valid_input, {"manifest": {"objections": items}})

test_unaccepted_denied_when_open_objection_has_no_acceptance if {
	open := object.union(fixtures.accepted_objection, {"residual_acceptance": null})
	findings(with_objections([fixtures.resolved_objection, open])) == {["objections.unaccepted", "/objections/1"]}
}

test_unaccepted_allowed_when_objection_is_resolved if {
	findings(with_objections([fixtures.resolved_objection])) == set()
}

test_unaccepted_allowed_when_open_objection_is_accepted if {
	findings(with_objections([fixtures.accepted_objection])) == set()
}

test_unaccepted_allowed_when_ledger_is_empty if {
	findings(with_objections([])) == set()
}

test_accepted_by_non_owner_denied_when_someone_else_accepts if {
	other := object.union(
		fixtures.accepted_objection,
		{"residual_acceptance": {"accepted_by": "marcus.oyelaran@example.com"}},
	)
	doc := with_objections([fixtures.resolved_objection, other])
	findings(doc) == {["objections.accepted_by_non_owner", "/objections/1"]}
}

test_accepted_by_non_owner_allowed_when_release_owner_accepts if {
	findings(with_objections([fixtures.accepted_objection, fixtures.resolved_objection])) == set()
}
