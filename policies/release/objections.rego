# METADATA
# title: Objections
# description: >-
#   Every open objection carries an explicit residual acceptance, made by the
#   release owner.
package release.objections

import rego.v1

# METADATA
# title: Open objection not accepted
# description: An open objection has no residual acceptance.
# custom:
#   code: objections.unaccepted
#   failure_msg: "objection %s is open and has no residual acceptance"
#   solution: >-
#     Resolve the objection, or have the release owner accept it explicitly as
#     residual disagreement, with a rationale.
deny contains violation if {
	some i, objection in input.manifest.objections
	not objection.status == "resolved"
	object.get(objection, "residual_acceptance", null) == null
	msg := sprintf("objection %s is open and has no residual acceptance", [objection.id])
	violation := data.lib.result.violation("objections.unaccepted", msg, sprintf("/objections/%d", [i]))
}

# METADATA
# title: Residual acceptance not by the release owner
# description: A residual acceptance not made by the release_owner.
# custom:
#   code: objections.accepted_by_non_owner
#   failure_msg: "residual acceptance of objection %s is by %s, not by the release owner %s"
#   solution: Only the named release owner may accept an objection as residual disagreement.
deny contains violation if {
	owner := input.manifest.release_owner
	some i, objection in input.manifest.objections
	accepted_by := objection.residual_acceptance.accepted_by
	accepted_by != owner
	msg := sprintf(
		"residual acceptance of objection %s is by %s, not by the release owner %s",
		[objection.id, accepted_by, input.manifest.release_owner],
	)
	violation := data.lib.result.violation("objections.accepted_by_non_owner", msg, sprintf("/objections/%d", [i]))
}
