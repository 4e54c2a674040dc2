# METADATA
# title: Trust store and signature facts
# description: >-
#   Reads data.governance.signers and input.facts.signatures (index-aligned with
#   input.manifest.signatures). The gate does the cryptography; whether the
#   subject holds the role it signed as is decided here. Exposed as rules, not
#   functions: the embedded engine resolves functions only by their full data path.
package lib.trust

import rego.v1

# agents are the subjects of kind "agent"; kind defaults to "human".
agents contains subject if {
	some subject, signer in data.governance.signers
	object.get(signer, "kind", "human") == "agent"
}

# status maps each signature index to the gate's verdict: "verified", "invalid" or
# "unknown_key". A missing or unrecognised fact fails closed as "unknown_key".
status[i] := fact if {
	some i, _ in input.manifest.signatures
	fact := input.facts.signatures[i].status
	fact in {"verified", "invalid"}
}

status[i] := "unknown_key" if {
	some i, _ in input.manifest.signatures
	not i in recognised
}

# recognised holds the indexes of signatures whose fact is "verified" or "invalid". Negate this set, never
# `not input.facts.signatures[i].status in {...}`: OPA hoists the fact out of the negation, so a missing fact
# would make that line undefined rather than true (docs/policy-authors.md, "regorus vs OPA").
recognised contains i if {
	some i, _ in input.manifest.signatures
	input.facts.signatures[i].status in {"verified", "invalid"}
}

# role_held holds the indexes of signatures whose subject holds the role they signed as.
role_held contains i if {
	some i, signature in input.manifest.signatures
	signature.role in data.governance.signers[signature.subject].roles
}

# valid_signatures are the valid signatures as {index, subject, role}: verified, and the
# subject holds the role. One pass over the signatures: each rule a loop consults costs
# a lookup per element on the embedded engine (docs/policy-authors.md, "Performance").
valid_signatures contains {"index": i, "subject": signature.subject, "role": signature.role} if {
	some i, signature in input.manifest.signatures
	input.facts.signatures[i].status == "verified"
	signature.role in data.governance.signers[signature.subject].roles
}
