"""Parsing the ``# METADATA`` blocks of deny and warn rules (``GET /v1/policy``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.metadata import (
    RuleMetadata,
    annotated_rules,
    policy_rules,
    rule_metadata,
)
from tests.helpers import documented_codes

RULE = """# METADATA
# title: {title}
# description: >-
#   Two lines of
#   description.
# custom:
#   code: {code}
#   failure_msg: "thing %s is wrong"
{solution}deny contains violation if {{
	some thing in input.things
	violation := data.lib.result.violation("{code}", sprintf("thing %s is wrong", [thing]), "")
}}
"""


STAGED = """# METADATA
# title: Short rationale
# description: A residual acceptance with a rationale under 20 characters.
# custom:
#   code: things.short
#   failure_msg: "rationale of %s is short"
#   effective_on: {effective_on}
{kind} contains violation if {{
	some thing in input.things
	msg := sprintf("rationale of %s is short", [thing])
	violation := {builder}
}}
"""

_STAGED_BUILDER = 'data.lib.result.staged_violation("things.short", msg, "", "{instant}")'


def _staged(
    effective_on: str = '"2027-01-15T00:00:00+01:00"',
    *,
    kind: str = "deny",
    builder: str | None = None,
) -> str:
    instant = effective_on.strip('"')
    chosen = builder if builder is not None else _STAGED_BUILDER.format(instant=instant)
    return STAGED.format(effective_on=effective_on, kind=kind, builder=chosen)


def _bundle(tmp_path: Path, *rules: str) -> PolicyBundle:
    (tmp_path / ".manifest").write_text(json.dumps({"revision": "t-1", "roots": ["release"]}))
    (tmp_path / "release").mkdir()
    body = "package release.things\n\nimport rego.v1\n\n" + "\n".join(rules)
    (tmp_path / "release" / "things.rego").write_text(body, encoding="utf-8")
    return load_bundle(tmp_path)


def _rule(code: str = "things.wrong", *, title: str = "Wrong thing", solution: str = "") -> str:
    line = f"#   solution: {solution}\n" if solution else ""
    return RULE.format(code=code, title=title, solution=line)


class TestRuleMetadata:
    def test_policies_describe_every_documented_code_sorted(self, gate_policies: Path) -> None:
        rules = rule_metadata(load_bundle(gate_policies))
        codes = [rule.code for rule in rules]
        assert set(codes) == documented_codes()
        assert codes == sorted(codes)
        assert all(rule.solution for rule in rules)  # ours all have one; it is optional
        evidence_stale = next(rule for rule in rules if rule.code == "evidence.stale")
        assert evidence_stale.title == "Stale evidence"
        assert evidence_stale.failure_msg == "evidence %s from %s is %s old, over the %s maximum"
        assert {(rule.level, rule.effective_on) for rule in rules} == {("deny", None)}

    def test_parses_folded_description_and_optional_solution(self, tmp_path: Path) -> None:
        bundle = _bundle(tmp_path, _rule("b.code"), _rule("a.code", solution="Fix it."))
        assert rule_metadata(bundle) == (
            RuleMetadata(
                "a.code", "Wrong thing", "Two lines of description.", "thing %s is wrong", "Fix it."
            ),
            RuleMetadata(
                "b.code", "Wrong thing", "Two lines of description.", "thing %s is wrong", None
            ),
        )

    def test_rule_without_metadata_is_refused(self, tmp_path: Path) -> None:
        bare = "deny contains 1 if {\n\tinput.x\n}\n"
        with pytest.raises(ConfigurationError, match=r"things\.rego:5: deny rule has no METADATA"):
            rule_metadata(_bundle(tmp_path, bare))

    def test_missing_field_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="needs title, description"):
            rule_metadata(_bundle(tmp_path, _rule(title="''")))

    def test_duplicate_code_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match=r"code things\.wrong is used twice"):
            rule_metadata(_bundle(tmp_path, _rule(), _rule()))

    def test_invalid_yaml_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="METADATA is not YAML"):
            rule_metadata(_bundle(tmp_path, _rule(title="[unclosed")))

    def test_non_mapping_metadata_is_refused(self, tmp_path: Path) -> None:
        block = "# METADATA\n# - a list\ndeny contains 1 if {\n\tinput.x\n}\n"
        with pytest.raises(ConfigurationError, match="must be a YAML mapping"):
            rule_metadata(_bundle(tmp_path, block))


class TestLevels:
    def test_staged_deny_rule_has_its_effective_on(self, tmp_path: Path) -> None:
        (rule,) = rule_metadata(_bundle(tmp_path, _staged()))
        assert (rule.code, rule.level, rule.effective_on) == (
            "things.short",
            "deny",
            "2027-01-15T00:00:00+01:00",
        )

    def test_warn_rule_has_level_warn_and_no_effective_on(self, tmp_path: Path) -> None:
        warn = _rule("things.odd").replace("deny contains", "warn contains")
        (rule,) = rule_metadata(_bundle(tmp_path, warn))
        assert (rule.level, rule.effective_on) == ("warn", None)

    def test_unquoted_effective_on_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="must be a quoted RFC 3339 timestamp"):
            rule_metadata(_bundle(tmp_path, _staged("2027-01-15T00:00:00+01:00")))

    @pytest.mark.parametrize(
        "instant", ["2027-01-15T00:00:00", "2027-01-15", "2027-02-30T00:00:00Z", "soon"]
    )
    def test_effective_on_without_offset_or_malformed_is_refused(
        self, tmp_path: Path, instant: str
    ) -> None:
        with pytest.raises(ConfigurationError, match=r"custom\.effective_on '.*': "):
            rule_metadata(_bundle(tmp_path, _staged(f'"{instant}"')))

    def test_effective_on_on_a_warn_rule_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="effective_on is for deny rules only"):
            rule_metadata(_bundle(tmp_path, _staged(kind="warn")))

    def test_rule_passing_another_instant_is_refused(self, tmp_path: Path) -> None:
        other = _STAGED_BUILDER.format(instant="2027-01-16T00:00:00+01:00")
        with pytest.raises(ConfigurationError, match="the same instant as its METADATA"):
            rule_metadata(_bundle(tmp_path, _staged(builder=other)))

    def test_rule_not_using_the_staged_builder_is_refused(self, tmp_path: Path) -> None:
        plain = 'data.lib.result.violation("things.short", msg, "")'
        with pytest.raises(ConfigurationError, match="builds its findings with"):
            rule_metadata(_bundle(tmp_path, _staged(builder=plain)))

    def test_staged_builder_without_effective_on_is_refused(self, tmp_path: Path) -> None:
        rule = _staged().replace('#   effective_on: "2027-01-15T00:00:00+01:00"\n', "")
        with pytest.raises(ConfigurationError, match=r"has no custom\.effective_on"):
            rule_metadata(_bundle(tmp_path, rule))


class TestPolicyRules:
    def test_rules_by_code_carry_the_bundle_digest(self, tmp_path: Path) -> None:
        bundle = _bundle(tmp_path, _rule("b.code"), _staged())
        rules = policy_rules(bundle)
        assert rules.digest == bundle.digest
        assert rules.codes == {"b.code", "things.short"}
        assert rules.by_code["things.short"].effective_on == "2027-01-15T00:00:00+01:00"


class TestAnnotatedRules:
    def test_finds_deny_and_warn_rules_with_their_text(self) -> None:
        text = "package p\n\n# a plain comment\nwarn contains 1 if {\n\tinput.x\n}\n\n" + _rule(
            "p.code"
        )
        rules = annotated_rules("p.rego", text)
        assert [(rule.kind, rule.line) for rule in rules] == [("warn", 4), ("deny", 16)]
        assert rules[0].annotation is None
        assert rules[0].text == "warn contains 1 if {\n\tinput.x\n}"
        assert rules[1].annotation is not None
        assert rules[1].annotation["custom"]["code"] == "p.code"
        assert rules[1].text.endswith("}")

    def test_helper_rules_are_not_reported(self) -> None:
        assert annotated_rules("p.rego", "package p\n\nhelper contains 1 if true\n") == ()
