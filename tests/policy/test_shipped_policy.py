"""The shipped policy itself: the bundle in ``policies/`` as its governance owner left it.

Every other Python test brings its own governance data (``tests/governance.py``),
so that a governance owner's edit to ``policies/governance/data.json`` fails none
of them. These few read the shipped bundle on purpose, each saying why, and check
only what must hold for any data the owner ships, never today's values:
thresholds, lanes and signers may change without touching them. The Rego tests
in ``policies/tests/`` (``release-gate test policies``) are the other tests of the
shipped policy. ``pytest -k 'not shipped'`` leaves these out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.policy.bundle import load_bundle
from release_gate.runtime import build_runtime
from tests.helpers import ROOT, ManifestFactory, post_json
from tests.parity.opa_go import SKIP_REASON, OpaGoEngine, opa_go_available

SHIPPED = ROOT / "policies"

#: Words no lane's action may contain: the gate never sends anything to customers,
#: approves credits or runs remediation (README).
FORBIDDEN_ACTION_WORDS = ("send", "notify", "credit", "remediat", "refund")


def _shipped_lanes() -> dict[str, Any]:
    lanes = load_bundle(SHIPPED).governance.get("lanes")
    assert isinstance(lanes, dict)
    assert lanes, "the shipped governance data defines no lane"
    return lanes


@pytest.fixture
def shipped_client(tmp_path: Path, signing_key_file: Path, db_url: str) -> Iterator[TestClient]:
    settings = Settings(
        policies=SHIPPED,
        state_dir=tmp_path / "state",
        signing_key_file=signing_key_file,
        database_url=db_url,
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            yield client
    finally:
        runtime.close()


class TestShippedBundle:
    def test_shipped_bundle_is_served_and_decides(
        self, shipped_client: TestClient, make_manifest: ManifestFactory
    ) -> None:
        """What ``serve`` checks at start-up: the gate must accept the bundle that ships.

        Its governance data passes the gate's checks, every module compiles, and a
        manifest gets a decision (allow or deny: that depends on the data, not on
        this test).
        """
        assert shipped_client.get("/readyz").status_code == 200
        response = post_json(shipped_client, "/v1/evaluate", make_manifest())
        assert response.status_code == 200, response.text
        assert isinstance(response.json()["allow"], bool)

    @pytest.mark.skipif(not opa_go_available(), reason=SKIP_REASON)
    def test_shipped_bundle_compiles_on_opa(self) -> None:
        """The same bundle goes to OPA servers (docs/opa.md): OPA must compile it too."""
        OpaGoEngine(load_bundle(SHIPPED)).close()


class TestShippedLanes:
    def test_shipped_lanes_never_list_customer_sends_credits_or_remediation(self) -> None:
        """The README's promise holds for every lane the owner ships, not only the demo's:
        no action sends to customers, approves credits or remediates, and no audience
        is a customer."""
        for lane_id, lane in _shipped_lanes().items():
            for action in lane["allowed_actions"]:
                assert not any(word in action for word in FORBIDDEN_ACTION_WORDS), (
                    lane_id,
                    action,
                )
            for audience in lane["allowed_audience"]:
                assert not audience.startswith("customer:"), (lane_id, audience)
                assert not audience.endswith("customers"), (lane_id, audience)
