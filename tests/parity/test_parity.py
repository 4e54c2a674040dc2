"""Parity: the embedded engine and a real OPA give identical decisions.

Two OPAs. ``TestParityOpaGo`` runs every case below on OPA's own Go evaluator
in-process (``opa_bindings``, OPA v1.20.2; see ``tests/parity/opa_go.py``),
always, wherever ``make install`` could install it, so a policy construct the
two engines read differently fails the ordinary test run. ``TestParity`` runs
the same cases on an OPA *server*, which also proves the bundle loading and the
HTTP engine. That one runs only against a real OPA server named by ``RELEASE_GATE_TEST_OPA_URL``
(there is no OPA binary on the development machines, and a stub would prove
nothing). By default the suite loads the tests' own bundle (the repository's rules
with :mod:`tests.governance`'s data; ``RELEASE_GATE_POLICIES`` names another) into
that OPA through its policy and data APIs (``PUT /v1/policies/<path>``,
``PUT /v1/data/<root>``), evaluates with ``policy_source="api"`` and removes what it
loaded afterwards.
With ``RELEASE_GATE_TEST_OPA_PRELOADED=1`` it loads nothing and expects OPA to
run the bundle already (``opa run --server --bundle release-gate-bundle.tar.gz``),
checking the bundle revision on every decision as the gate does in production.

Compared per input: ``allow``, and the sorted (code, path) pairs of violations
and of warnings. Inputs: every example manifest, every violation family (and
their boundaries), and 300 seeded random combinations. Against OPA's Go
evaluator the messages are compared too (they match exactly, big numbers
included: the policies format only integers, with ``%d``).
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
from release_gate.policy.engine import PolicyEngine, PolicyEngineError, PolicyResult
from release_gate.policy.opa import OpaEngine
from release_gate.policy.opa_bundle import push_bundle, remove_pushed
from tests.helpers import documented_codes
from tests.parity.cases import FAMILIES, example_inputs, family_case, random_cases
from tests.parity.opa_go import SKIP_REASON, OpaGoEngine, opa_go_available

OPA_URL = os.environ.get("RELEASE_GATE_TEST_OPA_URL", "")
PRELOADED = os.environ.get("RELEASE_GATE_TEST_OPA_PRELOADED", "") not in ("", "0")
#: A bundle to compare instead of the tests' own (``gate_policies``), e.g. the shipped one.
POLICIES = os.environ.get("RELEASE_GATE_POLICIES")
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


def _full(result: PolicyResult) -> tuple[bool, list[tuple[str, str, str]], list[Any]]:
    """Like :func:`_shape`, with the messages."""
    return (
        result.allow,
        sorted((v.code, v.path, v.message) for v in result.violations),
        sorted((w.code, w.path, w.message) for w in result.warnings),
    )


def _all_inputs(governance: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every parity input: families (with their boundaries), examples, random combinations."""
    for name in sorted(FAMILIES):
        yield f"family:{name}", family_case(name)
    yield from ((f"example:{label}", text) for label, text in example_inputs(governance))
    yield from random_cases(300, seed=SEED)


@pytest.fixture(scope="module")
def bundle(gate_policies: Path) -> PolicyBundle:
    return load_bundle(Path(POLICIES) if POLICIES else gate_policies)


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

    def test_every_documented_code_has_a_family(self) -> None:
        """A new rule gets a parity case, or this fails (docs/policy-authors.md)."""
        covered = {expected for _, expected in FAMILIES.values() if expected is not None}
        assert documented_codes() - covered == set()

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


@pytest.fixture(scope="module")
def opa_go(bundle: PolicyBundle) -> Iterator[PolicyEngine]:
    engine = OpaGoEngine(bundle)
    yield engine
    engine.close()


@pytest.mark.skipif(not opa_go_available(), reason=SKIP_REASON)
class TestParityOpaGo:
    """The same cases, embedded (regorus) against OPA's Go evaluator in-process."""

    @pytest.mark.parametrize("name", sorted(FAMILIES))
    def test_violation_family(
        self, embedded: PolicyEngine, opa_go: PolicyEngine, name: str
    ) -> None:
        policy_input = family_case(name)
        assert _full(embedded.evaluate(policy_input)) == _full(opa_go.evaluate(policy_input))

    def test_examples(
        self, embedded: PolicyEngine, opa_go: PolicyEngine, bundle: PolicyBundle
    ) -> None:
        cases = list(example_inputs(bundle.governance))
        assert cases, "no example manifests found"
        for label, policy_input in cases:
            mine, theirs = (
                _full(embedded.evaluate(policy_input)),
                _full(opa_go.evaluate(policy_input)),
            )
            assert mine == theirs, label

    def test_random_combinations(self, embedded: PolicyEngine, opa_go: PolicyEngine) -> None:
        for label, policy_input in random_cases(300, seed=SEED):
            mine, theirs = (
                _full(embedded.evaluate(policy_input)),
                _full(opa_go.evaluate(policy_input)),
            )
            assert mine == theirs, f"{label} (seed {SEED})"

    def test_every_input_decides_on_both(
        self, embedded: PolicyEngine, opa_go: PolicyEngine, bundle: PolicyBundle
    ) -> None:
        """The cases are not vacuous: both engines allow some and deny most, alike."""
        outcomes = [
            (embedded.evaluate(text).allow, opa_go.evaluate(text).allow)
            for _, text in _all_inputs(bundle.governance)
        ]
        assert all(mine == theirs for mine, theirs in outcomes)
        assert any(mine for mine, _ in outcomes)
        assert sum(not mine for mine, _ in outcomes) > len(outcomes) // 2

    def test_undefined_decision_is_an_error_not_a_deny(self, tmp_path: Path) -> None:
        (tmp_path / ".manifest").write_text('{"revision": "t-1", "roots": ["release"]}')
        (tmp_path / "release").mkdir()
        (tmp_path / "release" / "gate.rego").write_text(
            'package release.gate\n\ndecision := {"allow": true} if input.never\n'
        )
        engine = OpaGoEngine(load_bundle(tmp_path))
        try:
            with pytest.raises(PolicyEngineError, match="undefined"):
                engine.evaluate("{}")
        finally:
            engine.close()
