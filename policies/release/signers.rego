# METADATA
# title: Signers
# description: >-
#   Who approved: every role the lane requires has a valid signature from a human,
#   distinct people where the lane asks for it, the release owner signed as
#   release owner, and no agent approves anything (agents may prepare a release,
#   never approve it). A valid signature is verified and its role is held.
package release.signers

import data.lib.lanes
import data.lib.trust
import rego.v1

# METADATA
# title: Required role without a human signature
# description: A role the lane requires has no valid signature from a human.
# custom:
#   code: signers.missing_role
#   failure_msg: "lane %s requires a valid signature from a human holding %s"
#   solution: Have a human who holds the role sign the manifest with an active key.
deny contains violation if {
	some role in lanes.lane.required_roles
	not role in human_roles
	msg := sprintf("lane %s requires a valid signature from a human holding %s", [lanes.lane_id, role])
	violation := data.lib.result.violation("signers.missing_role", msg, "/signatures")
}

# METADATA
# title: Signers are not distinct
# description: >-
#   The lane wants distinct signers and one subject's valid signatures cover two
#   or more of its required roles.
# custom:
#   code: signers.not_distinct
#   failure_msg: "%s signed for %d required roles of lane %s (%s); the lane wants a distinct signer per role"
#   solution: Have a different person sign each required role.
deny contains violation if {
	lanes.lane.distinct_signers == true
	some subject, roles in required_roles_by_subject
	count(roles) > 1
	msg := sprintf(
		"%s signed for %d required roles of lane %s (%s); the lane wants a distinct signer per role",
		[subject, count(roles), lanes.lane_id, concat(", ", sort(roles))],
	)
	violation := data.lib.result.violation("signers.not_distinct", msg, "/signatures")
}

# METADATA
# title: Release owner has not signed
# description: The release_owner has no valid signature in the release owner role.
# custom:
#   code: signers.release_owner_missing
#   failure_msg: "release owner %s has no valid signature as %s"
#   solution: Have the named release owner sign as release owner, or name the owner who signed.
deny contains violation if {
	not release_owner_signed
	msg := sprintf(
		"release owner %s has no valid signature as %s",
		[input.manifest.release_owner, release_owner_role],
	)
	violation := data.lib.result.violation("signers.release_owner_missing", msg, "/release_owner")
}

# METADATA
# title: Agent approval
# description: >-
#   An agent identity has a valid signature for a role the lane requires, is the
#   release_owner, or is the accepted_by of a residual acceptance. Agents may
#   prepare a release, never approve it.
# custom:
#   code: signers.agent_not_permitted
#   failure_msg: "%s is an agent and may prepare a release but never approve it (%s)"
#   solution: Have a human approve; an agent's signature may only accompany the humans' approvals.
deny contains violation if {
	some approval in agent_approvals
	msg := sprintf(
		"%s is an agent and may prepare a release but never approve it (%s)",
		[approval.subject, approval.what],
	)
	violation := data.lib.result.violation("signers.agent_not_permitted", msg, approval.path)
}

# human_roles are the roles held by a valid signature from a human.
human_roles contains signature.role if {
	some signature in trust.valid_signatures
	subject := signature.subject # bound before the `not`, as OPA would (docs/policy-authors.md)
	not subject in trust.agents
}

# required_roles_by_subject maps each signer to the lane's required roles their valid signatures cover.
required_roles_by_subject[subject] := roles if {
	required := lanes.lane.required_roles
	some subject in {signature.subject | some signature in trust.valid_signatures}
	roles := {signature.role |
		some signature in trust.valid_signatures
		signature.subject == subject
		signature.role in required
	}
}

# release_owner_role is the role the release owner signs as; the contract's value when
# the governance data does not set it (contract section 2 lists only signers and lanes).
release_owner_role := object.get(data.governance, "release_owner_role", "support_release_owner")

release_owner_signed if {
	some signature in trust.valid_signatures
	signature.subject == input.manifest.release_owner
	signature.role == release_owner_role
}

# agent_approvals are the places where an agent would approve: {path, subject, what}.
agent_approvals contains approval if {
	required := lanes.lane.required_roles
	some signature in trust.valid_signatures
	signature.role in required
	signature.subject in trust.agents
	approval := {
		"path": sprintf("/signatures/%d", [signature.index]),
		"subject": signature.subject,
		"what": sprintf("signature %d as %s", [signature.index, signature.role]),
	}
}

agent_approvals contains {"path": "/release_owner", "subject": owner, "what": "named as release owner"} if {
	owner := input.manifest.release_owner
	owner in trust.agents
}

agent_approvals contains approval if {
	agents := trust.agents
	some i, objection in input.manifest.objections
	objection.residual_acceptance.accepted_by in agents
	acceptance := objection.residual_acceptance
	approval := {
		"path": sprintf("/objections/%d/residual_acceptance/accepted_by", [i]),
		"subject": acceptance.accepted_by,
		"what": sprintf("residual acceptance of objection %s", [objection.id]),
	}
}
