"""Policy inputs for the parity suite, built directly as docs/policy-input.md describes.

A valid base (an allow under the tests' own governance data, :mod:`tests.governance`),
one mutation per violation family and boundary, and seeded random combinations of
mutations.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate.decision.canonical import approval_statement, manifest_digest
from release_gate.timestamps import format_ns, parse_timestamp_ns
from tests.governance import FUTURE_TOLERANCE_SECONDS, MAX_EVIDENCE_AGE_SECONDS

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"
NOW = "2026-11-26T09:00:00Z"
NOW_NS = parse_timestamp_ns(NOW)
SECOND = 1_000_000_000
CLAMP = 4_000_000_000_000_000_000
LANE = "exec-customer-review"
OWNER = "dana.whitfield@example.com"
SIG = "A" * 86  # shape only: the engines see the gate's verdict in facts

Case = dict[str, Any]  # {"manifest": ..., "facts": ...} before wrapping
Mutation = Callable[[Case], None]


def _signature(subject: str, role: str, key_id: str) -> dict[str, str]:
    return {"subject": subject, "role": role, "key_id": key_id, "alg": "Ed25519", "signature": SIG}


def _evidence(source: str, age_s: int) -> tuple[dict[str, str], int]:
    item = {
        "id": f"EV-{source}",
        "ref": f"{source}/1",
        "source": source,
        "digest": "sha256:" + "0" * 64,
        "observed_at": format_ns(NOW_NS - age_s * SECOND),
    }
    return item, age_s * SECOND


def base_case() -> Case:
    signatures = [
        _signature(OWNER, "support_release_owner", "dana-2026-01"),
        _signature(
            "marcus.oyelaran@example.com", "incident_communications_manager", "marcus-2026-01"
        ),
        _signature("priya.raman@example.com", "customer_success_reviewer", "priya-2026-01"),
    ]
    sources = ["incident_timeline", "case_management", "entitlement", "contract_guidance"]
    evidence = [_evidence(source, 3600) for source in sources]
    manifest = {
        "manifest_version": "1",
        "manifest_id": "rm-parity",
        "created_at": "2026-11-26T08:40:00Z",
        "packet": {
            "id": "PKT-1",
            "revision": 7,
            "digest": "sha256:" + "1" * 64,
            "supersedes_revision": 6,
        },
        "lane": LANE,
        "audience": ["exec-review-board", "support-leadership"],
        "requested_actions": ["route_for_executive_review"],
        "release_owner": OWNER,
        "objections": [],
        "evidence": [item for item, _ in evidence],
        "signatures": signatures,
    }
    facts = {
        "signatures": [{"status": "verified"} for _ in signatures],
        "evidence": [{"age_ns": age} for _, age in evidence],
    }
    return {"manifest": manifest, "facts": facts}


def _sign(case: Case, subject: str, role: str, key_id: str, status: str = "verified") -> None:
    case["manifest"]["signatures"].append(_signature(subject, role, key_id))
    case["facts"]["signatures"].append({"status": status})


def _drop_signature(case: Case, index: int) -> None:
    if index < len(case["manifest"]["signatures"]):
        del case["manifest"]["signatures"][index]
        del case["facts"]["signatures"][index]


def _status(status: str) -> Mutation:
    def mutate(case: Case) -> None:
        if case["facts"]["signatures"]:
            case["facts"]["signatures"][-1]["status"] = status

    return mutate


def _fact(fact: dict[str, Any]) -> Mutation:
    """Replace the last signature's fact (a gate bug or a foreign caller of the policy)."""

    def mutate(case: Case) -> None:
        if case["facts"]["signatures"]:
            case["facts"]["signatures"][-1] = copy.deepcopy(fact)

    return mutate


def _objection(status: str, accepted_by: str | None) -> Mutation:
    def mutate(case: Case) -> None:
        objections = case["manifest"]["objections"]
        acceptance = None
        if accepted_by is not None:
            acceptance = {"accepted_by": accepted_by, "accepted_at": NOW, "rationale": "ok"}
        objections.append(
            {
                "id": f"OBJ-{len(objections)}",
                "summary": "disputed wording",
                "raised_by": "priya.raman@example.com",
                "status": status,
                "residual_acceptance": acceptance,
            }
        )

    return mutate


def _age(index: int, age_ns: int) -> Mutation:
    def mutate(case: Case) -> None:
        if index < len(case["facts"]["evidence"]):
            case["facts"]["evidence"][index]["age_ns"] = age_ns

    return mutate


