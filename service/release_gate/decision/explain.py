"""Explain a policy result: each finding's ``title`` and ``solution``, from its rule's METADATA.

The policy decides (``allow``, which findings are violations and which are
warnings); this step only adds words. It runs after every evaluation, on
whichever engine made it, so regorus and OPA decisions read alike. The words
come from the METADATA of the bundle the gate loaded (:class:`PolicyRules`),
by code: a finding whose code no rule declares, or a result from another
policy than the one the rules were read from, is an engine error (503), never
an unexplained decision.
"""

from __future__ import annotations

import dataclasses

from release_gate.decision.model import Violation
from release_gate.policy.engine import PolicyEngineError, PolicyResult
from release_gate.policy.metadata import PolicyRules

__all__ = ["explain"]


def _explained(findings: tuple[Violation, ...], rules: PolicyRules) -> tuple[Violation, ...]:
    out = []
    for finding in findings:
        rule = rules.by_code.get(finding.code)
        if rule is None:
            raise PolicyEngineError(
                f"the policy reported code {finding.code[:128]!r}, which no rule's METADATA "
                "declares; no decision was made"
            )
        out.append(dataclasses.replace(finding, title=rule.title, solution=rule.solution or ""))
    return tuple(out)


def explain(result: PolicyResult, rules: PolicyRules) -> PolicyResult:
    """``result`` with the title and solution of every violation and warning filled in."""
    if result.policy_digest != rules.digest:
        raise PolicyEngineError(
            f"the decision was made by policy {result.policy_digest}, but the rule metadata "
            f"is of {rules.digest}; no decision was made"
        )
    return dataclasses.replace(
        result,
        violations=_explained(result.violations, rules),
        warnings=_explained(result.warnings, rules),
    )
