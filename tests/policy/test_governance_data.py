"""The demo governance data the examples are signed for, and its labelled demo keys.

``manifests/demo-governance.json`` (see manifests/generate_examples.py) is what the
examples need: demo keys only, a revoked key, a human for every required role and
an agent. The shipped data may move on; see tests/policy/test_shipped_policy.py.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from tests.governance import DEMO_KEYS as KEYS
from tests.governance import LANE, demo_governance


def _governance() -> dict[str, Any]:
    return demo_governance()


def _demo_public_keys() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(KEYS.glob("*.demo-key.pem")):
        key = load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey), path
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        found[base64.urlsafe_b64encode(raw).rstrip(b"=").decode()] = path.name
    return found


class TestTrustStore:
    def test_every_public_key_is_the_half_of_a_labelled_demo_key(self) -> None:
        demo = _demo_public_keys()
        keys = [k for signer in _governance()["signers"].values() for k in signer["keys"]]
        assert sorted(k["public_key"] for k in keys) == sorted(demo)
        assert "DEMO KEYS" in (KEYS / "README.md").read_text(encoding="utf-8")

    def test_key_ids_are_unique_per_subject_and_one_key_is_revoked(self) -> None:
        statuses = []
        for subject, signer in _governance()["signers"].items():
            ids = [k["key_id"] for k in signer["keys"]]
            assert len(ids) == len(set(ids)), subject
            statuses += [k["status"] for k in signer["keys"]]
        assert "revoked" in statuses

    def test_each_required_role_has_a_human_and_an_agent_holds_a_role(self) -> None:
        signers = _governance()["signers"]
        for role in _governance()["lanes"][LANE]["required_roles"]:
            assert any(
                role in s["roles"] and s.get("kind", "human") == "human" for s in signers.values()
            ), role
        assert any(s.get("kind") == "agent" and s["roles"] for s in signers.values())


class TestExampleLane:
    def test_required_sources_have_a_maximum_age(self) -> None:
        lane = _governance()["lanes"][LANE]
        for source in lane["required_evidence_sources"]:
            assert lane["max_evidence_age_seconds"][source] > 0, source
        assert lane["distinct_signers"] is True
        assert lane["token_ttl_seconds"] == 900

    def test_lane_never_lists_customer_sends_credits_or_remediation(self) -> None:
        lane = _governance()["lanes"][LANE]
        for action in lane["allowed_actions"]:
            for word in ("send", "notify", "credit", "remediat", "refund"):
                assert word not in action, action