def _add_evidence(source: str, age_s: int) -> Mutation:
    def mutate(case: Case) -> None:
        item, age = _evidence(source, age_s)
        item["id"] += f"-{len(case['manifest']['evidence'])}"
        case["manifest"]["evidence"].append(item)
        case["facts"]["evidence"].append({"age_ns": age})

    return mutate


def _drop_evidence(index: int) -> Mutation:
    def mutate(case: Case) -> None:
        if index < len(case["manifest"]["evidence"]):
            del case["manifest"]["evidence"][index]
            del case["facts"]["evidence"][index]

    return mutate


def _set(field: str, value: Any) -> Mutation:
    def mutate(case: Case) -> None:
        case["manifest"][field] = copy.deepcopy(value)

    return mutate


def _append(field: str, value: str) -> Mutation:
    def mutate(case: Case) -> None:
        case["manifest"][field].append(value)

    return mutate


def _history(latest_approved_revision: int) -> Mutation:
    def mutate(case: Case) -> None:
        case["facts"]["history"] = {
            "latest_approved_revision": latest_approved_revision,
            "latest_approved_digest": "sha256:" + "2" * 64,
        }

    return mutate


def _hold(revision: int, lane: str | None) -> Mutation:
    def mutate(case: Case) -> None:
        case["facts"].setdefault("holds", []).append(
            {
                "hold_id": "00000000-0000-4000-8000-000000000001",
                "packet_id": case["manifest"]["packet"]["id"],
                "revision": revision,
                "lane": lane,
                "reason": "audience changed",
                "placed_by": "release-owner",
                "placed_at": "2026-11-26T08:00:00Z",
            }
        )

    return mutate


def _one_signer_two_roles(case: Case) -> None:
    _drop_signature(case, 2)
    _drop_signature(case, 1)
    _sign(case, TOMAS, "incident_communications_manager", "tomas-2026-01")
    _sign(case, TOMAS, "customer_success_reviewer", "tomas-2026-01")


TIMELINE_MAX = MAX_EVIDENCE_AGE_SECONDS["incident_timeline"] * SECOND
AHEAD = FUTURE_TOLERANCE_SECONDS
TOMAS, AGENT = "tomas.lindqvist@example.com", "agent:packet-assembler"

#: mutation name -> (mutation, the code it must raise on the embedded engine, or None)
FAMILIES: dict[str, tuple[Mutation, str | None]] = {
    "signature.unknown_key": (_status("unknown_key"), "signature.unknown_key"),
    "signature.invalid": (_status("invalid"), "signature.invalid"),
    # Fail closed on a fact without a known status: on OPA a negated `in` over a missing
    # fact was undefined, not true (docs/policy-authors.md, "regorus vs OPA").
    "signature.fact_without_status": (_fact({}), "signature.unknown_key"),
    "signature.fact_unknown_status": (_status("pending"), "signature.unknown_key"),
    "signature.role_not_held": (
        lambda c: _sign(c, "priya.raman@example.com", "support_release_owner", "priya-2026-01"),
        "signature.role_not_held",
    ),
    "signers.missing_role": (lambda c: _drop_signature(c, 1), "signers.missing_role"),
    "signers.not_distinct": (_one_signer_two_roles, "signers.not_distinct"),
    "signers.release_owner_missing": (
        _set("release_owner", "marcus.oyelaran@example.com"),
        "signers.release_owner_missing",
    ),
    "signers.agent_signs": (
        lambda c: _sign(c, AGENT, "customer_success_reviewer", "packet-assembler-2026-01"),
        "signers.agent_not_permitted",
    ),
    "signers.agent_owner": (_set("release_owner", AGENT), "signers.agent_not_permitted"),
    "signers.agent_accepts": (_objection("open", AGENT), "signers.agent_not_permitted"),
    "lane.unknown": (_set("lane", "no-such-lane"), "lane.unknown"),
    "lane.audience_out_of_scope": (
        _append("audience", "all-customers"),
        "lane.audience_out_of_scope",
    ),
    "lane.action_out_of_scope": (
        _append("requested_actions", "send_customer_credit"),
        "lane.action_out_of_scope",
    ),
    "objections.unaccepted": (_objection("open", None), "objections.unaccepted"),
    "objections.accepted_by_non_owner": (
        _objection("open", "priya.raman@example.com"),
        "objections.accepted_by_non_owner",
    ),
    "objections.resolved_is_fine": (_objection("resolved", None), None),
    "objections.owner_accepts": (_objection("open", OWNER), None),
    "evidence.missing_source": (_drop_evidence(2), "evidence.missing_source"),
    "evidence.unknown_source": (_add_evidence("hallway_chat", 60), "evidence.unknown_source"),
    "evidence.stale": (_age(0, TIMELINE_MAX + 1), "evidence.stale"),
    "evidence.exactly_max_is_fresh": (_age(0, TIMELINE_MAX), None),
    "evidence.future_timestamp": (_age(1, -(AHEAD + 1) * SECOND), "evidence.future_timestamp"),
    "evidence.60s_ahead_is_fine": (_age(1, -AHEAD * SECOND), None),
    "evidence.clamped_old": (_age(3, CLAMP), "evidence.stale"),
    "evidence.clamped_future": (_age(3, -CLAMP), "evidence.future_timestamp"),
    "evidence.optional_source_fresh": (_add_evidence("account_review", 60), None),
    # From the decision store (docs/audit.md): the base is revision 7, supersedes 6.
    "packet.superseded": (_history(8), "packet.superseded"),
    "packet.supersedes_not_latest": (_history(5), "packet.superseded"),
    "packet.next_revision_is_fine": (_history(6), None),
    "packet.same_revision_again_is_fine": (_history(7), None),
    "packet.on_hold": (_hold(7, None), "packet.on_hold"),
    "packet.on_hold_in_this_lane": (_hold(7, LANE), "packet.on_hold"),
    "packet.hold_elsewhere_is_fine": (_hold(7, "other-lane"), None),
    "packet.hold_on_another_revision_is_fine": (_hold(6, None), None),
    "no_signatures": (_set("signatures", []), "signers.missing_role"),
    "no_evidence": (_set("evidence", []), "evidence.missing_source"),
    "unicode_owner": (
        _set("release_owner", "zo\u00eb.\u00e5berg@example.com"),
        "signers.release_owner_missing",
    ),
}


