# METADATA
# title: Evidence
# description: >-
#   The impact evidence covers every source the lane requires and is fresh:
#   age_ns (evaluation time minus observed_at, from input.facts.evidence) is at
#   most the lane's maximum for its source, and not beyond the future tolerance;
#   and no source system has since reported a newer material snapshot of it
#   (newest, from input.facts.evidence: POST /v1/evidence-events).
package release.evidence

import data.lib.lanes
import data.lib.units
import rego.v1

# METADATA
# title: Required evidence source missing
# description: A source the lane requires has no evidence item.
# custom:
#   code: evidence.missing_source
#   failure_msg: "lane %s requires evidence from %s, and none is given"
#   solution: Add an evidence item read from that source.
deny contains violation if {
	some source in lanes.lane.required_evidence_sources
	not source in sources
	msg := sprintf("lane %s requires evidence from %s, and none is given", [lanes.lane_id, source])
	violation := data.lib.result.violation("evidence.missing_source", msg, "/evidence")
}

# METADATA
# title: Evidence source without a maximum age
# description: An evidence source for which the lane sets no maximum age.
# custom:
#   code: evidence.unknown_source
#   failure_msg: "evidence %s has source %s, for which lane %s sets no maximum age"
#   solution: Use a source the lane knows, or ask the governance owners to set its maximum age.
deny contains violation if {
	known := object.keys(lanes.lane.max_evidence_age_seconds)
	some i, item in input.manifest.evidence
	source := item.source # bound before the `not`, as OPA would (docs/policy-authors.md)
	not source in known
	msg := sprintf(
		"evidence %s has source %s, for which lane %s sets no maximum age",
		[item.id, source, lanes.lane_id],
	)
	violation := data.lib.result.violation("evidence.unknown_source", msg, sprintf("/evidence/%d", [i]))
}

# METADATA
# title: Stale evidence
# description: >-
#   The evidence is older at evaluation time than the lane's maximum for its
#   source. Exactly the maximum is fresh.
# custom:
#   code: evidence.stale
#   failure_msg: "evidence %s from %s is %s old, over the %s maximum"
#   solution: Re-read the evidence from its system and re-sign the manifest.
deny contains violation if {
	max_ages := lanes.lane.max_evidence_age_seconds
	scale := units.ns_per_second
	some i, item in input.manifest.evidence
	max_age := max_ages[item.source]
	age_ns := input.facts.evidence[i].age_ns
	age_ns > max_age * scale
	msg := sprintf(
		"evidence %s from %s is %s old, over the %s maximum",
		[
			item.id,
			item.source,
			data.lib.units.duration(data.lib.units.whole_seconds(age_ns)),
			data.lib.units.duration(max_age),
		],
	)
	violation := data.lib.result.violation("evidence.stale", msg, sprintf("/evidence/%d", [i]))
}

# METADATA
# title: Evidence observed in the future
# description: The evidence was observed more than the future tolerance after evaluation time.
# custom:
#   code: evidence.future_timestamp
#   failure_msg: "evidence %s from %s is observed %s after the evaluation time"
#   solution: Check the clock of the evidence's system and its observed_at.
deny contains violation if {
	tolerance := future_tolerance_seconds
	earliest := 0 - (tolerance * units.ns_per_second)
	some i, item in input.manifest.evidence
	age_ns := input.facts.evidence[i].age_ns
	age_ns < earliest
	msg := sprintf(
		"evidence %s from %s is observed %s after the evaluation time",
		[item.id, item.source, data.lib.units.duration(data.lib.units.whole_seconds(0 - age_ns))],
	)
	violation := data.lib.result.violation("evidence.future_timestamp", msg, sprintf("/evidence/%d", [i]))
}

# METADATA
# title: Evidence replaced by a newer snapshot
# description: >-
#   The evidence's source system reported a material change (POST
#   /v1/evidence-events): its newest material snapshot of this source and ref
#   has another digest than the one the manifest cites, so the packet relies on
#   evidence that no longer holds. input.facts.evidence[i].newest is that
#   snapshot ({digest, observed_at}), null when the source reported none.
# custom:
#   code: evidence.superseded
#   failure_msg: "evidence %s from %s was replaced by a snapshot observed at %s"
#   solution: >-
#     Re-read the evidence from its system, revise the packet on the new
#     snapshot, and release that revision with fresh signatures.
deny contains violation if {
	some i, item in input.manifest.evidence
	newest := input.facts.evidence[i].newest
	is_object(newest)
	newest.digest != item.digest
	msg := sprintf(
		"evidence %s from %s was replaced by a snapshot observed at %s",
		[item.id, item.source, newest.observed_at],
	)
	violation := data.lib.result.violation("evidence.superseded", msg, sprintf("/evidence/%d", [i]))
}

# future_tolerance_seconds is how far after evaluation time evidence may be observed; the
# contract's 60 s when the governance data does not set it.
future_tolerance_seconds := object.get(data.governance, "future_tolerance_seconds", 60)

# sources are the evidence sources the manifest provides.
sources contains item.source if some item in input.manifest.evidence
