"""Build the policy input (docs/policy-input.md) from a checked manifest."""

from __future__ import annotations

import json
from collections.abc import Sequence

from release_gate.decision.manifest import Evidence, Manifest
from release_gate.decision.model import Facts
from release_gate.decision.signatures import SignatureStatus
from release_gate.timestamps import format_ns, parse_timestamp_ns

__all__ = ["AGE_CLAMP_NS", "build_policy_input"]

#: Ages are clamped so every engine computes on exact 64-bit integers.
AGE_CLAMP_NS = 4_000_000_000_000_000_000


def _age_ns(observed_at: str, now_ns: int) -> int:
    age = now_ns - parse_timestamp_ns(observed_at)
    return max(-AGE_CLAMP_NS, min(AGE_CLAMP_NS, age))


def _newest(facts: Facts, item: Evidence) -> dict[str, str] | None:
    snapshot = facts.snapshot(item.source, item.ref) if facts.snapshots else None
    if snapshot is None:
        return None
    return {"digest": snapshot.digest, "observed_at": snapshot.observed_at}


def build_policy_input(
    *,
    manifest_text: str,
    manifest: Manifest,
    digest: str,
    statuses: Sequence[SignatureStatus],
    now_ns: int,
    facts: Facts | None = None,
) -> str:
    """The policy input as compact JSON text (what engines take).

    ``manifest_text`` is the manifest exactly as received, already parsed as
    strict I-JSON and validated as ``manifest``: it goes into the input as it
    is, so a large manifest is not serialised a second time. (The two agree:
    strict I-JSON has no duplicate names or out-of-range numbers for another
    parser to read differently.)

    ``facts`` are the packet's facts from the decision log (its history, holds
    and the newest material snapshots of its evidence); absent, it has none.
    ``facts.evidence[i]`` is index-aligned with the manifest's evidence: its age
    at ``now_ns`` and ``newest``, the newest material snapshot a source system
    reported for that source and ref (``{digest, observed_at}``), or null.
    """
    known = facts or Facts()
    recorded = known.to_json()
    rest = {
        "manifest_digest": digest,
        "evaluated_at": format_ns(now_ns),
        "facts": {
            "signatures": [{"status": str(s)} for s in statuses],
            "evidence": [
                {"age_ns": _age_ns(e.observed_at, now_ns), "newest": _newest(known, e)}
                for e in manifest.evidence
            ],
            "history": recorded["history"],
            "holds": recorded["holds"],
        },
    }
    rest_text = json.dumps(rest, ensure_ascii=False, separators=(",", ":"))
    return '{"manifest":' + manifest_text + "," + rest_text[1:]
