package release.signers_test

import data.release.fixtures_test as fixtures
import data.release.signers
import rego.v1

# findings are the [code, path] pairs signers.deny reports for doc under the fixture governance.
findings(doc) := result if {
	denials := signers.deny with input as doc with data.governance as fixtures.governance
	result := {[v.code, v.path] | some v in denials}
}

codes(doc) := {finding[0] | some finding in findings(doc)}

with_signatures(signatures) := object.union(
	fixtures.valid_input,
	{
		"manifest": {"signatures": signatures},
		"facts": {"signatures": [fixtures.verified | some _ in signatures]},
	},
)

test_missing_role_denied_when_no_signature_for_role if {
	doc := with_signatures([fixtures.sig_owner, fixtures.sig_comms])
	findings(doc) == {["signers.missing_role", "/signatures"]}
}

test_missing_role_denied_when_signature_for_role_is_invalid if {
	doc := object.union(
		fixtures.valid_input,
		{"facts": {"signatures": [fixtures.verified, {"status": "invalid"}, fixtures.verified]}},
	)
	findings(doc) == {["signers.missing_role", "/signatures"]}
}

test_missing_role_denied_when_only_an_agent_signs_for_role if {
	doc := with_signatures([fixtures.sig_owner, fixtures.sig_comms, fixtures.sig_agent_cs])
	findings(doc) == {["signers.missing_role", "/signatures"], ["signers.agent_not_permitted", "/signatures/2"]}
}

test_missing_role_denied_when_two_roles_lack_signatures if {
	doc := with_signatures([fixtures.sig_owner])
	messages := {v.message | some v in signers.deny} with input as doc with data.governance as fixtures.governance
	count(messages) == 2
}

test_missing_role_allowed_when_every_role_has_a_human_signature if {
	findings(fixtures.valid_input) == set()
}

test_missing_role_allowed_when_lane_is_unknown if {
	doc := object.union(with_signatures([fixtures.sig_owner]), {"manifest": {"lane": "no-such-lane"}})
	not "signers.missing_role" in codes(doc)
}

test_not_distinct_denied_when_one_person_signs_two_required_roles if {
	doc := with_signatures([fixtures.sig_owner, fixtures.sig_tomas_comms, fixtures.sig_tomas_cs])
	findings(doc) == {["signers.not_distinct", "/signatures"]}
}

test_not_distinct_allowed_when_lane_does_not_want_distinct_signers if {
	doc := with_signatures([fixtures.sig_owner, fixtures.sig_tomas_comms, fixtures.sig_tomas_cs])
	denials := signers.deny with input as doc with data.governance as fixtures.governance_not_distinct
	denials == set()
}

test_not_distinct_allowed_when_each_role_has_its_own_signer if {
	not "signers.not_distinct" in codes(fixtures.valid_input)
}

test_not_distinct_allowed_when_second_role_signature_is_invalid if {
	doc := object.union(
		with_signatures([fixtures.sig_owner, fixtures.sig_tomas_comms, fixtures.sig_tomas_cs, fixtures.sig_cs]),
		{"facts": {"signatures": [fixtures.verified, fixtures.verified, {"status": "invalid"}, fixtures.verified]}},
	)
	findings(doc) == set()
}

test_release_owner_missing_denied_when_owner_did_not_sign if {
	doc := object.union(fixtures.valid_input, {"manifest": {"release_owner": "priya.raman@example.com"}})
	findings(doc) == {["signers.release_owner_missing", "/release_owner"]}
}

test_release_owner_missing_denied_when_owner_signature_is_invalid if {
	doc := object.union(
		fixtures.valid_input,
		{"facts": {"signatures": [{"status": "invalid"}, fixtures.verified, fixtures.verified]}},
	)
	findings(doc) == {["signers.release_owner_missing", "/release_owner"], ["signers.missing_role", "/signatures"]}
}

test_release_owner_missing_denied_when_lane_is_unknown if {
	doc := object.union(
		fixtures.valid_input,
		{"manifest": {"lane": "no-such-lane", "release_owner": "marcus.oyelaran@example.com"}},
	)
	findings(doc) == {["signers.release_owner_missing", "/release_owner"]}
}

test_release_owner_missing_allowed_when_owner_signed_as_release_owner if {
	not "signers.release_owner_missing" in codes(fixtures.valid_input)
}

test_agent_not_permitted_denied_when_agent_signs_required_role if {
	doc := with_signatures([fixtures.sig_owner, fixtures.sig_comms, fixtures.sig_cs, fixtures.sig_agent_cs])
	findings(doc) == {["signers.agent_not_permitted", "/signatures/3"]}
}

test_agent_not_permitted_denied_when_agent_is_release_owner if {
	doc := object.union(fixtures.valid_input, {"manifest": {"release_owner": "agent:packet-assembler"}})
	["signers.agent_not_permitted", "/release_owner"] in findings(doc)
}

test_agent_not_permitted_denied_when_agent_accepts_objection if {
	objection := object.union(
		fixtures.accepted_objection,
		{"residual_acceptance": {"accepted_by": "agent:packet-assembler"}},
	)
	doc := object.union(fixtures.valid_input, {"manifest": {"objections": [objection]}})
	findings(doc) == {["signers.agent_not_permitted", "/objections/0/residual_acceptance/accepted_by"]}
}

test_agent_not_permitted_allowed_when_agent_signs_role_lane_does_not_require if {
	doc := with_signatures([fixtures.sig_owner, fixtures.sig_comms, fixtures.sig_cs, fixtures.sig_agent_preparer])
	findings(doc) == set()
}

test_agent_not_permitted_allowed_when_agent_signature_does_not_verify if {
	doc := object.union(
		with_signatures([fixtures.sig_owner, fixtures.sig_comms, fixtures.sig_cs, fixtures.sig_agent_cs]),
		{"facts": {"signatures": [fixtures.verified, fixtures.verified, fixtures.verified, {"status": "invalid"}]}},
	)
	findings(doc) == set()
}

test_agent_not_permitted_allowed_when_only_humans_approve if {
	not "signers.agent_not_permitted" in codes(fixtures.valid_input)
}
