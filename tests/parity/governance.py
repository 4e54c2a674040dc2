"""The parity suite's own governance data and bundle, built here, not read from policies/.

The parity cases are built around thresholds, roles and keys; if they read
``policies/governance/data.json``, a governance owner changing a maximum age
would break (or silently weaken) the parity boundaries. So the suite evaluates
a copy of the policy modules with a ``governance/data.json`` built below, and
its own revision. Its values deliberately differ from the shipped ones (the
timeline's maximum age, the future tolerance), so a case that leaks the shipped
data fails its boundary.

The signers are the labelled demo keys of ``manifests/examples/keys`` (public
halves derived here), so the example manifests verify under this data too.

A parity family that needs governance (a new threshold, a lane setting, an
``effective_on`` date) adds it to :func:`governance` and reads it from the
constants here, never from the shipped file.

``python -m tests.parity.governance OUT.tar.gz`` writes this bundle, for running
the suite against an OPA you started yourself (docs/opa.md, section 5).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from release_gate.policy.opa_bundle import build_bundle

ROOT = Path(__file__).resolve().parents[2]
#: Where the policy modules come from: the repository's, or RELEASE_GATE_POLICIES.
SOURCE = Path(os.environ.get("RELEASE_GATE_POLICIES") or ROOT / "policies")
DEMO_KEYS = ROOT / "manifests" / "examples" / "keys"
SHIPPED_DATA = Path("governance") / "data.json"
REVISION_SUFFIX = "+parity"

LANE = "exec-customer-review"
OWNER_ROLE = "support_release_owner"
COMMS_ROLE = "incident_communications_manager"
CS_ROLE = "customer_success_reviewer"
OWNER, COMMS, CS = (
    "dana.whitfield@example.com",
    "marcus.oyelaran@example.com",
    "priya.raman@example.com",
)
TOMAS, AGENT = "tomas.lindqvist@example.com", "agent:packet-assembler"

FUTURE_TOLERANCE_SECONDS = 90  # shipped: 60
REQUIRED_SOURCES = ("incident_timeline", "case_management", "entitlement", "contract_guidance")
OPTIONAL_SOURCE = "account_review"
MAX_AGE_SECONDS = {
    "incident_timeline": 7200,  # shipped: 21600
    "case_management": 86400,
    "entitlement": 604800,
    "contract_guidance": 2592000,
    OPTIONAL_SOURCE: 1209600,
}

#: subject -> (kind, roles, [(key_id, demo key file stem, status)])
SIGNERS: dict[str, tuple[str, list[str], list[tuple[str, str, str]]]] = {
    OWNER: ("human", [OWNER_ROLE], [("dana-2026-01", "dana-whitfield", "active")]),
    COMMS: (
        "human",
        [COMMS_ROLE],
        [
            ("marcus-2026-01", "marcus-oyelaran", "active"),
            ("marcus-2025-05", "marcus-oyelaran-2025-revoked", "revoked"),
        ],
    ),
    CS: ("human", [CS_ROLE], [("priya-2026-01", "priya-raman", "active")]),
    TOMAS: ("human", [CS_ROLE, COMMS_ROLE], [("tomas-2026-01", "tomas-lindqvist", "active")]),
    AGENT: ("agent", [CS_ROLE], [("packet-assembler-2026-01", "packet-assembler-agent", "active")]),
}


def key_id(subject: str) -> str:
    """The subject's first (active) key."""
    return SIGNERS[subject][2][0][0]


def _public_key(stem: str) -> str:
    pem = (DEMO_KEYS / f"{stem}.demo-key.pem").read_bytes()
    key = load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey), stem
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def governance() -> dict[str, Any]:
    """``data.governance`` for the parity cases."""
    signers = {
        subject: {
            "kind": kind,
            "roles": roles,
            "keys": [
                {"key_id": kid, "alg": "Ed25519", "public_key": _public_key(stem), "status": status}
                for kid, stem, status in keys
            ],
        }
        for subject, (kind, roles, keys) in SIGNERS.items()
    }
    lane = {
        "required_roles": [OWNER_ROLE, COMMS_ROLE, CS_ROLE],
        "allowed_audience": [
            "exec-review-board",
            "customer-success-leadership",
            "support-leadership",
        ],
        "allowed_actions": ["route_for_executive_review", "attach_to_review_agenda"],
        "required_evidence_sources": list(REQUIRED_SOURCES),
        "max_evidence_age_seconds": dict(MAX_AGE_SECONDS),
        "distinct_signers": True,
        "token_ttl_seconds": 600,
    }
    return {
        "release_owner_role": OWNER_ROLE,
        "future_tolerance_seconds": FUTURE_TOLERANCE_SECONDS,
        "signers": signers,
        "lanes": {LANE: lane},
    }


def write_policies(source: Path, dest: Path) -> Path:
    """``source``'s bundle at ``dest``, with :func:`governance` and a ``+parity`` revision."""
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns("tests", "*_test.rego", ".*"),
        dirs_exist_ok=True,
    )
    (dest / SHIPPED_DATA).write_text(json.dumps(governance(), indent=2) + "\n", encoding="utf-8")
    manifest = json.loads((source / ".manifest").read_text(encoding="utf-8"))
    manifest["revision"] = f"{manifest['revision']}{REVISION_SUFFIX}"
    (dest / ".manifest").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dest


def write_bundle(source: Path, out: Path, workdir: Path) -> Path:
    """The parity policies as an OPA bundle tarball (``opa run --bundle out``)."""
    policies = write_policies(source, workdir / "parity-policies")
    return build_bundle(policies, out, signing_key=None, key_id=None)


if __name__ == "__main__":  # pragma: no cover (a convenience for docs/opa.md)
    import tempfile

    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.parity.governance OUT.tar.gz")
    with tempfile.TemporaryDirectory() as tmp:
        sys.stdout.write(f"{write_bundle(SOURCE, Path(sys.argv[1]), Path(tmp))}\n")
