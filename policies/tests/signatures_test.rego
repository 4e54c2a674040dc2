package release.signatures_test

import data.release.fixtures_test as fixtures
import data.release.signatures
import rego.v1

# findings are the [code, path] pairs signatures.deny reports for doc under the fixture governance.
findings(doc) := result if {
	denials := signatures.deny with input as doc with data.governance as fixtures.governance
	result := {[v.code, v.path] | some v in denials}
}

codes(doc) := {finding[0] | some finding in findings(doc)}

with_facts(statuses) := object.union(fixtures.valid_input, {"facts": {"signatures": statuses}})

test_unknown_key_denied_when_key_does_not_resolve if {
	doc := with_facts([{"status": "unknown_key"}, fixtures.verified, fixtures.verified])
	findings(doc) == {["signature.unknown_key", "/signatures/0"]}
}

test_unknown_key_denied_when_signature_fact_is_missing if {
	doc := with_facts([fixtures.verified])
	findings(doc) == {["signature.unknown_key", "/signatures/1"], ["signature.unknown_key", "/signatures/2"]}
}

test_unknown_key_denied_when_signature_fact_has_no_known_status if {
	doc := with_facts([fixtures.verified, {}, {"status": "pending"}])
	findings(doc) == {["signature.unknown_key", "/signatures/1"], ["signature.unknown_key", "/signatures/2"]}
}

test_unknown_key_denied_when_unneeded_extra_signature_does_not_resolve if {
	doc := object.union(
		with_facts([fixtures.verified, fixtures.verified, fixtures.verified, {"status": "unknown_key"}]),
		{"manifest": {"signatures": array.concat(fixtures.manifest.signatures, [fixtures.sig_tomas_cs])}},
	)
	findings(doc) == {["signature.unknown_key", "/signatures/3"]}
}

test_unknown_key_allowed_when_every_key_is_active if {
	findings(fixtures.valid_input) == set()
}

test_invalid_denied_when_signature_does_not_verify if {
	doc := with_facts([fixtures.verified, {"status": "invalid"}, fixtures.verified])
	findings(doc) == {["signature.invalid", "/signatures/1"]}
}

test_invalid_allowed_when_signature_verifies if {
	not "signature.invalid" in codes(fixtures.valid_input)
}

test_invalid_allowed_when_key_is_unknown if {
	doc := with_facts([{"status": "unknown_key"}, fixtures.verified, fixtures.verified])
	not ["signature.invalid", "/signatures/0"] in findings(doc)
}

test_role_not_held_denied_when_subject_lacks_role if {
	doc := object.union(
		fixtures.valid_input,
		{"manifest": {"signatures": [fixtures.sig_owner, fixtures.sig_comms, fixtures.sig_priya_as_owner]}},
	)
	findings(doc) == {["signature.role_not_held", "/signatures/2"]}
}

test_role_not_held_denied_when_subject_is_not_in_trust_store if {
	doc := object.union(
		fixtures.valid_input,
		{"manifest": {"signatures": [fixtures.sig_owner, fixtures.sig_comms, fixtures.sig_stranger]}},
	)
	findings(doc) == {["signature.role_not_held", "/signatures/2"]}
}

test_role_not_held_allowed_when_role_is_held if {
	not "signature.role_not_held" in codes(fixtures.valid_input)
}

test_role_not_held_allowed_when_signature_is_invalid if {
	doc := object.union(
		with_facts([fixtures.verified, fixtures.verified, {"status": "invalid"}]),
		{"manifest": {"signatures": [fixtures.sig_owner, fixtures.sig_comms, fixtures.sig_priya_as_owner]}},
	)
	findings(doc) == {["signature.invalid", "/signatures/2"]}
}
