package release.evidence_test

import data.release.evidence
import data.release.fixtures_test as fixtures
import rego.v1

# findings are the [code, path] pairs evidence.deny reports for doc under the fixture governance.
findings(doc) := result if {
	denials := evidence.deny with input as doc with data.governance as fixtures.governance
	result := {[v.code, v.path] | some v in denials}
}

# with_first_age sets the age of evidence item 0 (incident_timeline, at most 21600 s old).
with_first_age(age_ns) := object.union(
	fixtures.valid_input,
	{"facts": {"evidence": array.concat([{"age_ns": age_ns}], array.slice(fixtures.evidence_facts, 1, 5))}},
)

max_incident_timeline_ns := 21600000000000

test_missing_source_denied_when_required_source_has_no_item if {
	doc := object.union(
		fixtures.valid_input,
		{"manifest": {"evidence": array.slice(fixtures.evidence, 0, 3)}, "facts": {"evidence": []}},
	)
	findings(doc) == {["evidence.missing_source", "/evidence"]}
}

test_missing_source_allowed_when_every_required_source_is_present if {
	findings(fixtures.valid_input) == set()
}

test_missing_source_allowed_when_lane_is_unknown if {
	doc := object.union(fixtures.valid_input, {"manifest": {"lane": "no-such-lane", "evidence": []}})
	findings(doc) == set()
}

test_unknown_source_denied_when_lane_sets_no_maximum_age if {
	extra := object.union(fixtures.evidence[0], {"id": "ev-9", "source": "social_media"})
	doc := object.union(
		fixtures.valid_input,
		{
			"manifest": {"evidence": array.concat(fixtures.evidence, [extra])},
			"facts": {"evidence": array.concat(fixtures.evidence_facts, [{"age_ns": 0}])},
		},
	)
	findings(doc) == {["evidence.unknown_source", "/evidence/5"]}
}

test_unknown_source_allowed_when_optional_source_has_a_maximum_age if {
	# account_review is not required but has a maximum age
	fixtures.evidence[4].source == "account_review"
	findings(fixtures.valid_input) == set()
}

test_stale_denied_when_one_nanosecond_over_maximum if {
	findings(with_first_age(max_incident_timeline_ns + 1)) == {["evidence.stale", "/evidence/0"]}
}

test_stale_denied_when_age_is_clamped_maximum if {
	findings(with_first_age(4000000000000000000)) == {["evidence.stale", "/evidence/0"]}
}

test_stale_allowed_when_age_is_exactly_maximum if {
	findings(with_first_age(max_incident_timeline_ns)) == set()
}

test_stale_allowed_when_lane_is_unknown if {
	doc := object.union(with_first_age(4000000000000000000), {"manifest": {"lane": "no-such-lane"}})
	findings(doc) == set()
}

test_future_timestamp_denied_when_beyond_tolerance if {
	findings(with_first_age(-60000000001)) == {["evidence.future_timestamp", "/evidence/0"]}
}

test_future_timestamp_denied_when_age_is_clamped_minimum if {
	findings(with_first_age(-4000000000000000000)) == {["evidence.future_timestamp", "/evidence/0"]}
}

test_future_timestamp_allowed_when_exactly_at_tolerance if {
	findings(with_first_age(-60000000000)) == set()
}

# messages are the messages evidence.deny reports for doc under the fixture governance.
messages(doc) := result if {
	denials := evidence.deny with input as doc with data.governance as fixtures.governance
	result := {v.message | some v in denials}
}

test_stale_denied_when_over_maximum_with_message_in_durations if {
	# 4 days 18 hours and a fraction of a second: truncated, never rounded up
	messages(with_first_age(411054999999999)) == {
		"evidence ev-1 from incident_timeline is 4d 18h old, over the 6h maximum",
	}
}

test_stale_denied_when_one_nanosecond_over_with_message_truncated_to_maximum if {
	messages(with_first_age(max_incident_timeline_ns + 1)) == {
		"evidence ev-1 from incident_timeline is 6h old, over the 6h maximum",
	}
}

test_future_timestamp_denied_when_beyond_tolerance_with_message_in_durations if {
	messages(with_first_age(-90500000000)) == {
		"evidence ev-1 from incident_timeline is observed 1m 30s after the evaluation time",
	}
}

test_future_timestamp_denied_when_clamped_with_message_in_days if {
	messages(with_first_age(-4000000000000000000)) == {
		"evidence ev-1 from incident_timeline is observed 46296d 7h after the evaluation time",
	}
}

# with_first_newest sets the newest material snapshot of evidence item 0 (incident_timeline).
with_first_newest(newest) := object.union(
	fixtures.valid_input,
	{"facts": {"evidence": array.concat(
		[{"age_ns": fixtures.hour_ns, "newest": newest}],
		array.slice(fixtures.evidence_facts, 1, 5),
	)}},
)

replacement := {
	"digest": "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
	"observed_at": "2026-11-26T08:30:00Z",
}

test_superseded_denied_when_newest_snapshot_has_another_digest if {
	findings(with_first_newest(replacement)) == {["evidence.superseded", "/evidence/0"]}
}

test_superseded_denied_when_replaced_with_message_naming_the_snapshot if {
	messages(with_first_newest(replacement)) == {
		"evidence ev-1 from incident_timeline was replaced by a snapshot observed at 2026-11-26T08:30:00Z",
	}
}

test_superseded_denied_when_lane_is_unknown if {
	doc := object.union(with_first_newest(replacement), {"manifest": {"lane": "no-such-lane"}})
	findings(doc) == {["evidence.superseded", "/evidence/0"]}
}

test_superseded_allowed_when_newest_snapshot_is_the_cited_one if {
	findings(with_first_newest({"digest": fixtures.digest, "observed_at": "2026-11-26T08:30:00Z"})) == set()
}

test_superseded_allowed_when_no_snapshot_was_reported if {
	findings(with_first_newest(null)) == set()
}

test_superseded_allowed_when_facts_have_no_newest if {
	# an older caller of the policy: evidence facts with age_ns only
	findings(fixtures.valid_input) == set()
}
