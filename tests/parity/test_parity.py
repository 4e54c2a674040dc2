"""Parity: the embedded engine and a real OPA give identical decisions.

Runs only against a real OPA server named by ``RELEASE_GATE_TEST_OPA_URL``
(there is no OPA binary on the development machines, and a stub would prove
nothing). By default the suite loads ``policies/`` into that OPA through its
policy and data APIs (``PUT /v1/policies/<path>``, ``PUT /v1/data/<root>``),
evaluates with ``policy_source="api"`` and removes what it loaded afterwards.
With ``RELEASE_GATE_TEST_OPA_PRELOADED=1`` it loads nothing and expects OPA to
run the bundle already (``opa run --server --bundle release-gate-bundle.tar.gz``),
checking the bundle revision on every decision as the gate does in production.

Compared per input: ``allow``, and the sorted (code, path) pairs of violations
and of warnings. Inputs: every example manifest, every violation family (and
their boundaries), and 300 seeded random combinations.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.policy.engine import PolicyEngine, PolicyResult
from release_gate.policy.opa import OpaEngine
from release_gate.policy.opa_bundle import push_bundle, remove_pushed
from tests.parity.cases import FAMILIES, example_inputs, family_case, random_cases

OPA_URL = os.environ.get("RELEASE_GATE_TEST_OPA_URL", "")
PRELOADED = os.environ.get("RELEASE_GATE_TEST_OPA_PRELOADED", "") not in ("", "0")
POLICIES = Path(os.environ.get("RELEASE_GATE_POLICIES") or Path(__file__).parents[2] / "policies")
SEED = int(os.environ.get("RELEASE_GATE_TEST_PARITY_SEED", "20261126"))

needs_opa = pytest.mark.skipif(
    not OPA_URL, reason="RELEASE_GATE_TEST_OPA_URL is not set: parity needs a real OPA server"
)


def _shape(result: PolicyResult) -> tuple[bool, list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        result.allow,
        sorted((v.code, v.path) for v in result.violations),
        sorted((w.code, w.path) for w in result.warnings),
    )


@pytest.fixture(scope="module")
def bundle() -> PolicyBundle:
    return load_bundle(POLICIES)


@pytest.fixture(scope="module")
def embedded(bundle: PolicyBundle) -> Iterator[PolicyEngine]:
    engine = EmbeddedEngine(bundle)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def opa(bundle: PolicyBundle) -> Iterator[PolicyEngine]:
    with httpx.Client(base_url=OPA_URL.rstrip("/"), timeout=10.0) as http:
        if not PRELOADED:
            push_bundle(http, bundle)
        engine = OpaEngine(
            OPA_URL, bundle=bundle, timeout=10.0, policy_source="bundle" if PRELOADED else "api"
        )
        try:
            status = engine.status()
            assert status.ready, status.detail
            yield engine
        finally:
            engine.close()
            if not PRELOADED:
                remove_pushed(http, bundle)


def _both(embedded: PolicyEngine, opa: PolicyEngine, policy_input: str) -> tuple[Any, Any]:
    return _shape(embedded.evaluate(policy_input)), _shape(opa.evaluate(policy_input))


class TestCases:
    """The inputs themselves, on the embedded engine: every family fires what it names."""

    @pytest.mark.parametrize("name", sorted(FAMILIES))
    def test_family_raises_its_code(self, embedded: PolicyEngine, name: str) -> None:
        expected = FAMILIES[name][1]
        result = embedded.evaluate(family_case(name))
        codes = {v.code for v in result.violations}
        if expected is None:
            assert result.allow, sorted(codes)
        else:
            assert expected in codes
            assert not result.allow


@needs_opa
class TestParity:
    @pytest.mark.parametrize("name", sorted(FAMILIES))
    def test_violation_family(self, embedded: PolicyEngine, opa: PolicyEngine, name: str) -> None:
        mine, theirs = _both(embedded, opa, family_case(name))
        assert mine == theirs

    def test_examples(
        self, embedded: PolicyEngine, opa: PolicyEngine, bundle: PolicyBundle
    ) -> None:
        cases = list(example_inputs(bundle.governance))
        assert cases, "no example manifests found"
        for label, policy_input in cases:
            mine, theirs = _both(embedded, opa, policy_input)
            assert mine == theirs, label

    def test_random_combinations(self, embedded: PolicyEngine, opa: PolicyEngine) -> None:
        for label, policy_input in random_cases(300, seed=SEED):
            mine, theirs = _both(embedded, opa, policy_input)
            assert mine == theirs, f"{label} (seed {SEED})"

    def test_opa_names_the_gates_policy(self, opa: PolicyEngine, bundle: PolicyBundle) -> None:
        result = opa.evaluate(family_case("lane.unknown"))
        assert (result.policy_revision, result.policy_digest) == (bundle.revision, bundle.digest)
