"""Parsing the ``# METADATA`` blocks of deny and warn rules (``GET /v1/policy``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.metadata import RuleMetadata, annotated_rules, rule_metadata
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
        assert evidence_stale.failure_msg.startswith("evidence %s from %s is %d ns old")

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
