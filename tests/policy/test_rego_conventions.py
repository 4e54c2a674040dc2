"""House conventions of the Rego policies (the team's STYLE.md, "Rego"), checked as code.

No Regal binary is at hand, so this is the linter: metadata on every deny/warn
rule, exactly the codes of docs/violation-codes.md, package and file layout, naming, line and
rule length, tests that fire and do not fire for every code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from release_gate.policy.metadata import AnnotatedRule, annotated_rules
from tests.helpers import CONTRACT_CODES, documented_codes

POLICIES = Path(__file__).resolve().parents[2] / "policies"

_PACKAGE = re.compile(r"^package\s+(\S+)\s*$", re.MULTILINE)
#: test_<rule>_<denied|allowed|warned>_when_<condition>; a helper of lib/ is tested as
#: test_<helper>_of_<argument>_is_<result> (test_duration_of_90_is_1m_30s).
_TEST_NAME = re.compile(
    r"^test_[a-z0-9_]+_(denied|allowed|warned)_when_[a-z0-9_]+$"
    r"|^test_[a-z0-9_]+_of_[a-z0-9_]+_is_[a-z0-9_]+$"
)
_RULE_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\b")
_KEYWORDS = {"package", "import", "default"}


def _modules() -> dict[str, str]:
    return {
        path.relative_to(POLICIES).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(POLICIES.rglob("*.rego"))
    }


def _is_test(relpath: str) -> bool:
    return relpath.startswith("tests/")


def _policy_rules() -> list[AnnotatedRule]:
    return [
        rule
        for path, text in _modules().items()
        if not _is_test(path)
        for rule in annotated_rules(path, text)
    ]


def _test_names(text: str) -> list[str]:
    return re.findall(r"^(test_\w+)\b", text, re.MULTILINE)


def _rule_blocks(text: str) -> list[tuple[str, int, int]]:
    """(name, first line, line count) of every top-level rule written as a block."""
    lines = text.splitlines()
    blocks: list[tuple[str, int, int]] = []
    for index, line in enumerate(lines):
        head = _RULE_HEAD.match(line)
        if head is None or head.group(1) in _KEYWORDS or not line.rstrip().endswith(("{", "(")):
            continue
        end = index
        while end < len(lines) and lines[end].rstrip() not in ("}", ")"):
            end += 1
        blocks.append((head.group(1), index + 1, end - index + 1))
    return blocks


class TestRuleMetadata:
    def test_every_deny_and_warn_rule_has_complete_metadata(self) -> None:
        rules = _policy_rules()
        assert rules
        for rule in rules:
            where = f"{rule.module}:{rule.line}"
            assert rule.annotation is not None, f"{where} has no METADATA"
            assert isinstance(rule.annotation.get("title"), str), where
            assert isinstance(rule.annotation.get("description"), str), where
            custom = rule.annotation.get("custom")
            assert isinstance(custom, dict), f"{where}: custom must be a map"
            assert isinstance(custom.get("code"), str), where
            assert isinstance(custom.get("failure_msg"), str), where

    def test_codes_are_unique_documented_and_cover_the_contract(self) -> None:
        """Exactly the codes of docs/violation-codes.md's table, which holds every
        contract code: a new rule needs a row there, a removed one loses its row."""
        codes = [rule.annotation["custom"]["code"] for rule in _policy_rules() if rule.annotation]
        assert len(codes) == len(set(codes))
        assert set(codes) == documented_codes()
        assert CONTRACT_CODES <= set(codes)

    def test_rule_reports_its_own_code_and_renders_its_failure_msg(self) -> None:
        for rule in _policy_rules():
            assert rule.annotation is not None
            custom = rule.annotation["custom"]
            assert f'"{custom["code"]}"' in rule.text, f"{rule.module}:{rule.line}"
            assert f'"{custom["failure_msg"]}"' in rule.text, f"{rule.module}:{rule.line}"

    def test_failure_msg_uses_only_portable_verbs(self) -> None:
        for rule in _policy_rules():
            assert rule.annotation is not None
            verbs = re.findall(r"%.", rule.annotation["custom"]["failure_msg"])
            assert set(verbs) <= {"%s", "%d", "%v"}, f"{rule.module}:{rule.line}: {verbs}"


class TestModuleLayout:
    def test_every_module_imports_rego_v1(self) -> None:
        for path, text in _modules().items():
            assert re.search(r"^import rego\.v1$", text, re.MULTILINE), path

    @pytest.mark.parametrize(
        ("folder", "template"),
        [("release", "release.{}"), ("lib", "lib.{}"), ("tests", "release.{}")],
    )
    def test_package_matches_file(self, folder: str, template: str) -> None:
        modules = {p: t for p, t in _modules().items() if p.startswith(f"{folder}/")}
        assert modules
        for path, text in modules.items():
            package = _PACKAGE.search(text)
            assert package is not None, path
            assert package.group(1) == template.format(Path(path).stem), path

    def test_manifest_roots_cover_every_package_and_governance(self) -> None:
        manifest = json.loads((POLICIES / ".manifest").read_text(encoding="utf-8"))
        assert isinstance(manifest["revision"], str)
        assert manifest["revision"]
        roots = set(manifest["roots"])
        assert "governance" in roots
        for path, text in _modules().items():
            package = _PACKAGE.search(text)
            assert package is not None
            assert package.group(1).split(".")[0] in roots, path

    def test_lines_are_at_most_120_characters(self) -> None:
        for path, text in _modules().items():
            for number, line in enumerate(text.splitlines(), 1):
                assert len(line.expandtabs(4)) <= 120, f"{path}:{number}"

    def test_no_print_outside_tests(self) -> None:
        for path, text in _modules().items():
            if not _is_test(path):
                assert not re.search(r"\bprint\(", text), path

    def test_rule_names_are_snake_case_without_get_or_list_prefix(self) -> None:
        for path, text in _modules().items():
            for name, line, _ in _rule_blocks(text):
                assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"{path}:{line} {name}"
                assert not name.startswith(("get_", "list_")), f"{path}:{line} {name}"

    def test_rules_are_at_most_30_lines_and_tests_60(self) -> None:
        for path, text in _modules().items():
            limit = 60 if _is_test(path) else 30
            for name, line, length in _rule_blocks(text):
                assert length <= limit, f"{path}:{line} {name} has {length} lines"


class TestRegoTests:
    def test_test_names_follow_the_pattern_and_are_unique(self) -> None:
        seen: set[str] = set()
        for path, text in _modules().items():
            for name in _test_names(text):
                assert _is_test(path), f"{path}: {name} outside tests/"
                assert _TEST_NAME.match(name), f"{path}: {name}"
                assert name not in seen, f"{path}: {name} is defined twice"
                seen.add(name)

    @pytest.mark.parametrize("code", sorted(documented_codes()))
    @pytest.mark.parametrize("outcome", ["fires", "allowed"])
    def test_every_code_has_a_test_that_fires_and_one_that_does_not(
        self, code: str, outcome: str
    ) -> None:
        """A deny rule's test that fires is ``denied_when``, a warn rule's ``warned_when``."""
        kinds = {
            rule.annotation["custom"]["code"]: rule.kind
            for rule in _policy_rules()
            if rule.annotation
        }
        if outcome == "fires":
            outcome = "warned" if kinds.get(code) == "warn" else "denied"
        prefix, rule = code.split(".", 1)
        topic = {"signature": "signatures"}.get(prefix, prefix)
        text = (POLICIES / "tests" / f"{topic}_test.rego").read_text(encoding="utf-8")
        names = _test_names(text)
        assert any(name.startswith(f"test_{rule}_{outcome}_when_") for name in names), (
            f"no test_{rule}_{outcome}_when_... in tests/{topic}_test.rego"
        )

    def test_combined_allow_and_deny_cases_exist(self) -> None:
        names = _test_names((POLICIES / "tests" / "gate_test.rego").read_text(encoding="utf-8"))
        assert "test_decision_allowed_when_every_rule_passes" in names
        assert "test_decision_denied_when_several_rules_fail" in names
