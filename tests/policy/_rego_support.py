"""Helpers for driving the real policies on regorus from Python.

Inputs are built as docs/policy-input.md describes them; the rules are the
repository's, the governance data the tests' own (:mod:`tests.governance`) unless a
test passes its own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import regorus

from tests.governance import (
    FUTURE_TOLERANCE_SECONDS,
    MAX_EVIDENCE_AGE_SECONDS,
    governance_data,
    rule_modules,
)

NS = 1_000_000_000
HOUR_NS = 3600 * NS
#: Boundaries of the tests' governance data, evidence[0] (incident_timeline) first.
TIMELINE_MAX_NS = MAX_EVIDENCE_AGE_SECONDS["incident_timeline"] * NS
ACCOUNT_REVIEW_MAX_NS = MAX_EVIDENCE_AGE_SECONDS["account_review"] * NS
FUTURE_TOLERANCE_NS = FUTURE_TOLERANCE_SECONDS * NS
CLAMP_NS = 4_000_000_000_000_000_000
DIGEST = "sha256:" + "ab" * 32
OWNER = ("dana.whitfield@example.com", "support_release_owner", "dana-2026-01")
COMMS = ("marcus.oyelaran@example.com", "incident_communications_manager", "marcus-2026-01")
CS = ("priya.raman@example.com", "customer_success_reviewer", "priya-2026-01")
TOMAS_CS = ("tomas.lindqvist@example.com", "customer_success_reviewer", "tomas-2026-01")
TOMAS_COMMS = ("tomas.lindqvist@example.com", "incident_communications_manager", "tomas-2026-01")
AGENT_CS = ("agent:packet-assembler", "customer_success_reviewer", "packet-assembler-2026-01")
AGENT = AGENT_CS[0]
PRIYA_AS_COMMS = (CS[0], "incident_communications_manager", CS[2])  # a role she does not hold
INVALID_LAST = ["verified", "verified", "verified", "invalid"]

Input = dict[str, Any]


def signature(subject: str, role: str, key_id: str) -> dict[str, str]:
    return {
        "subject": subject,
        "role": role,
        "key_id": key_id,
        "alg": "Ed25519",
        "signature": "A" * 86,
    }


def evidence(eid: str, source: str) -> dict[str, str]:
    ref = f"{source}/{eid}"
    return {
        "id": eid,
        "ref": ref,
        "source": source,
        "digest": DIGEST,
        "observed_at": "2026-11-26T08:00:00Z",
    }


def _manifest() -> dict[str, Any]:
    acceptance = {
        "accepted_by": OWNER[0],
        "accepted_at": "2026-11-26T08:30:00Z",
        "rationale": "Stated.",
    }
    return {
        "manifest_version": "1",
        "manifest_id": "rm-2026-11-26-1",
        "created_at": "2026-11-26T08:45:00Z",
        "packet": {"id": "PKT-4711", "revision": 3, "digest": DIGEST, "supersedes_revision": 2},
        "lane": "exec-customer-review",
        "audience": ["exec-review-board", "support-leadership"],
        "requested_actions": ["route_for_executive_review", "attach_to_review_agenda"],
        "release_owner": OWNER[0],
        "objections": [
            {
                "id": "OBJ-1",
                "summary": "Wording",
                "raised_by": CS[0],
                "status": "open",
                "residual_acceptance": acceptance,
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
            evidence("EV-1", "incident_timeline"),  # an hour old: see valid_input()
            evidence("EV-2", "case_management"),
            evidence("EV-3", "entitlement"),
            evidence("EV-4", "contract_guidance"),
        ],
        "signatures": [signature(*OWNER), signature(*COMMS), signature(*CS)],
    }


def valid_input() -> Input:
    """A policy input the example lane allows."""
    manifest = _manifest()
    return {
        "manifest": manifest,
        "manifest_digest": DIGEST,
        "evaluated_at": "2026-11-26T09:00:00Z",
        "facts": {  # as the gate sends them: a packet never seen before
            "signatures": [{"status": "verified"} for _ in manifest["signatures"]],
            "evidence": [{"age_ns": HOUR_NS, "newest": None} for _ in manifest["evidence"]],
            "history": {"latest_approved_revision": None, "latest_approved_digest": None},
            "holds": [],
        },
    }


def with_signatures(
    doc: Input, *signers: tuple[str, str, str], statuses: list[str] | None = None
) -> Input:
    doc["manifest"]["signatures"] = [signature(*signer) for signer in signers]
    chosen = statuses or ["verified"] * len(signers)
    doc["facts"]["signatures"] = [{"status": status} for status in chosen]
    return doc


class Gate:
    """The repository's rules on one regorus engine; input and data cross as JSON text only.

    ``governance`` defaults to the tests' own (:func:`tests.governance.governance_data`);
    ``self.governance`` is that default, for a test to copy and change.
    """

    def __init__(self, governance: dict[str, Any] | None = None) -> None:
        self.governance: dict[str, Any] = governance_data()
        self.engine = regorus.Engine()
        for path, text in rule_modules().items():
            self.engine.add_policy(path, text)
        data = {"governance": copy.deepcopy(governance or self.governance)}
        self.engine.add_data_json(json.dumps(data))

    def decide(self, doc: Input) -> dict[str, Any]:
        self.engine.set_input_json(json.dumps(doc))
        decision = self.engine.eval_rule("data.release.gate.decision")
        assert isinstance(decision, dict), decision
        for violation in decision["violations"]:
            message = violation["message"]
            assert isinstance(message, str), violation
            assert message, violation
            for unrendered in ("%!", "%s", "%d", "%v"):
                assert unrendered not in message, message
        return decision


def found(decision: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["code"], v["path"]) for v in decision["violations"]}


def set_at(path: str, value: Any) -> Callable[[Input], Input]:
    def change(doc: Input) -> Input:
        *parents, last = path.strip("/").split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
        return doc

    return change


def acceptance_by(subject: str) -> Callable[[Input], Input]:
    return set_at("/manifest/objections/0/residual_acceptance/accepted_by", subject)
