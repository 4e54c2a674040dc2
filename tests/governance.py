"""Governance data the Python tests own, and the policy bundles built from it.

The governance owner edits the data in ``policies/governance/`` freely: no Python test
reads it except the few named ``shipped`` (``tests/policy/test_shipped_policy.py``).
A test that needs signers, keys, lanes or thresholds takes them from here:

- :func:`governance_data` returns a fresh document the test may change: the
  labelled demo signers (their public halves derived at test time from
  ``manifests/examples/keys``), the lane :data:`LANE` and the thresholds below.
  It approves :func:`tests.helpers.base_manifest` and, at their instant, the
  committed examples in ``manifests/examples``.
- :func:`write_bundle` writes a bundle directory the test owns: the repository's
  rules (every ``.rego`` of ``policies/`` outside ``tests/``), its ``.manifest``
  with this bundle's own revision, and the given governance data; with
  ``rego_tests=True`` also the Rego unit tests of ``policies/tests/``.
- The fixtures ``gate_policies`` and ``rego_policies`` (``tests/conftest.py``) are
  one such bundle each per session; never change them in place, write your own.
- The committed examples in ``manifests/examples`` are signed for the demo data
  kept beside them, :data:`DEMO_GOVERNANCE` (a copy of the shipped data as it was
  when they were generated); ``example_policies`` is the repository's rules with
  that data, for the tests about the examples.

Tests that compute a boundary (stale evidence, token lifetime) read it from the
constants below, never from the shipped data.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from release_gate.keys.signing import load_private_key
from release_gate.policy.bundle import is_test_file

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "policies"
DEMO_KEYS = ROOT / "manifests" / "examples" / "keys"
#: The demo governance data the examples are signed for (manifests/generate_examples.py).
DEMO_GOVERNANCE = ROOT / "manifests" / "demo-governance.json"

LANE = "exec-customer-review"
#: Where a bundle keeps ``data.governance``, relative to its root.
GOVERNANCE_FILE = PurePosixPath("governance", "data.json")
#: The revision of every bundle these tests write (unless a test names its own).
REVISION = "tests-1"
RELEASE_OWNER_ROLE = "support_release_owner"
FUTURE_TOLERANCE_SECONDS = 60
TOKEN_TTL_SECONDS = 900
MAX_EVIDENCE_AGE_SECONDS: dict[str, int] = {
    "incident_timeline": 21600,
    "case_management": 86400,
    "entitlement": 604800,
    "contract_guidance": 2592000,
    "account_review": 1209600,  # optional: a known source no lane requires
}
REQUIRED_ROLES = (
    "support_release_owner",
    "incident_communications_manager",
    "customer_success_reviewer",
)
ALLOWED_AUDIENCE = ("exec-review-board", "customer-success-leadership", "support-leadership")
ALLOWED_ACTIONS = ("route_for_executive_review", "attach_to_review_agenda")
REQUIRED_EVIDENCE_SOURCES = (
    "incident_timeline",
    "case_management",
    "entitlement",
    "contract_guidance",
)

#: subject -> (kind, or None for the contract's default "human"; roles;
#: keys as (key_id, demo key file stem, status)).
SIGNERS: dict[str, tuple[str | None, tuple[str, ...], tuple[tuple[str, str, str], ...]]] = {
    "dana.whitfield@example.com": (
        "human",
        ("support_release_owner",),
        (("dana-2026-01", "dana-whitfield", "active"),),
    ),
    "marcus.oyelaran@example.com": (
        "human",
        ("incident_communications_manager",),
        (
            ("marcus-2026-01", "marcus-oyelaran", "active"),
            ("marcus-2025-05", "marcus-oyelaran-2025-revoked", "revoked"),
        ),
    ),
    "priya.raman@example.com": (
        "human",
        ("customer_success_reviewer",),
        (("priya-2026-01", "priya-raman", "active"),),
    ),
    "tomas.lindqvist@example.com": (
        None,
        ("customer_success_reviewer", "incident_communications_manager"),
        (("tomas-2026-01", "tomas-lindqvist", "active"),),
    ),
    "agent:packet-assembler": (
        "agent",
        ("customer_success_reviewer",),
        (("packet-assembler-2026-01", "packet-assembler-agent", "active"),),
    ),
}


@functools.cache
def demo_public_key(stem: str) -> str:
    """The raw Ed25519 public half of ``manifests/examples/keys/<stem>.demo-key.pem``, base64url."""
    key = load_private_key(DEMO_KEYS / f"{stem}.demo-key.pem").private_key
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def lane() -> dict[str, Any]:
    """The test lane :data:`LANE` (contract section 2)."""
    return {
        "required_roles": list(REQUIRED_ROLES),
        "allowed_audience": list(ALLOWED_AUDIENCE),
        "allowed_actions": list(ALLOWED_ACTIONS),
        "required_evidence_sources": list(REQUIRED_EVIDENCE_SOURCES),
        "max_evidence_age_seconds": dict(MAX_EVIDENCE_AGE_SECONDS),
        "distinct_signers": True,
        "token_ttl_seconds": TOKEN_TTL_SECONDS,
    }


def governance_data() -> dict[str, Any]:
    """A fresh governance document (``data.governance``): change it as the test needs."""
    signers: dict[str, Any] = {}
    for subject, (kind, roles, keys) in SIGNERS.items():
        record: dict[str, Any] = {} if kind is None else {"kind": kind}
        record["roles"] = list(roles)
        record["keys"] = [
            {
                "key_id": key_id,
                "alg": "Ed25519",
                "public_key": demo_public_key(stem),
                "status": status,
            }
            for key_id, stem, status in keys
        ]
        signers[subject] = record
    return {
        "release_owner_role": RELEASE_OWNER_ROLE,
        "future_tolerance_seconds": FUTURE_TOLERANCE_SECONDS,
        "signers": signers,
        "lanes": {LANE: lane()},
    }


@functools.cache
def _rules(rego_tests: bool) -> tuple[tuple[str, str], ...]:
    """(relative path, text) of the repository's rules, and its Rego tests if asked."""
    found = []
    for path in sorted(RULES.rglob("*.rego")):
        rel = PurePosixPath(path.relative_to(RULES).as_posix())
        if is_test_file(rel) and not rego_tests:
            continue
        found.append((str(rel), path.read_text(encoding="utf-8")))
    return tuple(found)


