package release.packet_test

import data.release.fixtures_test as fixtures
import data.release.packet
import rego.v1

# findings are the [code, path] pairs packet.deny reports for doc.
findings(doc) := result if {
	result := {[v.code, v.path] | some v in packet.deny} with input as doc
		with data.governance as fixtures.governance
}

# with_facts is the valid input with history and holds replaced.
with_facts(history, holds) := object.union(
	fixtures.valid_input,
	{"facts": object.union(fixtures.valid_input.facts, {"history": history, "holds": holds})},
)

approved(revision) := {"latest_approved_revision": revision, "latest_approved_digest": fixtures.digest}

hold(revision, lane) := {"hold_id": "h-1", "revision": revision, "lane": lane, "reason": "audience changed"}

test_superseded_denied_when_newer_revision_is_approved if {
	findings(with_facts(approved(4), [])) == {["packet.superseded", "/packet/revision"]}
}

test_superseded_denied_when_supersedes_revision_skips_approved if {
	findings(with_facts(approved(1), [])) == {["packet.superseded", "/packet/supersedes_revision"]}
}

test_superseded_allowed_when_signatures_do_not_verify if {
	doc := object.union(with_facts(approved(4), []), {"facts": {"signatures": [{"status": "invalid"}]}})
	findings(doc) == set()
}

test_superseded_allowed_when_same_revision_is_approved_with_other_digest if {
	history := {"latest_approved_revision": 3, "latest_approved_digest": concat("", ["sha256:", fixtures.digest])}
	findings(with_facts(history, [])) == set()
}

test_superseded_allowed_when_no_revision_is_approved if {
	findings(fixtures.valid_input) == set()
}

test_superseded_allowed_when_it_supersedes_the_approved_revision if {
	findings(with_facts(approved(2), [])) == set()
}

test_superseded_allowed_when_same_revision_is_approved_again if {
	findings(with_facts(approved(3), [])) == set()
}

test_superseded_allowed_when_facts_are_absent if {
	doc := object.remove(fixtures.valid_input, ["facts"])
	findings(doc) == set()
}

test_on_hold_denied_when_revision_is_held_in_every_lane if {
	findings(with_facts(fixtures.no_history, [hold(3, null)])) == {["packet.on_hold", "/packet/revision"]}
}

test_on_hold_denied_when_revision_is_held_in_its_lane if {
	findings(with_facts(fixtures.no_history, [hold(3, fixtures.lane_id)])) == {["packet.on_hold", "/packet/revision"]}
}

test_on_hold_allowed_when_signatures_do_not_verify if {
	doc := object.union(with_facts(fixtures.no_history, [hold(3, null)]), {"facts": {"signatures": []}})
	findings(doc) == set()
}

test_on_hold_allowed_when_another_revision_is_held if {
	findings(with_facts(fixtures.no_history, [hold(2, null)])) == set()
}

test_on_hold_allowed_when_another_lane_is_held if {
	findings(with_facts(fixtures.no_history, [hold(3, "other-lane")])) == set()
}

test_on_hold_denied_when_held_with_message_naming_hold_and_reason if {
	messages := {v.message | some v in packet.deny} with input as with_facts(fixtures.no_history, [hold(3, null)])
		with data.governance as fixtures.governance
	messages == {"revision 3 of packet pkt-incident-4711 is on hold (h-1): audience changed"}
}

test_superseded_denied_when_newer_approved_with_message_naming_it if {
	messages := {v.message | some v in packet.deny} with input as with_facts(approved(4), [])
		with data.governance as fixtures.governance
	messages == {concat("", [
		"revision 3 of packet pkt-incident-4711 is superseded in lane exec-customer-review: ",
		"revision 4 is already approved",
	])}
}
