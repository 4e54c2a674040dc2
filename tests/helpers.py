"""Test helpers: demo signers, manifest builders, JSON posting."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from release_gate.decision.signatures import sign_manifest
from release_gate.keys.signing import load_private_key

ROOT = Path(__file__).resolve().parent.parent
#: The shipped bundle: its rules and its governance owner's data. Never run a gate on it
#: (the data is not the tests' to rely on): use the ``gate_policies`` fixture, or write a
#: bundle of your own with :func:`tests.governance.write_bundle`.
POLICIES = ROOT / "policies"
DEMO_KEYS = ROOT / "manifests" / "examples" / "keys"
LANE = "exec-customer-review"

# (subject, role, key_id, demo key file stem)
OWNER = ("dana.whitfield@example.com", "support_release_owner", "dana-2026-01", "dana-whitfield")
COMMS = (
    "marcus.oyelaran@example.com",
    "incident_communications_manager",
    "marcus-2026-01",
    "marcus-oyelaran",
)
CS = ("priya.raman@example.com", "customer_success_reviewer", "priya-2026-01", "priya-raman")
AGENT = (
    "agent:packet-assembler",
    "customer_success_reviewer",
    "packet-assembler-2026-01",
    "packet-assembler-agent",
)
DEFAULT_SIGNERS = (OWNER, COMMS, CS)
Signer = tuple[str, str, str, str]
ManifestFactory = Callable[..., dict[str, Any]]


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def base_manifest(now: dt.datetime | None = None) -> dict[str, Any]:
    """An unsigned manifest that the tests' lane (:mod:`tests.governance`) approves at ``now``."""
    now = now or dt.datetime.now(dt.UTC)
    ago = lambda **kw: rfc3339(now - dt.timedelta(**kw))  # noqa: E731
    return {
        "manifest_version": "1",
        "manifest_id": "rm-test-1",
        "created_at": ago(minutes=5),
        "packet": {
            "id": "PKT-TEST-1",
            "revision": 3,
            "digest": sha256("packet revision 3"),
            "supersedes_revision": 2,
        },
        "lane": LANE,
        "audience": ["exec-review-board"],
        "requested_actions": ["route_for_executive_review"],
        "release_owner": OWNER[0],
        "objections": [
            {
                "id": "OBJ-1",
                "summary": "Restoration wording disputed",
                "raised_by": CS[0],
                "status": "open",
                "residual_acceptance": {
                    "accepted_by": OWNER[0],
                    "accepted_at": ago(minutes=10),
                    "rationale": "Caveat stated in the packet.",
                },
            },
            {
                "id": "OBJ-2",
                "summary": "Start time",
                "raised_by": COMMS[0],
                "status": "resolved",
                "residual_acceptance": None,
            },
        ],
        "evidence": [
            _evidence("EV-1", "incident_timeline", ago(hours=1)),
            _evidence("EV-2", "case_management", ago(hours=2)),
            _evidence("EV-3", "entitlement", ago(days=1)),
            _evidence("EV-4", "contract_guidance", ago(days=3)),
        ],
        "signatures": [],
    }


def _evidence(eid: str, source: str, observed_at: str) -> dict[str, Any]:
    return {
        "id": eid,
        "ref": f"{source}/{eid}",
        "source": source,
        "digest": sha256(eid),
        "observed_at": observed_at,
    }


def sign(document: dict[str, Any], *signers: Signer) -> dict[str, Any]:
    for subject, role, key_id, stem in signers:
        key = load_private_key(DEMO_KEYS / f"{stem}.demo-key.pem").private_key
        document = sign_manifest(
            document, private_key=key, subject=subject, role=role, key_id=key_id
        )
    return document


def post_json(client: TestClient, path: str, value: Any) -> Any:
    return client.post(
        path, content=json.dumps(value).encode(), headers={"content-type": "application/json"}
    )


#: Contract section 3, the table of violation codes.
def documented_codes() -> frozenset[str]:
    """The codes of docs/violation-codes.md's table: what the policies must implement."""
    text = (ROOT / "docs" / "violation-codes.md").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, flags=re.MULTILINE))


#: The contract's 16 codes (section 3), evidence.superseded (section 9) and our two
#: packet.* additions; every one must stay implemented (a policy may add more: see
#: documented_codes()).
CONTRACT_CODES = frozenset(
    {
        "signature.unknown_key",
        "signature.invalid",
        "signature.role_not_held",
        "signers.missing_role",
        "signers.not_distinct",
        "signers.release_owner_missing",
        "signers.agent_not_permitted",
        "lane.unknown",
        "lane.audience_out_of_scope",
        "lane.action_out_of_scope",
        "objections.unaccepted",
        "objections.accepted_by_non_owner",
        "evidence.missing_source",
        "evidence.unknown_source",
        "evidence.stale",
        "evidence.future_timestamp",
        # contract section 9: from the evidence events of source systems
        "evidence.superseded",
        # issue 3: from the decision store's history and holds (docs/audit.md)
        "packet.superseded",
        "packet.on_hold",
    }
)
