"""Policy inputs for the parity suite, built directly as docs/policy-input.md describes.

A valid base (an allow under the suite's own governance data,
:mod:`tests.parity.governance`), one mutation per violation family and
boundary, and seeded random combinations of mutations. Thresholds, subjects and
key ids come from that module, never from ``policies/governance/data.json``.

A mutation changes a :data:`Case` in place: ``manifest``, ``facts``, and
optionally ``evaluated_at`` (the instant the policy sees, :data:`NOW` by default).
:data:`STAGED_FAMILIES` are evaluated on the staged example bundle of
:mod:`tests.levels` (a warn rule, a deny rule with ``custom.effective_on``).
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
from tests.levels import EFFECTIVE_ON_NS, MIN_RATIONALE
from tests.levels import governance as staged_governance
from tests.parity.governance import (
    AGENT,
    COMMS,
    COMMS_ROLE,
    CS,
    CS_ROLE,
    FUTURE_TOLERANCE_SECONDS,
    LANE,
    MAX_AGE_SECONDS,
    OPTIONAL_SOURCE,
    OWNER,
    OWNER_ROLE,
    REQUIRED_SOURCES,
    TOMAS,
    key_id,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"
NOW = "2026-11-26T09:00:00Z"
NOW_NS = parse_timestamp_ns(NOW)
SECOND = 1_000_000_000
CLAMP = 4_000_000_000_000_000_000
SIG = "A" * 86  # shape only: the engines see the gate's verdict in facts
CITED = "sha256:" + "0" * 64  # the snapshot every evidence item of the base cites

Case = dict[str, Any]  # {"manifest": ..., "facts": ..., ["evaluated_at": ...]} before wrapping
Mutation = Callable[[Case], None]


def _signature(subject: str, role: str, key_id: str) -> dict[str, str]:
    return {"subject": subject, "role": role, "key_id": key_id, "alg": "Ed25519", "signature": SIG}


def _evidence(source: str, age_s: int) -> tuple[dict[str, str], int]:
    item = {
        "id": f"EV-{source}",
        "ref": f"{source}/1",
        "source": source,
        "digest": CITED,
        "observed_at": format_ns(NOW_NS - age_s * SECOND),
    }
    return item, age_s * SECOND


def base_case() -> Case:
    signatures = [
        _signature(OWNER, OWNER_ROLE, key_id(OWNER)),
        _signature(COMMS, COMMS_ROLE, key_id(COMMS)),
        _signature(CS, CS_ROLE, key_id(CS)),
    ]
    evidence = [_evidence(source, 3600) for source in REQUIRED_SOURCES]
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
    facts = {  # as the gate sends them (docs/policy-input.md): a packet never seen before
        "signatures": [{"status": "verified"} for _ in signatures],
        "evidence": [{"age_ns": age, "newest": None} for _, age in evidence],
        "history": {"latest_approved_revision": None, "latest_approved_digest": None},
        "holds": [],
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
                "raised_by": CS,
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
        case["facts"]["evidence"].append({"age_ns": age, "newest": None})

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


def _newest(index: int, digest: str | None) -> Mutation:
    """A source system's newest material snapshot of evidence ``index`` (None: it reported none)."""

    def mutate(case: Case) -> None:
        if index < len(case["facts"]["evidence"]):
            newest = None if digest is None else {"digest": digest, "observed_at": REPLACED_AT}
            case["facts"]["evidence"][index]["newest"] = newest

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
        case["facts"]["holds"].append(
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
    _sign(case, TOMAS, COMMS_ROLE, key_id(TOMAS))
    _sign(case, TOMAS, CS_ROLE, key_id(TOMAS))


REPLACED_AT = "2026-11-26T08:55:00.5+01:00"

TIMELINE_MAX = MAX_AGE_SECONDS["incident_timeline"] * SECOND
AHEAD = FUTURE_TOLERANCE_SECONDS * SECOND

#: mutation name -> (mutation, the code it must raise on the embedded engine, or None)
FAMILIES: dict[str, tuple[Mutation, str | None]] = {
    "signature.unknown_key": (_status("unknown_key"), "signature.unknown_key"),
    "signature.invalid": (_status("invalid"), "signature.invalid"),
    # Fail closed on a fact without a known status: on OPA a negated `in` over a missing
    # fact was undefined, not true (docs/policy-authors.md, "regorus vs OPA").
    "signature.fact_without_status": (_fact({}), "signature.unknown_key"),
    "signature.fact_unknown_status": (_status("pending"), "signature.unknown_key"),
    "signature.role_not_held": (
        lambda c: _sign(c, CS, OWNER_ROLE, key_id(CS)),
        "signature.role_not_held",
    ),
    "signers.missing_role": (lambda c: _drop_signature(c, 1), "signers.missing_role"),
    "signers.not_distinct": (_one_signer_two_roles, "signers.not_distinct"),
    "signers.release_owner_missing": (
        _set("release_owner", COMMS),
        "signers.release_owner_missing",
    ),
    "signers.agent_signs": (
        lambda c: _sign(c, AGENT, CS_ROLE, key_id(AGENT)),
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
        _objection("open", CS),
        "objections.accepted_by_non_owner",
    ),
    "objections.resolved_is_fine": (_objection("resolved", None), None),
    "objections.owner_accepts": (_objection("open", OWNER), None),
    "evidence.missing_source": (_drop_evidence(2), "evidence.missing_source"),
    "evidence.unknown_source": (_add_evidence("hallway_chat", 60), "evidence.unknown_source"),
    "evidence.stale": (_age(0, TIMELINE_MAX + 1), "evidence.stale"),
    "evidence.exactly_max_is_fresh": (_age(0, TIMELINE_MAX), None),
    "evidence.future_timestamp": (_age(1, -AHEAD - SECOND), "evidence.future_timestamp"),
    "evidence.tolerance_ahead_is_fine": (_age(1, -AHEAD), None),
    "evidence.clamped_old": (_age(3, CLAMP), "evidence.stale"),
    "evidence.clamped_future": (_age(3, -CLAMP), "evidence.future_timestamp"),
    "evidence.optional_source_fresh": (_add_evidence(OPTIONAL_SOURCE, 60), None),
    # From evidence events (contract section 9): the newest material snapshot of an item
    "evidence.superseded": (_newest(2, "sha256:" + "3" * 64), "evidence.superseded"),
    "evidence.newest_is_the_cited_snapshot": (_newest(2, CITED), None),
    "evidence.no_snapshot_reported": (_newest(2, None), None),
    # From the decision store (docs/audit.md): the base is revision 7, supersedes 6.
    "packet.superseded": (_history(8), "packet.superseded"),
    "packet.supersedes_not_latest": (_history(5), "packet.superseded"),
    "packet.next_revision_is_fine": (_history(6), None),
    "packet.same_revision_again_is_fine": (_history(7), None),
    "packet.on_hold": (_hold(7, None), "packet.on_hold"),
    "packet.on_hold_in_this_lane": (_hold(7, LANE), "packet.on_hold"),
    "packet.hold_elsewhere_is_fine": (_hold(7, "other-lane"), None),
    "packet.hold_on_another_revision_is_fine": (_hold(6, None), None),
    # durations in messages (contract section 8): days and hours, minutes and seconds
    "evidence.stale_by_days": (_age(3, (2592000 + 90061) * SECOND + 5), "evidence.stale"),
    "evidence.future_by_minutes": (
        _age(1, -(90 * SECOND + 500_000_000)),
        "evidence.future_timestamp",
    ),
    "no_signatures": (_set("signatures", []), "signers.missing_role"),
    "no_evidence": (_set("evidence", []), "evidence.missing_source"),
    "unicode_owner": (
        _set("release_owner", "zo\u00eb.\u00e5berg@example.com"),
        "signers.release_owner_missing",
    ),
}


#: family -> the message it must report, on both engines (contract section 8).
MESSAGES: dict[str, str] = {
    "evidence.stale": "evidence EV-incident_timeline from incident_timeline is 2h old, "
    "over the 2h maximum",
    "evidence.stale_by_days": "evidence EV-contract_guidance from contract_guidance is "
    "31d 1h old, over the 30d maximum",
    "evidence.future_by_minutes": "evidence EV-case_management from case_management is "
    "observed 1m 30s after the evaluation time",
    "evidence.superseded": "evidence EV-entitlement from entitlement was replaced by a "
    "snapshot observed at 2026-11-26T08:55:00.5+01:00",
    "evidence.clamped_old": "evidence EV-contract_guidance from contract_guidance is "
    "46296d 7h old, over the 30d maximum",
}


def _at(offset_ns: int | None) -> Mutation:
    """Evaluate at the staged rule's effective_on plus ``offset_ns`` (None: no evaluation time)."""

    def mutate(case: Case) -> None:
        case["evaluated_at"] = None if offset_ns is None else format_ns(EFFECTIVE_ON_NS + offset_ns)

    return mutate


def _rationale(length: int) -> Mutation:
    def mutate(case: Case) -> None:
        _objection("open", OWNER)(case)
        case["manifest"]["objections"][-1]["residual_acceptance"]["rationale"] = "r" * length

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(case: Case) -> None:
        for mutation in mutations:
            mutation(case)

    return mutate


_SHORT = _rationale(MIN_RATIONALE - 1)
_MICROSECOND = 1000

#: The staged example bundle (tests/levels.py): name -> (mutation, violation codes, warning codes).
#: It has thresholds of its own: the timeline's maximum age there, not the parity data's.
_AGING = frozenset({"evidence.aging"})
_STAGED_MAX = (
    staged_governance()["lanes"][LANE]["max_evidence_age_seconds"]["incident_timeline"] * SECOND
)

STAGED_FAMILIES: dict[str, tuple[Mutation, frozenset[str], frozenset[str]]] = {
    "warn.aging": (_age(0, 4 * 3600 * SECOND), frozenset(), _AGING),
    "warn.aging_at_the_maximum": (_age(0, _STAGED_MAX), frozenset(), _AGING),
    "warn.half_the_maximum_is_fine": (_age(0, _STAGED_MAX // 2), frozenset(), frozenset()),
    "warn.stale_is_no_longer_a_warning": (
        _age(0, _STAGED_MAX + 1),
        frozenset({"evidence.stale"}),
        frozenset(),
    ),
    "staged.before_effective_on": (
        _both(_SHORT, _at(-_MICROSECOND)),
        frozenset(),
        frozenset({"objections.rationale_too_short"}),
    ),
    "staged.exactly_effective_on": (
        _both(_SHORT, _at(0)),
        frozenset({"objections.rationale_too_short"}),
        frozenset(),
    ),
    "staged.after_effective_on": (
        _both(_SHORT, _at(SECOND)),
        frozenset({"objections.rationale_too_short"}),
        frozenset(),
    ),
    "staged.without_evaluation_time": (
        _both(_SHORT, _at(None)),
        frozenset({"objections.rationale_too_short"}),
        frozenset(),
    ),
    "staged.long_enough_rationale_is_fine": (
        _both(_rationale(MIN_RATIONALE), _at(-_MICROSECOND)),
        frozenset(),
        frozenset(),
    ),
    "staged.warning_beside_a_violation": (
        _both(_SHORT, _at(-_MICROSECOND), _set("lane", "no-such-lane")),
        frozenset({"lane.unknown"}),
        frozenset({"objections.rationale_too_short"}),
    ),
}


def _fix_lengths(case: Case) -> None:
    """Keep facts index-aligned after mutations that replaced whole arrays."""
    for key, fact in (
        ("signatures", {"status": "verified"}),
        ("evidence", {"age_ns": 0, "newest": None}),
    ):
        items, facts = case["manifest"][key], case["facts"][key]
        del facts[len(items) :]
        facts.extend(copy.deepcopy(fact) for _ in range(len(items) - len(facts)))


def policy_input(case: Case) -> str:
    _fix_lengths(case)
    manifest = case["manifest"]
    value = {
        "manifest": manifest,
        "manifest_digest": manifest_digest(manifest),
        "evaluated_at": case.get("evaluated_at", NOW),
        "facts": case["facts"],
    }
    if value["evaluated_at"] is None:
        del value["evaluated_at"]
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def family_case(name: str) -> str:
    case = base_case()
    FAMILIES[name][0](case)
    return policy_input(case)


def staged_case(name: str) -> str:
    case = base_case()
    STAGED_FAMILIES[name][0](case)
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
            "evidence": [{"age_ns": max(-CLAMP, min(CLAMP, age)), "newest": None} for age in ages],
            "history": {"latest_approved_revision": None, "latest_approved_digest": None},
            "holds": [],
        }
        value = {"manifest": manifest, "manifest_digest": digest, "evaluated_at": NOW}
        value["facts"] = facts
        yield path.stem, json.dumps(value, ensure_ascii=False, separators=(",", ":"))
