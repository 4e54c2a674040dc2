"""Parity: the embedded engine (regorus) and OPA give identical decisions.

Every case runs on regorus and on each OPA of ``tests/parity/conftest.py``:
OPA's Go evaluator in-process (``opa-go``, wherever ``make install`` could
install it), a real OPA server that loaded the bundle itself
(``opa-preloaded``), and a real OPA server the suite pushes the policies to
(``opa-empty``). The servers need an ``opa`` binary (``RELEASE_GATE_TEST_OPA_BIN``
or ``opa`` on ``PATH``; CI has one) and are skipped, saying so, without it. The
server runs also prove bundle loading, the revision check and the HTTP engine.

Compared per input: ``allow``, and the sorted (code, path, message) triples of
violations and of warnings. Inputs: every example manifest, every family of
``cases.FAMILIES`` (with their boundaries), and 300 seeded random combinations
of families (``RELEASE_GATE_TEST_PARITY_SEED``). The policies are the
repository's modules with the suite's own governance data
(``tests/parity/governance.py``), never the shipped ``data.json``.

Adding a family (a new rule, warning, or ``effective_on`` case): add one entry
to ``FAMILIES`` in ``cases.py``, ``name -> (mutation, code)``, where the mutation
changes the allowed base case in place (``manifest``, ``facts``, or
``evaluated_at``) and ``code`` is the violation or warning it must raise on
regorus (None: it must stay allowed). Anything it needs from governance goes
into ``governance.py``. Nothing else: every engine, the random combinations and
``TestCases`` pick it up, and ``test_every_documented_code_has_a_family`` fails
until each code of docs/violation-codes.md has one.

The staged families (``cases.STAGED_FAMILIES``) run the same way on the staged
example bundle of :mod:`tests.levels` (a warn rule, and a deny rule before,
exactly at and after its ``custom.effective_on``): ``staged_embedded`` against
``staged_other``, an OPA of each kind holding that bundle.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.engine import PolicyEngine, PolicyEngineError, PolicyResult
from release_gate.policy.governance import load_governance
from tests.helpers import documented_codes
from tests.parity.cases import (
    FAMILIES,
    MESSAGES,
    STAGED_FAMILIES,
    example_inputs,
    family_case,
    random_cases,
    staged_case,
)
from tests.parity.governance import REVISION_SUFFIX
from tests.parity.opa_go import SKIP_REASON, OpaGoEngine, opa_go_available

SEED = int(os.environ.get("RELEASE_GATE_TEST_PARITY_SEED", "20261126"))


def _full(result: PolicyResult) -> tuple[bool, list[tuple[str, str, str]], list[Any]]:
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


def _both(embedded: PolicyEngine, other: PolicyEngine, policy_input: str) -> tuple[Any, Any]:
    return _full(embedded.evaluate(policy_input)), _full(other.evaluate(policy_input))


class TestCases:
    """The inputs themselves, on the embedded engine: every family raises what it names."""

    def test_every_documented_code_has_a_family(self) -> None:
        """A new rule gets a parity case, or this fails (docs/policy-authors.md)."""
        covered = {expected for _, expected in FAMILIES.values() if expected is not None}
        assert documented_codes() - covered == set()

    @pytest.mark.parametrize("name", sorted(MESSAGES))
    def test_family_message_reads_as_the_contract_says(
        self, embedded: PolicyEngine, name: str
    ) -> None:
        result = embedded.evaluate(family_case(name))
        assert [v.message for v in result.violations] == [MESSAGES[name]]

    @pytest.mark.parametrize("name", sorted(STAGED_FAMILIES))
    def test_staged_family_reports_its_levels(
        self, staged_embedded: PolicyEngine, name: str
    ) -> None:
        _, violations, warnings = STAGED_FAMILIES[name]
        result = staged_embedded.evaluate(staged_case(name))
        assert {v.code for v in result.violations} == violations
        assert {w.code for w in result.warnings} == warnings
        assert result.allow == (not violations)

    @pytest.mark.parametrize("name", sorted(FAMILIES))
    def test_family_raises_its_code(self, embedded: PolicyEngine, name: str) -> None:
        expected = FAMILIES[name][1]
        result = embedded.evaluate(family_case(name))
        violations = {v.code for v in result.violations}
        warnings = {w.code for w in result.warnings}
        if expected is None:
            assert result.allow, sorted(violations)
        else:
            assert expected in violations | warnings, sorted(violations | warnings)
            assert result.allow is (expected not in violations)

    def test_governance_is_the_suites_own_and_valid(self, bundle: PolicyBundle) -> None:
        assert bundle.revision.endswith(REVISION_SUFFIX)
        shipped = load_bundle(Path(__file__).resolve().parents[2] / "policies")
        assert bundle.governance != shipped.governance
        assert load_governance(bundle.governance).lanes


class TestParity:
    """The same decisions, messages included, on regorus and on each OPA (``other``)."""

    @pytest.mark.parametrize("name", sorted(FAMILIES))
    def test_violation_family(self, embedded: PolicyEngine, other: PolicyEngine, name: str) -> None:
        mine, theirs = _both(embedded, other, family_case(name))
        assert mine == theirs

    @pytest.mark.parametrize("name", sorted(STAGED_FAMILIES))
    def test_staged_family(
        self, staged_embedded: PolicyEngine, staged_other: PolicyEngine, name: str
    ) -> None:
        mine, theirs = _both(staged_embedded, staged_other, staged_case(name))
        assert mine == theirs

    def test_examples(
        self, embedded: PolicyEngine, other: PolicyEngine, bundle: PolicyBundle
    ) -> None:
        cases = list(example_inputs(bundle.governance))
        assert cases, "no example manifests found"
        for label, policy_input in cases:
            mine, theirs = _both(embedded, other, policy_input)
            assert mine == theirs, label

    def test_random_combinations(self, embedded: PolicyEngine, other: PolicyEngine) -> None:
        for label, policy_input in random_cases(300, seed=SEED):
            mine, theirs = _both(embedded, other, policy_input)
            assert mine == theirs, f"{label} (seed {SEED})"

    def test_every_input_decides_on_both(
        self, embedded: PolicyEngine, other: PolicyEngine, bundle: PolicyBundle
    ) -> None:
        """The cases are not vacuous: both engines allow some and deny most, alike."""
        outcomes = [
            (embedded.evaluate(text).allow, other.evaluate(text).allow)
            for _, text in _all_inputs(bundle.governance)
        ]
        assert all(mine == theirs for mine, theirs in outcomes)
        assert any(mine for mine, _ in outcomes)
        assert sum(not mine for mine, _ in outcomes) > len(outcomes) // 2

    def test_other_names_the_suites_policy(self, other: PolicyEngine, bundle: PolicyBundle) -> None:
        """On a preloaded OPA this also proves OPA runs the suite's bundle revision."""
        result = other.evaluate(family_case("lane.unknown"))
        assert (result.policy_revision, result.policy_digest) == (bundle.revision, bundle.digest)
        assert other.status().ready


@pytest.mark.skipif(not opa_go_available(), reason=SKIP_REASON)
class TestOpaGo:
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
