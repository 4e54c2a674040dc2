"""The packet pages' test world: its own trust store, its own keys, one packet's story.

Nothing here reads the shipped ``policies/governance/data.json``: :func:`write_trust`
copies the Rego modules and writes governance data of its own, with signer keys
made at test time. :func:`seed_story` then tells one packet's story through the
real HTTP API (approve revision 6, approve revision 7 with accepted residual
disagreement, hold it, deny revision 8), plus a second packet in a second lane;
then the intake lane reports revision 6 returned and the incident timeline
reports a material correction of the packet's timeline evidence.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.decision.signatures import sign_manifest
from release_gate.keys.api_keys import generate_key, hash_key
from release_gate_client.jwk import public_jwk
from tests.helpers import ROOT

LANE = "exec-customer-review"
OTHER_LANE = "exec-board-digest"
PACKET = "PKT-2026-0417"
OTHER_PACKET = "PKT-2026-0502"

#: who -> (subject, role, key_id)
PEOPLE = {
    "owner": ("nadia.okafor@example.com", "support_release_owner", "nadia-ui-1"),
    "comms": ("li.wei@example.com", "incident_communications_manager", "li-ui-1"),
    "cs": ("sam.ortiz@example.com", "customer_success_reviewer", "sam-ui-1"),
}
ALL_SIGNERS = ("owner", "comms", "cs")

#: The story's human text, as a person should read it on the page.
R6_RETURNED = "The outage start in the timeline predates its correction"
TIMELINE_NOTE = "Outage start corrected from 07:40 to 08:12 UTC"
R7_OBJECTION = "Restoration time in the timeline is disputed by customer success"
R7_RATIONALE = "The caveat paragraph states the dispute verbatim; executives decide."
HOLD_REASON = "Executive audience changed: re-check the scope before routing"


@dataclass(frozen=True)
class Trust:
    """A copy of the policies whose governance data (and signer keys) the tests own."""

    policies: Path
    keys: dict[str, Ed25519PrivateKey] = field(repr=False)

    def sign(self, document: dict[str, Any], *who: str) -> dict[str, Any]:
        for name in who:
            subject, role, key_id = PEOPLE[name]
            document = sign_manifest(
                document, private_key=self.keys[key_id], subject=subject, role=role, key_id=key_id
            )
        return document


def _lane() -> dict[str, Any]:
    return {
        "required_roles": sorted({role for _, role, _ in PEOPLE.values()}),
        "allowed_audience": ["exec-review-board"],
        "allowed_actions": ["route_for_executive_review"],
        "required_evidence_sources": ["incident_timeline", "case_management"],
        "max_evidence_age_seconds": {"incident_timeline": 86400, "case_management": 86400},
        "distinct_signers": True,
        "token_ttl_seconds": 900,
    }


def write_trust(target: Path) -> Trust:
    """Copy the Rego policies to ``target`` and write governance data of our own."""
    shutil.copytree(ROOT / "policies", target, ignore=shutil.ignore_patterns("tests"))
    keys: dict[str, Ed25519PrivateKey] = {}
    signers: dict[str, Any] = {}
    for subject, role, key_id in PEOPLE.values():
        keys[key_id] = Ed25519PrivateKey.generate()
        public = public_jwk(keys[key_id].public_key(), kid="-")["x"]
        signers[subject] = {
            "kind": "human",
            "roles": [role],
            "keys": [
                {"key_id": key_id, "alg": "Ed25519", "public_key": public, "status": "active"}
            ],
        }
    data = {
        "release_owner_role": "support_release_owner",
        "future_tolerance_seconds": 60,
        "signers": signers,
        "lanes": {LANE: _lane(), OTHER_LANE: _lane()},
    }
    (target / "governance" / "data.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return Trust(policies=target, keys=keys)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def objection(oid: str, summary: str, *, rationale: str | None) -> dict[str, Any]:
    """An open objection, accepted by the release owner when ``rationale`` is given."""
    accepted = None
    if rationale is not None:
        when = _rfc3339(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
        accepted = {"accepted_by": PEOPLE["owner"][0], "accepted_at": when, "rationale": rationale}
    return {
        "id": oid,
        "summary": summary,
        "raised_by": PEOPLE["cs"][0],
        "status": "open",
        "residual_acceptance": accepted,
    }


def manifest(
    trust: Trust,
    *,
    revision: int,
    packet_id: str = PACKET,
    lane: str = LANE,
    objections: Sequence[dict[str, Any]] = (),
    signers: Sequence[str] = ALL_SIGNERS,
    mutate: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """A manifest for one revision that ``lane`` approves now (unless the test breaks it)."""
    now = dt.datetime.now(dt.UTC)
    document: dict[str, Any] = {
        "manifest_version": "1",
        "manifest_id": f"rm-{packet_id}-r{revision}",
        "created_at": _rfc3339(now - dt.timedelta(minutes=5)),
        "packet": {
            "id": packet_id,
            "revision": revision,
            "digest": _digest(f"{packet_id} revision {revision}"),
            "supersedes_revision": revision - 1 if revision > 1 else None,
        },
        "lane": lane,
        "audience": ["exec-review-board"],
        "requested_actions": ["route_for_executive_review"],
        "release_owner": PEOPLE["owner"][0],
        "objections": [copy.deepcopy(o) for o in objections],
        "evidence": [
            {
                "id": f"EV-{source}",
                "ref": f"{source}/{packet_id}",
                "source": source,
                "digest": _digest(source),
                "observed_at": _rfc3339(now - dt.timedelta(hours=1)),
            }
            for source in ("incident_timeline", "case_management")
        ],
        "signatures": [],
    }
    if mutate is not None:
        mutate(document)
    return trust.sign(document, *signers)


@dataclass(frozen=True)
class ApiKeys:
    """An API key file with one key per role; the plain keys stay in the test."""

    path: Path
    keys: dict[str, str] = field(repr=False)  # role -> plain key
    names: dict[str, str]  # role -> key name

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def write_api_keys(path: Path, **extra_roles: Sequence[str]) -> ApiKeys:
    """A key for each role, named after it (and ``extra_roles``: name -> roles)."""
    roles: dict[str, Sequence[str]] = {
        "evaluator": ["evaluator"],
        "verifier": ["verifier"],
        "auditor": ["auditor"],
        "release_owner": ["release_owner"],
        "evidence_source": ["evidence_source"],
        "intake": ["intake"],
        **extra_roles,
    }
    keys = {name: generate_key() for name in roles}
    names = {name: f"{name.replace('_', '-')}-key" for name in roles}
    entries = [
        {"name": names[n], "sha256": hash_key(keys[n]), "roles": list(r)} for n, r in roles.items()
    ]
    path.write_text(json.dumps(entries), encoding="utf-8")
    return ApiKeys(path=path, keys=keys, names=names)


Post = Callable[[str, dict[str, Any]], dict[str, Any]]
#: role -> a Post that sends with that role's key
Poster = Callable[[str], Post]


@dataclass(frozen=True)
class Story:
    """The ids of what :func:`seed_story` did, to find it again on the pages."""

    r6: dict[str, Any]
    r7: dict[str, Any]
    hold: dict[str, Any]
    r8: dict[str, Any]
    other: dict[str, Any]
    outcome: dict[str, Any]  # the intake lane returned r6's token
    event: dict[str, Any]  # the timeline's material correction (r6 and r7 already revoked)
    event_digest: str


def seed_story(trust: Trust, poster: Poster) -> Story:
    """Tell the story through the API: every step must do what the pages will show."""
    evaluate, place_hold = poster("evaluator"), poster("release_owner")
    r6 = evaluate(
        "/v1/evaluate",
        manifest(
            trust,
            revision=6,
            objections=[objection("OBJ-11", "Start time of the outage", rationale="Both shown.")],
        ),
    )
    r7_objections = [
        objection("OBJ-12", R7_OBJECTION, rationale=R7_RATIONALE),
        {**objection("OBJ-13", "Typo in the summary", rationale=None), "status": "resolved"},
    ]
    r7 = evaluate("/v1/evaluate", manifest(trust, revision=7, objections=r7_objections))
    hold = place_hold("/v1/holds", {"packet_id": PACKET, "revision": 7, "reason": HOLD_REASON})
    r8_objections = [objection("OBJ-14", "Credits are implied in paragraph 3", rationale=None)]
    r8 = evaluate(
        "/v1/evaluate",
        manifest(trust, revision=8, objections=r8_objections, signers=("owner", "comms")),
    )
    other = evaluate(
        "/v1/evaluate", manifest(trust, revision=2, packet_id=OTHER_PACKET, lane=OTHER_LANE)
    )
    assert [r6["allow"], r7["allow"], other["allow"]] == [True, True, True], (r6, r7, other)
    assert hold["revoked_tokens"] == [r7["decision_id"]], hold
    codes = {v["code"] for v in r8["violations"]}
    assert codes == {"signers.missing_role", "objections.unaccepted"}, r8
    outcome = poster("intake")(
        "/v1/intake-outcomes",
        {
            "token_id": r6["decision_id"],
            "outcome": "returned",
            "findings": ["stale_evidence"],
            "note": R6_RETURNED,
        },
    )
    corrected = _digest("incident timeline, corrected")
    event = poster("evidence_source")(
        "/v1/evidence-events",
        {
            "source": "incident_timeline",
            "ref": f"incident_timeline/{PACKET}",
            "digest": corrected,
            "observed_at": _rfc3339(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)),
            "material": True,
            "note": TIMELINE_NOTE,
        },
    )
    assert event["revoked_tokens"] == [], event  # r6 superseded and r7 held: none live
    return Story(
        r6=r6, r7=r7, hold=hold, r8=r8, other=other, outcome=outcome, event=event,
        event_digest=corrected,
    )  # fmt: skip
