"""The ``# METADATA`` annotations of the bundle's deny and warn rules.

Each ``deny contains violation if {...}`` (and ``warn``) rule carries an OPA
annotation block right above its head::

    # METADATA
    # title: Stale evidence
    # description: The evidence is older than the lane's maximum for its source.
    # custom:
    #   code: evidence.stale
    #   failure_msg: "evidence %s from %s is %d ns old, ..."
    #   solution: Re-read the evidence from its system and re-sign the manifest.
    deny contains violation if {

A ``deny`` rule may also carry ``custom.effective_on`` (a quoted RFC 3339
timestamp with an offset): its findings are warnings before that instant. The
entry point decides that in Rego, from the same text the rule passes to
``data.lib.result.staged_violation``; this module refuses a bundle where the two
disagree, so the METADATA stays the one declaration a governance owner reads.

The embedded engine cannot read annotations (no ``rego.metadata.*``), so they are
parsed here, as YAML: for ``GET /v1/policy``, for the ``title`` and ``solution``
of every finding in a decision (:class:`PolicyRules`), and for the convention tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import PolicyBundle
from release_gate.timestamps import parse_timestamp_ns

__all__ = [
    "STAGED_BUILDER",
    "AnnotatedRule",
    "PolicyRules",
    "RuleMetadata",
    "annotated_rules",
    "policy_rules",
    "rule_metadata",
]

_RULE_HEAD = re.compile(r"^(deny|warn)\s+contains\b")
_MARKER = "# METADATA"

#: The builder a deny rule with ``custom.effective_on`` passes its findings through.
STAGED_BUILDER = "data.lib.result.staged_violation("


@dataclass(frozen=True, slots=True)
class RuleMetadata:
    """What a deny or warn rule says about itself.

    ``level`` is the rule's kind, ``"deny"`` or ``"warn"``; ``effective_on`` the
    RFC 3339 instant from which a deny rule's findings deny (``None``: always).
    """

    code: str
    title: str
    description: str
    failure_msg: str
    solution: str | None
    level: str = "deny"
    effective_on: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """The rules of one bundle by code, for explaining its decisions."""

    digest: str  # the policy digest of the bundle the rules were read from
    by_code: Mapping[str, RuleMetadata]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.by_code)


@dataclass(frozen=True, slots=True)
class AnnotatedRule:
    """One deny or warn rule of a module, with its parsed annotation (``None`` if it has none)."""

    module: str
    line: int  # 1-based line of the rule head
    kind: str  # "deny" or "warn"
    annotation: dict[str, Any] | None
    text: str  # the rule, from its head to its closing brace


def _uncomment(line: str) -> str:
    stripped = line.strip()
    return stripped[2:] if stripped.startswith("# ") else stripped[1:]


def _annotation(module: str, lines: list[str], head: int) -> dict[str, Any] | None:
    """Parse the comment block directly above ``lines[head]`` if it is a METADATA block."""
    start = head
    while start > 0 and lines[start - 1].strip().startswith("#"):
        start -= 1
    block = lines[start:head]
    if not block or block[0].strip() != _MARKER:
        return None
    try:
        value = yaml.safe_load("\n".join(_uncomment(line) for line in block[1:]))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{module}:{start + 1}: METADATA is not YAML: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"{module}:{start + 1}: METADATA must be a YAML mapping")
    return value


def _rule_text(lines: list[str], head: int) -> str:
    end = head
    while end < len(lines) and lines[end].rstrip() != "}":
        end += 1
    return "\n".join(lines[head : end + 1])


def annotated_rules(module: str, text: str) -> tuple[AnnotatedRule, ...]:
    """Every deny and warn rule of one module's ``text``, in file order."""
    lines = text.splitlines()
    rules: list[AnnotatedRule] = []
    for index, line in enumerate(lines):
        match = _RULE_HEAD.match(line)
        if match is None:
            continue
        rules.append(
            AnnotatedRule(
                module=module,
                line=index + 1,
                kind=match.group(1),
                annotation=_annotation(module, lines, index),
                text=_rule_text(lines, index),
            )
        )
    return tuple(rules)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _effective_on(rule: AnnotatedRule, custom: Mapping[str, Any], where: str) -> str | None:
    """``custom.effective_on``, checked: a deny rule's quoted RFC 3339 instant with an
    offset, passed verbatim to the staged builder (and only then is the builder used)."""
    value = custom.get("effective_on")
    staged = STAGED_BUILDER in rule.text
    if value is None:
        if staged:
            raise ConfigurationError(
                f"{where}: the rule calls {STAGED_BUILDER[:-1]} but its METADATA has no "
                "custom.effective_on"
            )
        return None
    if rule.kind != "deny":
        raise ConfigurationError(f"{where}: custom.effective_on is for deny rules only")
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{where}: custom.effective_on must be a quoted RFC 3339 timestamp with an offset "
            '("2027-01-15T00:00:00+01:00"); YAML reads an unquoted one as a date'
        )
    try:
        parse_timestamp_ns(value)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: custom.effective_on {value!r}: {exc}") from exc
    if not staged or f'"{value}"' not in rule.text:
        raise ConfigurationError(
            f"{where}: a rule with custom.effective_on builds its findings with "
            f'{STAGED_BUILDER}..., "{value}"), the same instant as its METADATA'
        )
    return value


def _metadata(rule: AnnotatedRule) -> RuleMetadata:
    where = f"{rule.module}:{rule.line}"
    if rule.annotation is None:
        raise ConfigurationError(f"{where}: {rule.kind} rule has no METADATA block")
    custom = rule.annotation.get("custom")
    custom = custom if isinstance(custom, dict) else {}
    code, failure_msg = _text(custom.get("code")), _text(custom.get("failure_msg"))
    title = _text(rule.annotation.get("title"))
    description = _text(rule.annotation.get("description"))
    if code is None or failure_msg is None or title is None or description is None:
        raise ConfigurationError(
            f"{where}: METADATA needs title, description, custom.code and custom.failure_msg"
        )
    return RuleMetadata(
        code=code,
        title=title,
        description=description,
        failure_msg=failure_msg,
        solution=_text(custom.get("solution")),
        level=rule.kind,
        effective_on=_effective_on(rule, custom, where),
    )


def rule_metadata(bundle: PolicyBundle) -> tuple[RuleMetadata, ...]:
    """The metadata of every deny and warn rule of ``bundle``, sorted by code.

    Raises :class:`ConfigurationError` when a rule lacks its annotation or one of
    its required fields, or when two rules claim one code.
    """
    found: dict[str, RuleMetadata] = {}
    for module, text in sorted(bundle.modules.items()):
        for rule in annotated_rules(module, text):
            metadata = _metadata(rule)
            if metadata.code in found:
                where = f"{module}:{rule.line}"
                raise ConfigurationError(f"{where}: code {metadata.code} is used twice")
            found[metadata.code] = metadata
    return tuple(found[code] for code in sorted(found))


def policy_rules(bundle: PolicyBundle) -> PolicyRules:
    """:func:`rule_metadata` of ``bundle`` by code, tagged with the bundle's digest."""
    rules = rule_metadata(bundle)
    return PolicyRules(
        digest=bundle.digest, by_code=MappingProxyType({rule.code: rule for rule in rules})
    )
