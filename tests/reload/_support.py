"""Policy directories of the reload tests' own, and the edits a governance owner makes.

:func:`policy_dir` copies the policies' Rego with governance data built by the
tests (:func:`governance`: the demo signers, one lane whose incident timeline may be
21600 s old) under revision
:data:`REVISION_1`; never the shipped ``data.json``. :func:`tighten_timeline` is
the walkthrough's change (21600 -> 3600 and a new revision); :func:`break_bundle`
writes what must not load.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.governance_data import demo_governance_doc, write_policies
from tests.helpers import LANE, rfc3339, sha256

REVISION_1 = "reload-1"
REVISION_2 = "reload-2"
TIMELINE_MAX = 21600
STRICT_TIMELINE_MAX = 3600

Mutate = Callable[[dict[str, Any]], None]


def set_revision(root: Path, revision: str) -> None:
    """Write ``.manifest`` with ``revision`` (and the bundle's roots)."""
    manifest = {"revision": revision, "roots": ["release", "lib", "governance"]}
    (root / ".manifest").write_text(json.dumps(manifest) + "\n", encoding="utf-8")


def governance() -> dict[str, Any]:
    """The demo signers, and the lane shaped as the example data shapes it, so the
    shipped Rego tests (whose fixtures expect that shape) pass on this bundle too."""
    data = demo_governance_doc()
    lane = data["lanes"][LANE]
    lane["allowed_audience"] = [
        "exec-review-board",
        "customer-success-leadership",
        "support-leadership",
    ]
    lane["allowed_actions"] = ["route_for_executive_review", "attach_to_review_agenda"]
    lane["max_evidence_age_seconds"]["account_review"] = 1209600
    return data


def policy_dir(root: Path) -> Path:
    """The tests' own bundle at ``root``, revision :data:`REVISION_1`."""
    write_policies(root, governance())
    set_revision(root, REVISION_1)
    return root


def edit_data(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = root / "governance" / "data.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def tighten_timeline(root: Path, *, revision: str = REVISION_2) -> None:
    """The incident timeline's maximum age from 6 h to 1 h, and a new revision."""

    def change(data: dict[str, Any]) -> None:
        data["lanes"][LANE]["max_evidence_age_seconds"]["incident_timeline"] = STRICT_TIMELINE_MAX

    edit_data(root, change)
    set_revision(root, revision)


#: How a bundle can fail to load, each with a fragment of the reason the gate gives.
BREAKAGES = {
    "rego": "cannot load policies",
    "governance": "governance",
    "metadata": "METADATA",
    "manifest": ".manifest",
}


def break_bundle(root: Path, how: str) -> None:
    """Make the bundle at ``root`` fail to load in the way ``how`` names (:data:`BREAKAGES`)."""
    if how == "rego":
        lane = root / "release" / "lane.rego"
        lane.write_text(lane.read_text(encoding="utf-8") + "\nthis is not rego\n")
    elif how == "governance":  # a required source without a maximum age

        def change(data: dict[str, Any]) -> None:
            del data["lanes"][LANE]["max_evidence_age_seconds"]["incident_timeline"]

        edit_data(root, change)
    elif how == "metadata":
        module = root / "release" / "objections.rego"
        text = module.read_text(encoding="utf-8")
        block = text.rindex("# METADATA\n", 0, text.index("\ndeny contains"))  # the first rule's
        module.write_text(text[:block] + "# (metadata removed)\n" + text[block + 11 :])
    elif how == "manifest":
        (root / ".manifest").write_text("{not json\n")
    else:  # pragma: no cover
        raise ValueError(how)


def add_failing_rule(root: Path, packet_id: str) -> None:
    """A deny rule whose evaluation fails (on regorus) for the manifests of ``packet_id``:
    it prints an inexact division with ``%d`` (policy-authors.md, "regorus vs OPA")."""
    module = root / "release" / "packet.rego"
    module.write_text(
        module.read_text(encoding="utf-8")
        + f"""
# METADATA
# title: Fails on one packet
# description: A rule that cannot be evaluated for packet {packet_id}.
# custom:
#   code: packet.unreadable
#   failure_msg: "unreadable %d"
deny contains violation if {{
	packet.id == "{packet_id}"
	msg := sprintf("unreadable %d", [7 / 2])
	violation := data.lib.result.violation("packet.unreadable", msg, "/packet")
}}
""",
        encoding="utf-8",
    )


def packet(packet_id: str, *, timeline_minutes: int, now: dt.datetime) -> Mutate:
    """A manifest for its own packet, its incident timeline read ``timeline_minutes`` ago."""

    def mutate(document: dict[str, Any]) -> None:
        document["manifest_id"] = f"rm-{packet_id}"
        document["packet"] = {
            "id": packet_id,
            "revision": 1,
            "digest": sha256(f"{packet_id} revision 1"),
            "supersedes_revision": None,
        }
        timeline = document["evidence"][0]
        assert timeline["source"] == "incident_timeline"
        timeline["observed_at"] = rfc3339(now - dt.timedelta(minutes=timeline_minutes))

    return mutate