def rule_modules() -> dict[str, str]:
    """The repository's policy modules (no Rego tests, no data): relative path -> text."""
    return dict(_rules(False))


def write_bundle(
    target: Path,
    governance: Mapping[str, Any] | None = None,
    *,
    revision: str = REVISION,
    rego_tests: bool = False,
) -> Path:
    """Write a bundle directory at ``target``: the repository's rules and this data.

    ``governance`` defaults to :func:`governance_data`. The ``.manifest`` keeps the
    repository's roots and takes ``revision``. Returns ``target``.
    """
    manifest = json.loads((RULES / ".manifest").read_text(encoding="utf-8"))
    manifest["revision"] = revision
    target.mkdir(parents=True, exist_ok=False)
    (target / ".manifest").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    for rel, text in _rules(rego_tests):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text, encoding="utf-8")
    data = copy.deepcopy(dict(governance)) if governance is not None else governance_data()
    write_governance(target, data)
    return target


def demo_governance() -> dict[str, Any]:
    """The demo governance data of the examples (:data:`DEMO_GOVERNANCE`)."""
    value: dict[str, Any] = json.loads(DEMO_GOVERNANCE.read_text(encoding="utf-8"))
    return value


def governance_file(bundle: Path) -> Path:
    """Where a bundle directory keeps ``data.governance``."""
    return bundle / GOVERNANCE_FILE


def write_governance(bundle: Path, governance: Mapping[str, Any]) -> None:
    """Replace the governance data of a bundle the test owns."""
    path = governance_file(bundle)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(governance, indent=2) + "\n", encoding="utf-8")


def read_governance(bundle: Path) -> dict[str, Any]:
    """The governance data of a bundle the test owns."""
    value: dict[str, Any] = json.loads(governance_file(bundle).read_text(encoding="utf-8"))
    return value
