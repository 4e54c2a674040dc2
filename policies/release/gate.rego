# METADATA
# title: Release gate decision
# description: >-
#   The entry point, data.release.gate.decision: every topic's deny set, as
#   arrays (sets of objects cannot cross into Python). allow is true exactly
#   when there is no violation; the gate sorts violations itself.
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

allow if count(violations) == 0

violations := [violation | some violation in all_violations]

# No topic defines a warn set yet. When one does, collect it like all_violations
# (a rule per topic: `all_warnings contains w if { some w in <topic>.warn }`).
warnings := []

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