def _fix_lengths(case: Case) -> None:
    """Keep facts index-aligned after mutations that replaced whole arrays."""
    for key, fact in (("signatures", {"status": "verified"}), ("evidence", {"age_ns": 0})):
        items, facts = case["manifest"][key], case["facts"][key]
        del facts[len(items) :]
        facts.extend(copy.deepcopy(fact) for _ in range(len(items) - len(facts)))


def policy_input(case: Case) -> str:
    _fix_lengths(case)
    manifest = case["manifest"]
    value = {
        "manifest": manifest,
        "manifest_digest": manifest_digest(manifest),
        "evaluated_at": NOW,
        "facts": case["facts"],
    }
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def family_case(name: str) -> str:
    case = base_case()
    FAMILIES[name][0](case)
    return policy_input(case)


def random_cases(count: int, *, seed: int) -> Iterator[tuple[str, str]]:
    """``count`` (label, input) pairs, each the base with 1-5 random mutations."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
    names = sorted(FAMILIES)
    for i in range(count):
        chosen = rng.sample(names, rng.randint(1, 5))
        case = base_case()
        for name in chosen:
            FAMILIES[name][0](case)
        yield f"random-{i}:{'+'.join(chosen)}", policy_input(case)


def _statuses(manifest: dict[str, Any], digest: str, governance: dict[str, Any]) -> list[str]:
    out = []
    for sig in manifest["signatures"]:
        keys = governance["signers"].get(sig["subject"], {}).get("keys", [])
        match = [k for k in keys if k["key_id"] == sig["key_id"] and k["status"] == "active"]
        if not match:
            out.append("unknown_key")
            continue
        raw_key = base64.urlsafe_b64decode(match[0]["public_key"] + "=")
        key = Ed25519PublicKey.from_public_bytes(raw_key)
        statement = approval_statement(
            manifest_digest=digest, subject=sig["subject"], role=sig["role"]
        )
        try:
            key.verify(base64.urlsafe_b64decode(sig["signature"] + "=="), statement)
            out.append("verified")
        except InvalidSignature:
            out.append("invalid")
    return out


def example_inputs(governance: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every example manifest, with facts computed as the gate computes them, at NOW."""
    for path in sorted(EXAMPLES.glob("*.json")):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        digest = manifest_digest(manifest)
        ages = [NOW_NS - parse_timestamp_ns(e["observed_at"]) for e in manifest["evidence"]]
        facts = {
            "signatures": [{"status": s} for s in _statuses(manifest, digest, governance)],
            "evidence": [{"age_ns": max(-CLAMP, min(CLAMP, age))} for age in ages],
        }
        value = {"manifest": manifest, "manifest_digest": digest, "evaluated_at": NOW}
        value["facts"] = facts
        yield path.stem, json.dumps(value, ensure_ascii=False, separators=(",", ":"))
