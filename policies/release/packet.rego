# METADATA
# title: Packet history and holds
# description: >-
#   A packet revision is released only while it is the newest approved one for
#   its lane and nobody has put it on hold. The gate reads both facts from its
#   decision store (input.facts.history, input.facts.holds) and re-checks them
#   atomically with the append, so a stale revision never gets a token. History
#   is compared only with an authentic manifest (every signature verified): the
#   revision of an unsigned or tampered manifest vouches for nothing, and its
#   sender learns nothing about the packet's history.
package release.packet

import data.lib.trust
import rego.v1

packet := input.manifest.packet

history := object.get(input, ["facts", "history"], {})

latest_approved := object.get(history, "latest_approved_revision", null)

# superseded holds why this revision is superseded, as {detail, path} objects.
superseded contains {"detail": detail, "path": "/packet/revision"} if {
	latest_approved != null
	packet.revision < latest_approved
	detail := sprintf("revision %v is already approved", [latest_approved])
}

superseded contains {"detail": detail, "path": "/packet/supersedes_revision"} if {
	latest_approved != null
	packet.revision > latest_approved
	packet.supersedes_revision != latest_approved
	detail := sprintf(
		"supersedes_revision %v does not name the latest approved revision %v",
		[packet.supersedes_revision, latest_approved],
	)
}

# authentic holds when the manifest has signatures and every one verified.
authentic if {
	count(input.manifest.signatures) > 0
	every i, _ in input.manifest.signatures {
		trust.status[i] == "verified"
	}
}

# METADATA
# title: Superseded packet revision
# description: >-
#   A newer revision of the packet is already approved for this lane, or a
#   revision above the latest approved one has a supersedes_revision that does
#   not name it. Only for a manifest whose every signature verifies; the same
#   revision may be approved again (each token binds its packet digest).
# custom:
#   code: packet.superseded
#   failure_msg: "revision %v of packet %s is superseded in lane %s: %s"
#   solution: >-
#     Release the newest revision, with supersedes_revision set to the latest
#     approved revision of the packet in this lane.
deny contains violation if {
	authentic
	some finding in superseded
	msg := sprintf(
		"revision %v of packet %s is superseded in lane %s: %s",
		[packet.revision, packet.id, input.manifest.lane, finding.detail],
	)
	violation := data.lib.result.violation("packet.superseded", msg, finding.path)
}

# hold_applies is true when a hold covers the manifest's lane (a hold without a lane covers every lane).
hold_applies(hold) if hold.lane == null

hold_applies(hold) if hold.lane == input.manifest.lane

# METADATA
# title: Packet revision on hold
# description: >-
#   A release owner put this packet revision on hold (POST /v1/holds), for
#   example because evidence, contract posture or audience scope changed during
#   review. Evaluations are denied until the hold is lifted.
# custom:
#   code: packet.on_hold
#   failure_msg: "revision %v of packet %s is on hold (%s): %s"
#   solution: >-
#     Resolve the reason for the hold and have a release owner lift it
#     (DELETE /v1/holds/{id}), or release a new revision.
deny contains violation if {
	authentic
	some hold in object.get(input, ["facts", "holds"], [])
	hold.revision == packet.revision
	data.release.packet.hold_applies(hold)
	msg := sprintf(
		"revision %v of packet %s is on hold (%s): %s",
		[packet.revision, packet.id, hold.hold_id, hold.reason],
	)
	violation := data.lib.result.violation("packet.on_hold", msg, "/packet/revision")
}
