# METADATA
# title: Test fixtures
# description: >-
#   A small governance document and a fully valid policy input (docs/policy-input.md)
#   that every test starts from and changes one thing in. Rules, not functions:
#   the embedded engine resolves functions only by their full data path.
package release.fixtures_test

import rego.v1

lane_id := "exec-customer-review"

governance := {
	"release_owner_role": "support_release_owner",
	"future_tolerance_seconds": 60,
	"signers": {
		"dana.whitfield@example.com": {"kind": "human", "roles": ["support_release_owner"], "keys": []},
		"marcus.oyelaran@example.com": {"kind": "human", "roles": ["incident_communications_manager"], "keys": []},
		"priya.raman@example.com": {"roles": ["customer_success_reviewer"], "keys": []},
		"tomas.lindqvist@example.com": {
			"roles": ["customer_success_reviewer", "incident_communications_manager"],
			"keys": [],
		},
		"agent:packet-assembler": {
			"kind": "agent",
			"roles": ["customer_success_reviewer", "packet_preparer"],
			"keys": [],
		},
	},
	"lanes": {lane_id: lane},
}

lane := {
	"required_roles": ["support_release_owner", "incident_communications_manager", "customer_success_reviewer"],
	"allowed_audience": ["exec-review-board", "customer-success-leadership", "support-leadership"],
	"allowed_actions": ["route_for_executive_review", "attach_to_review_agenda"],
	"required_evidence_sources": ["incident_timeline", "case_management", "entitlement", "contract_guidance"],
	"max_evidence_age_seconds": {
		"incident_timeline": 21600,
		"case_management": 86400,
		"entitlement": 604800,
		"contract_guidance": 2592000,
		"account_review": 1209600,
	},
	"distinct_signers": true,
	"token_ttl_seconds": 900,
}

# governance_not_distinct is the same governance with distinct_signers off.
governance_not_distinct := object.union(governance, {"lanes": {lane_id: {"distinct_signers": false}}})

owner := "dana.whitfield@example.com"

sig_owner := signature("dana.whitfield@example.com", "support_release_owner", "dana-2026-01")

sig_comms := signature("marcus.oyelaran@example.com", "incident_communications_manager", "marcus-2026-01")

sig_cs := signature("priya.raman@example.com", "customer_success_reviewer", "priya-2026-01")

# signatures that do not fit: wrong role, unknown subject, one person for two roles, an agent
sig_priya_as_owner := signature("priya.raman@example.com", "support_release_owner", "priya-2026-01")

sig_stranger := signature("mallory@example.com", "customer_success_reviewer", "mallory-1")

sig_tomas_cs := signature("tomas.lindqvist@example.com", "customer_success_reviewer", "tomas-2026-01")

sig_tomas_comms := signature("tomas.lindqvist@example.com", "incident_communications_manager", "tomas-2026-01")

sig_agent_cs := signature("agent:packet-assembler", "customer_success_reviewer", "packet-assembler-2026-01")

sig_agent_preparer := signature("agent:packet-assembler", "packet_preparer", "packet-assembler-2026-01")

signature(subject, role, key_id) := {
	"subject": subject,
	"role": role,
	"key_id": key_id,
	"alg": "Ed25519",
	"signature": signature_bytes,
}

verified := {"status": "verified"}

# placeholders: the gate checks formats and cryptography before the policy runs
digest := "sha256:abababababababababababababababababababababababababababababababab"

signature_bytes := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

accepted_objection := {
	"id": "obj-1",
	"summary": "Customer success wants the churn-risk figure phrased as a range.",
	"raised_by": "priya.raman@example.com",
	"status": "open",
	"residual_acceptance": {
		"accepted_by": owner,
		"accepted_at": "2026-11-26T08:30:00Z",
		"rationale": "The point estimate is what the incident review board asked for.",
	},
}

resolved_objection := {
	"id": "obj-2",
	"summary": "Timeline omitted the second failover.",
	"raised_by": "marcus.oyelaran@example.com",
	"status": "resolved",
	"residual_acceptance": null,
}

evidence := [
	evidence_item("ev-1", "incident_timeline"),
	evidence_item("ev-2", "case_management"),
	evidence_item("ev-3", "entitlement"),
	evidence_item("ev-4", "contract_guidance"),
	evidence_item("ev-5", "account_review"),
]

evidence_item(id, source) := {
	"id": id,
	"ref": sprintf("%s/%s", [source, id]),
	"source": source,
	"digest": digest,
	"observed_at": "2026-11-26T08:00:00Z",
}

# one hour old: fresh for every source of the lane
hour_ns := 3600000000000

evidence_facts := [{"age_ns": hour_ns} | some _ in evidence]

manifest := {
	"manifest_version": "1",
	"manifest_id": "rel-2026-11-26-001",
	"created_at": "2026-11-26T08:45:00Z",
	"packet": {"id": "pkt-incident-4711", "revision": 3, "digest": digest, "supersedes_revision": 2},
	"lane": lane_id,
	"audience": ["exec-review-board", "support-leadership"],
	"requested_actions": ["route_for_executive_review"],
	"release_owner": owner,
	"objections": [accepted_objection, resolved_objection],
	"evidence": evidence,
	"signatures": [sig_owner, sig_comms, sig_cs],
}

# valid_input allows: every rule passes.
valid_input := {
	"manifest": manifest,
	"manifest_digest": digest,
	"evaluated_at": "2026-11-26T09:00:00Z",
	"facts": {
		"signatures": [verified, verified, verified],
		"evidence": evidence_facts,
		"history": no_history,
		"holds": [],
	},
}

# no_history: the store has never approved this packet in this lane.
no_history := {"latest_approved_revision": null, "latest_approved_digest": null}
