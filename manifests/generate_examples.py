"""Write the example manifests in manifests/examples/, signed with the DEMO keys.

Run from the repository root:  python manifests/generate_examples.py
Ed25519 signatures are deterministic, so a rerun writes identical files; a test
checks that the committed examples are current. Every example is meant to be
evaluated at EXAMPLE_NOW:

    release-gate evaluate manifests/examples/approved.json --now 2026-11-26T09:00:00Z

``--fresh FILE`` writes the approved example re-timed to the present instead
(same offsets from "now"), for trying a live gate: a live gate evaluates at its
own clock, where the committed examples' evidence has long gone stale.

The examples are signed for the demo governance data in
``manifests/demo-governance.json``: a copy of ``policies/governance/data.json``
as it was when they were generated. The tests evaluate them against that copy
with the repository's rules, so a governance owner's edits to the shipped data
never break them. After a governance change the examples should follow (demo
keys, signers, lanes, thresholds), regenerate them against the new data::

    python manifests/generate_examples.py --governance policies/governance/data.json
    python -m pytest tests/manifests tests/cli -k example

``--governance FILE`` copies FILE beside the examples, then rewrites them; the
tests then say whether each example still decides as documented. Where one
does not (say a tighter maximum age makes the approved example's evidence
stale), change its builder below, or its expectation in
``tests/cli/test_commands.py`` (``EXPECTED_EXAMPLES``), and run both again.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from release_gate.decision.signatures import sign_manifest
from release_gate.keys.signing import load_private_key

EXAMPLE_NOW = "2026-11-26T09:00:00Z"
_EXAMPLE_INSTANT = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
HERE = Path(__file__).resolve().parent / "examples"
KEYS = HERE / "keys"
#: The demo governance data the examples are signed for (see the module docstring).
DEMO_GOVERNANCE = HERE.parent / "demo-governance.json"

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
TOMAS_COMMS = (
    "tomas.lindqvist@example.com",
    "incident_communications_manager",
    "tomas-2026-01",
    "tomas-lindqvist",
)
TOMAS_CS = (
    "tomas.lindqvist@example.com",
    "customer_success_reviewer",
    "tomas-2026-01",
    "tomas-lindqvist",
)
Signer = tuple[str, str, str, str]


def _evidence(eid: str, source: str, observed_at: str) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(f"{eid}:{source}:{observed_at}".encode()).hexdigest()
    return {
        "id": eid,
        "ref": f"{source}/{eid}",
        "source": source,
        "digest": digest,
        "observed_at": observed_at,
    }


def at(now: dt.datetime, *, hours: float = 0, days: float = 0, offset_hours: int = 0) -> str:
    """``now`` moved by ``-(days, hours)``, written in RFC 3339 at a UTC offset."""
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    moment = (now - dt.timedelta(days=days, hours=hours)).astimezone(zone)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (
        "Z" if offset_hours == 0 else moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]
    )


def base_manifest(now: dt.datetime = _EXAMPLE_INSTANT) -> dict[str, Any]:
    packet = (HERE / "packet-r7.md").read_bytes()
    return {
        "manifest_version": "1",
        "manifest_id": "rm-2026-0417-r7",
        "created_at": at(now, hours=20 / 60),
        "packet": {
            "id": "PKT-2026-0417",
            "revision": 7,
            "digest": "sha256:" + hashlib.sha256(packet).hexdigest(),
            "supersedes_revision": 6,
        },
        "lane": "exec-customer-review",
        "audience": ["exec-review-board", "customer-success-leadership"],
        "requested_actions": ["route_for_executive_review"],
        "release_owner": "dana.whitfield@example.com",
        "objections": [
            {
                "id": "OBJ-1",
                "summary": "Timeline start disputed (02:10 vs 02:04 UTC)",
                "raised_by": "marcus.oyelaran@example.com",
                "status": "resolved",
                "residual_acceptance": None,
            },
            {
                "id": "OBJ-2",
                "summary": "'Restored for all tenants' omits delayed exports",
                "raised_by": "priya.raman@example.com",
                "status": "open",
                "residual_acceptance": {
                    "accepted_by": "dana.whitfield@example.com",
                    "accepted_at": at(now, hours=1.5, offset_hours=1),
                    "rationale": "Caveat is stated in the packet; executives decide on wording.",
                },
            },
        ],
        "evidence": [
            _evidence("EV-timeline", "incident_timeline", at(now, hours=1.25)),
            _evidence("EV-cases", "case_management", at(now, hours=3)),
            _evidence("EV-entitlement", "entitlement", at(now, days=1, hours=21)),
            _evidence(
                "EV-contract", "contract_guidance", at(now, days=5, hours=19, offset_hours=-5)
            ),
        ],
        "signatures": [],
    }


def sign(document: dict[str, Any], *signers: Signer) -> dict[str, Any]:
    for subject, role, key_id, key_name in signers:
        key = load_private_key(KEYS / f"{key_name}.demo-key.pem").private_key
        document = sign_manifest(
            document, private_key=key, subject=subject, role=role, key_id=key_id
        )
    return document


def _tampered(doc: dict[str, Any]) -> dict[str, Any]:
    signed = sign(doc, OWNER, COMMS, CS)
    signed["audience"] = [*signed["audience"], "support-leadership"]  # after signing
    return signed


def _scope(doc: dict[str, Any]) -> dict[str, Any]:
    doc["audience"].append("customer:acme-corp")
    doc["requested_actions"] += ["send_customer_notice", "approve_service_credit"]
    return sign(doc, OWNER, COMMS, CS)


def _objection(doc: dict[str, Any]) -> dict[str, Any]:
    doc["objections"][1]["residual_acceptance"] = None
    doc["objections"].append(
        {
            "id": "OBJ-3",
            "summary": "Credit language implied in section 4",
            "raised_by": "priya.raman@example.com",
            "status": "open",
            "residual_acceptance": {
                "accepted_by": "marcus.oyelaran@example.com",
                "accepted_at": "2026-11-26T08:35:00Z",
                "rationale": "Comms accepts.",
            },
        }
    )
    return sign(doc, OWNER, COMMS, CS)


def _stale(doc: dict[str, Any]) -> dict[str, Any]:
    doc["evidence"][0]["observed_at"] = "2026-11-25T20:00:00Z"  # 13 h > 6 h for the timeline
    doc["evidence"][3] = _evidence("EV-contract", "contract_guidance", "2026-11-26T09:05:00Z")
    del doc["evidence"][1]
    return sign(doc, OWNER, COMMS, CS)


EXAMPLES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "approved": lambda d: sign(d, OWNER, COMMS, CS),
    "deny-signature-tampered": _tampered,
    "deny-signers-missing-role": lambda d: sign(d, OWNER, COMMS),
    "deny-signers-agent-approval": lambda d: sign(d, OWNER, COMMS, AGENT),
    "deny-signers-not-distinct": lambda d: sign(d, OWNER, TOMAS_COMMS, TOMAS_CS),
    "deny-lane-scope": _scope,
    "deny-objections": _objection,
    "deny-evidence": _stale,
}


def render() -> dict[str, str]:
    """File name -> exact text of every example."""
    return {
        f"{name}.json": json.dumps(
            build(copy.deepcopy(base_manifest())), indent=2, ensure_ascii=False
        )
        + "\n"
        for name, build in EXAMPLES.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fresh",
        type=Path,
        metavar="FILE",
        help="write the approved example timed to now into FILE",
    )
    parser.add_argument(
        "--governance",
        type=Path,
        metavar="FILE",
        help="first copy FILE (governance data) to manifests/demo-governance.json",
    )
    args = parser.parse_args()
    if args.fresh:
        document = EXAMPLES["approved"](base_manifest(dt.datetime.now(dt.UTC)))
        args.fresh.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.fresh} (approved example, timed to now, DEMO-key signatures)")  # noqa: T201
        return
    if args.governance:
        value = json.loads(args.governance.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            parser.error(f"{args.governance} is not a governance document (a JSON object)")
        text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
        DEMO_GOVERNANCE.write_text(text, encoding="utf-8")
        print(f"wrote manifests/{DEMO_GOVERNANCE.name} from {args.governance}")  # noqa: T201
    for name, text in render().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote manifests/examples/{name}")  # noqa: T201


if __name__ == "__main__":
    main()
