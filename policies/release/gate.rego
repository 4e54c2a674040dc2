# METADATA
# title: Release gate decision
# description: >-
#   The entry point, data.release.gate.decision: every topic's deny and warn
#   sets, as arrays (sets of objects cannot cross into Python). A deny finding
#   of a rule not yet in effect (custom.effective_on still ahead of the
#   evaluation time) is a warning; every other deny finding is a violation.
#   allow is true exactly when there is no violation; the gate sorts itself.
package release.gate

import data.release.evidence
import data.release.lane
import data.release.objections
import data.release.packet
import data.release.signatures
import data.release.signers
import rego.v1

decision := {"allow": allow, "violations": violations, "warnings": warnings}

default allow := false

allow if {
	count(violations) == 0
	complete
}

# complete holds when the input is what the gate sends (docs/policy-input.md): a version 1
# manifest, its evaluation time, and one fact per signature and per evidence item. The
# rules skip what is absent, so a partial input would pass them all: it never allows.
complete if {
	input.manifest.manifest_version == "1"
	is_string(input.evaluated_at)
	count(input.facts.signatures) == count(input.manifest.signatures)
	count(input.facts.evidence) == count(input.manifest.evidence)
	is_object(input.facts.history)
	is_array(input.facts.holds)
}

# violations are the deny findings in effect at the evaluation time. Findings pass
# through unchanged (a staged one keeps its effective_on; the gate reads code, message
# and path): a finding this rule could not reshape must still deny, never vanish.
violations := [finding | some finding in all_violations; not finding in pending]

# warnings are every warn finding and the deny findings not yet in effect.
warnings := array.concat(
	[finding | some finding in pending],
	[finding | some finding in all_warnings],
)

# evaluated_at_ns is the decision's evaluation time (input.evaluated_at). Undefined
# without it, and then nothing is pending: every deny finding denies.
evaluated_at_ns := time.parse_rfc3339_ns(input.evaluated_at)

# pending holds the deny findings of rules whose custom.effective_on is still ahead of
# the evaluation time (data.lib.result.staged_violation). From exactly that instant on
# they are violations; a finding without a readable effective_on is never pending.
# object.get, not finding.effective_on: OPA's type checker knows the shipped findings
# have no such key and would refuse the reference.
pending contains finding if {
	now := evaluated_at_ns
	some finding in all_violations
	effective_on := object.get(finding, "effective_on", false)
	is_string(effective_on)
	now < time.parse_rfc3339_ns(effective_on)
}

all_violations contains violation if {
	some violation in signatures.deny
}

all_violations contains violation if {
	some violation in signers.deny
}

all_violations contains violation if {
	some violation in lane.deny
}

all_violations contains violation if {
	some violation in objections.deny
}

all_violations contains violation if {
	some violation in evidence.deny
}

all_violations contains violation if {
	some violation in packet.deny
}

# all_warnings are the findings of every topic's warn rules (none ships today: a topic
# that adds a warn set is collected here without touching this file).
all_warnings contains warning if {
	some warning in signatures.warn
}

all_warnings contains warning if {
	some warning in signers.warn
}

all_warnings contains warning if {
	some warning in lane.warn
}

all_warnings contains warning if {
	some warning in objections.warn
}

all_warnings contains warning if {
	some warning in evidence.warn
}

all_warnings contains warning if {
	some warning in packet.warn
}
