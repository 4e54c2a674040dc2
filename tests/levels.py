"""A staged rollout, as governance owners would write one, in a bundle of the tests' own.

:func:`write_staged_policies` copies ``policies/`` (its Rego, not its governance
data) and adds two rules a governance owner might roll out, with governance data
built here from the labelled demo keys (never the shipped ``data.json``):

- ``evidence.aging``, a ``warn`` rule: evidence older than half its lane's
  maximum age. It never denies; it tells the workspace to re-read evidence
  before it goes stale during the review.
- ``objections.rationale_too_short``, a ``deny`` rule with
  ``custom.effective_on`` :data:`EFFECTIVE_ON`: a residual acceptance whose
  rationale is shorter than ``min_rationale_characters``. Before that instant
  its findings are warnings (the workspace has time to adapt), from it on
  violations.

The shipped policy has neither rule: which rules ship is the governance owners' call.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from release_gate.keys.signing import load_private_key
from release_gate.timestamps import parse_timestamp_ns
from release_gate_client.b64url import b64url_encode
from tests.helpers import AGENT, COMMS, CS, DEMO_KEYS, LANE, OWNER, POLICIES, Signer

#: When objections.rationale_too_short starts to deny: 09:00Z, written with an offset.
EFFECTIVE_ON = "2026-11-26T10:00:00+01:00"
EFFECTIVE_ON_NS = parse_timestamp_ns(EFFECTIVE_ON)
MIN_RATIONALE = 20
REVISION = "staged-example-1"

WARN_RULE = """
# METADATA
# title: Evidence close to its maximum age
# description: >-
#   The evidence is older than half the lane's maximum age for its source: it is
#   still fresh, but may be stale before the review ends.
# custom:
#   code: evidence.aging
#   failure_msg: "evidence %s from %s is %s old, over half the %s maximum"
#   solution: Re-read the evidence from its system before the review, and re-sign the manifest.
warn contains finding if {
	max_ages := lanes.lane.max_evidence_age_seconds
	scale := units.ns_per_second
	some i, item in input.manifest.evidence
	max_age := max_ages[item.source]
	age_ns := input.facts.evidence[i].age_ns
	age_ns * 2 > max_age * scale
	age_ns <= max_age * scale
	msg := sprintf(
		"evidence %s from %s is %s old, over half the %s maximum",
		[
			item.id,
			item.source,
			data.lib.units.duration(data.lib.units.whole_seconds(age_ns)),
			data.lib.units.duration(max_age),
		],
	)
	finding := data.lib.result.violation("evidence.aging", msg, sprintf("/evidence/%d", [i]))
}
"""

STAGED_RULE = f"""
# METADATA
# title: Residual acceptance without a stated reason
# description: >-
#   A residual acceptance whose rationale is shorter than the governance
#   owners' minimum. Warns until {EFFECTIVE_ON}, denies from then on.
# custom:
#   code: objections.rationale_too_short
#   failure_msg: "residual acceptance of objection %s has a rationale of %d characters, under %d"
#   solution: Have the release owner say why the disagreement is acceptable, in a full sentence.
#   effective_on: "{EFFECTIVE_ON}"
deny contains violation if {{
	minimum := data.governance.min_rationale_characters
	some i, objection in input.manifest.objections
	rationale := objection.residual_acceptance.rationale
	count(rationale) < minimum
	msg := sprintf(
		"residual acceptance of objection %s has a rationale of %d characters, under %d",
		[objection.id, count(rationale), minimum],
	)
	violation := data.lib.result.staged_violation(
		"objections.rationale_too_short", msg, sprintf("/objections/%d", [i]),
		"{EFFECTIVE_ON}",
	)
}}
"""

_TOMAS = ("tomas.lindqvist@example.com", "", "tomas-2026-01", "tomas-lindqvist")


def _public_key(stem: str) -> str:
    key = load_private_key(DEMO_KEYS / f"{stem}.demo-key.pem").public_key
    return b64url_encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def _signer(signer: Signer, roles: list[str], kind: str = "human") -> dict[str, Any]:
    _, _, key_id, stem = signer
    key = {"key_id": key_id, "alg": "Ed25519", "public_key": _public_key(stem), "status": "active"}
    return {"kind": kind, "roles": roles, "keys": [key]}


def governance() -> dict[str, Any]:
    """The staged bundle's ``data.governance``: the demo signers and one lane."""
    return {
        "release_owner_role": "support_release_owner",
        "future_tolerance_seconds": 60,
        "min_rationale_characters": MIN_RATIONALE,
        "signers": {
            OWNER[0]: _signer(OWNER, ["support_release_owner"]),
            COMMS[0]: _signer(COMMS, ["incident_communications_manager"]),
            CS[0]: _signer(CS, ["customer_success_reviewer"]),
            _TOMAS[0]: _signer(
                _TOMAS, ["customer_success_reviewer", "incident_communications_manager"]
            ),
            AGENT[0]: _signer(AGENT, ["customer_success_reviewer", "packet_preparer"], "agent"),
        },
        "lanes": {
            LANE: {
                "required_roles": [
                    "support_release_owner",
                    "incident_communications_manager",
                    "customer_success_reviewer",
                ],
                "allowed_audience": [
                    "exec-review-board",
                    "customer-success-leadership",
                    "support-leadership",
                ],
                "allowed_actions": ["route_for_executive_review", "attach_to_review_agenda"],
                "required_evidence_sources": [
                    "incident_timeline",
                    "case_management",
                    "entitlement",
                    "contract_guidance",
                ],
                "max_evidence_age_seconds": {
                    "incident_timeline": 21600,
                    "case_management": 86400,
                    "entitlement": 604800,
                    "contract_guidance": 2592000,
                    "account_review": 1209600,
                },
                "distinct_signers": True,
                "token_ttl_seconds": 900,
            }
        },
    }


def write_staged_policies(root: Path) -> Path:
    """``policies/`` with the two staged rules and :func:`governance`, at ``root``."""
    shutil.copytree(POLICIES, root)
    for path, rule in (("evidence.rego", WARN_RULE), ("objections.rego", STAGED_RULE)):
        module = root / "release" / path
        module.write_text(module.read_text(encoding="utf-8") + rule, encoding="utf-8")
    (root / "governance" / "data.json").write_text(json.dumps(governance(), indent=2) + "\n")
    manifest = json.loads((root / ".manifest").read_text(encoding="utf-8"))
    (root / ".manifest").write_text(json.dumps({**manifest, "revision": REVISION}) + "\n")
    return root
