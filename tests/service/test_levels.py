"""Contract section 8 over HTTP: explained findings, warn rules and staged deny rules.

The gate here runs the tests' own staged bundle (:mod:`tests.levels`): the
shipped Rego plus a warn rule (``evidence.aging``) and a deny rule in effect
from :data:`~tests.levels.EFFECTIVE_ON` (``objections.rationale_too_short``),
with governance data built by the tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.decision.explain import explain
from release_gate.decision.model import Violation
from release_gate.ops.metrics import Metrics
from release_gate.policy.engine import PolicyEngineError, PolicyResult
from release_gate.policy.metadata import PolicyRules, RuleMetadata
from release_gate.runtime import Runtime, build_runtime
from tests.databases import migrate
from tests.helpers import ManifestFactory, post_json
from tests.levels import EFFECTIVE_ON, EFFECTIVE_ON_NS, write_staged_policies
from tests.service._support import Build, assert_problem, at, evaluate
from tests.service.conftest import pin_clock

EFFECTIVE = dt.datetime.fromtimestamp(EFFECTIVE_ON_NS // 1_000_000_000, dt.UTC)
FIELDS = {"code", "message", "path", "title", "solution"}


@pytest.fixture(scope="module")
def settings(module_dir: Path, signing_key_file: Path) -> Settings:
    url = f"sqlite:///{module_dir / 'decisions.db'}"
    migrate(url)
    return Settings(
        policies=write_staged_policies(module_dir / "policies"),
        state_dir=module_dir / "state",
        signing_key_file=signing_key_file,
        database_url=url,
    )


@pytest.fixture
def gate_at(runtime: Runtime, now: dt.datetime) -> Iterator[Any]:
    """``gate_at(moment)`` pins the gate's clock to ``moment``; put back afterwards."""
    yield lambda moment: pin_clock(runtime, moment)
    pin_clock(runtime, now)


def _short_rationale(manifest: dict[str, Any]) -> None:
    manifest["objections"][0]["residual_acceptance"]["rationale"] = "Fine."


def _rules(runtime: Runtime) -> PolicyRules:
    assert runtime.rules is not None
    return runtime.rules


class TestExplained:
    def test_every_violation_carries_its_rules_title_and_solution(
        self, client: TestClient, runtime: Runtime, build: Build
    ) -> None:
        def out_of_scope(manifest: dict[str, Any]) -> None:
            manifest["requested_actions"] = ["send_customer_notice"]
            manifest["audience"] = ["all-customers"]

        decision = evaluate(client, build(out_of_scope))
        assert decision["allow"] is False
        rules = _rules(runtime).by_code
        assert {v["code"] for v in decision["violations"]} == {
            "lane.action_out_of_scope",
            "lane.audience_out_of_scope",
        }
        for item in decision["violations"]:
            assert set(item) == FIELDS
            rule = rules[item["code"]]
            assert (item["title"], item["solution"]) == (rule.title, rule.solution)
        action = next(v for v in decision["violations"] if v["path"] == "/requested_actions/0")
        assert action["title"] == "Action outside the lane"
        assert action["solution"] == "Remove the action, or release into a lane that allows it."

    def test_recorded_decision_keeps_the_explanations(
        self, client: TestClient, build: Build
    ) -> None:
        decision = evaluate(client, build(lambda m: m.update(audience=["all-customers"])))
        record = client.get(f"/v1/decisions/{decision['decision_id']}").json()
        assert record["violations"] == decision["violations"]
        assert record["warnings"] == decision["warnings"]
        listed = client.get("/v1/decisions", params={"limit": 1}).json()["items"][0]
        assert listed["violations"][0]["title"] == "Audience outside the lane"

    def test_record_written_before_explanations_reads_with_empty_ones(
        self, client: TestClient, build: Build, runtime: Runtime, module_dir: Path
    ) -> None:
        decision = evaluate(client, build(lambda m: m.update(audience=["all-customers"])))
        older = [{k: v[k] for k in ("code", "message", "path")} for v in decision["violations"]]
        with sqlite3.connect(module_dir / "decisions.db") as connection:
            connection.execute(
                "UPDATE decisions SET violations = ? WHERE decision_id = ?",
                (json.dumps(older), decision["decision_id"]),
            )
        assert runtime.store is not None
        record = runtime.store.get(decision["decision_id"])
        assert record is not None
        (violation,) = record.decision.violations
        assert (violation.code, violation.title, violation.solution) == (
            "lane.audience_out_of_scope",
            "",
            "",
        )
        assert record.to_wire()["violations"] == [{**older[0], "title": "", "solution": ""}]


class TestWarnRule:
    def test_warning_never_denies_and_is_explained(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def aging(manifest: dict[str, Any]) -> None:
            manifest["evidence"][0]["observed_at"] = at(now, hours=-4, minutes=-30, seconds=-5)

        decision = evaluate(client, build(aging))
        assert decision["allow"] is True
        assert decision["violations"] == []
        assert decision["warnings"] == [
            {
                "code": "evidence.aging",
                "message": "evidence EV-1 from incident_timeline is 4h 30m old, over half "
                "the 6h maximum",
                "path": "/evidence/0",
                "title": "Evidence close to its maximum age",
                "solution": "Re-read the evidence from its system before the review, and "
                "re-sign the manifest.",
            }
        ]

    def test_warning_is_recorded_and_counted_by_code(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        def aging(manifest: dict[str, Any]) -> None:
            manifest["evidence"][1]["observed_at"] = at(now, hours=-13)

        before = _warnings_counted(client, "evidence.aging")
        decision = evaluate(client, build(aging))
        assert [w["code"] for w in decision["warnings"]] == ["evidence.aging"]
        record = client.get(f"/v1/decisions/{decision['decision_id']}").json()
        assert record["warnings"] == decision["warnings"]
        assert _warnings_counted(client, "evidence.aging") == before + 1

    def test_fresh_evidence_gives_no_warning(self, client: TestClient, build: Build) -> None:
        decision = evaluate(client, build())
        assert (decision["allow"], decision["warnings"]) == (True, [])


class TestStagedDenyRule:
    def test_warns_before_its_effective_on(
        self, client: TestClient, make_manifest: ManifestFactory, gate_at: Any
    ) -> None:
        moment = EFFECTIVE - dt.timedelta(seconds=1)
        gate_at(moment)
        decision = evaluate(client, make_manifest(_short_rationale, now=moment))
        assert decision["allow"] is True
        assert decision["violations"] == []
        (warning,) = decision["warnings"]
        assert warning == {
            "code": "objections.rationale_too_short",
            "message": "residual acceptance of objection OBJ-1 has a rationale of 5 "
            "characters, under 20",
            "path": "/objections/0",
            "title": "Residual acceptance without a stated reason",
            "solution": "Have the release owner say why the disagreement is acceptable, in a "
            "full sentence.",
        }

    @pytest.mark.parametrize("after", [0, 1, 86400 * 90])
    def test_denies_from_exactly_its_effective_on(
        self, client: TestClient, make_manifest: ManifestFactory, gate_at: Any, after: int
    ) -> None:
        moment = EFFECTIVE + dt.timedelta(seconds=after)
        gate_at(moment)
        decision = evaluate(client, make_manifest(_short_rationale, now=moment))
        assert decision["allow"] is False
        assert [(v["code"], v["path"]) for v in decision["violations"]] == [
            ("objections.rationale_too_short", "/objections/0")
        ]
        assert decision["violations"][0]["title"] == "Residual acceptance without a stated reason"
        assert decision["warnings"] == []

    def test_staged_warning_is_counted_by_its_code(
        self, client: TestClient, make_manifest: ManifestFactory, gate_at: Any
    ) -> None:
        moment = EFFECTIVE - dt.timedelta(hours=2)
        gate_at(moment)
        before = _warnings_counted(client, "objections.rationale_too_short")
        evaluate(client, make_manifest(_short_rationale, now=moment))
        assert _warnings_counted(client, "objections.rationale_too_short") == before + 1


class TestPolicyRules:
    def test_policy_lists_each_rules_level_and_effective_on(self, client: TestClient) -> None:
        rules = {rule["code"]: rule for rule in client.get("/v1/policy").json()["rules"]}
        assert rules["evidence.aging"]["level"] == "warn"
        assert rules["evidence.aging"]["effective_on"] is None
        staged = rules["objections.rationale_too_short"]
        assert (staged["level"], staged["effective_on"]) == ("deny", EFFECTIVE_ON)
        assert rules["lane.unknown"]["level"] == "deny"
        assert rules["lane.unknown"]["effective_on"] is None
        assert list(rules) == sorted(rules)


class TestUndeclaredCode:
    def test_finding_whose_code_no_metadata_declares_is_503(
        self, tmp_path: Path, settings: Settings, build: Build, now: dt.datetime
    ) -> None:
        policies = write_staged_policies(tmp_path / "policies")
        evidence = policies / "release" / "evidence.rego"
        evidence.write_text(
            evidence.read_text().replace(
                'data.lib.result.violation("evidence.aging"',
                'data.lib.result.violation("evidence.aging_typo"',
            )
        )
        changed = settings.model_copy(update={"policies": policies})
        runtime = build_runtime(changed)
        try:
            with TestClient(create_app(changed, runtime=runtime)) as client:
                assert runtime.store is not None
                before = runtime.store.count()

                def aging(manifest: dict[str, Any]) -> None:
                    manifest["evidence"][1]["observed_at"] = at(now, hours=-13)

                response = post_json(client, "/v1/evaluate", build(aging))
                problem = assert_problem(response, 503)
                assert "evidence.aging_typo" in problem["detail"]
                assert runtime.store.count() == before
        finally:
            runtime.close()


def _warnings_counted(client: TestClient, code: str) -> float:
    prefix = f'release_gate_warnings_total{{code="{code}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


class TestExplain:
    """The explain step itself, on a hand-made policy result."""

    RULES = PolicyRules(
        digest="sha256:" + "1" * 64,
        by_code={
            "a.one": RuleMetadata("a.one", "One", "d", "m", "Fix one."),
            "a.two": RuleMetadata("a.two", "Two", "d", "m", None, level="warn"),
        },
    )

    def _result(self, *findings: Violation, digest: str | None = None) -> PolicyResult:
        return PolicyResult(
            allow=False,
            violations=findings[:1],
            warnings=findings[1:],
            policy_revision="r",
            policy_digest=digest or self.RULES.digest,
        )

    def test_fills_title_and_solution_and_empty_solution_where_none(self) -> None:
        result = explain(
            self._result(Violation("a.one", "m1", "/x"), Violation("a.two", "m2", "")),
            self.RULES,
        )
        assert result.violations == (Violation("a.one", "m1", "/x", "One", "Fix one."),)
        assert result.warnings == (Violation("a.two", "m2", "", "Two", ""),)
        assert result.allow is False

    def test_undeclared_code_is_an_engine_error(self) -> None:
        with pytest.raises(PolicyEngineError, match=r"'a\.three', which no rule's METADATA"):
            explain(self._result(Violation("a.three", "m", "")), self.RULES)

    def test_undeclared_warning_code_is_an_engine_error(self) -> None:
        findings = (Violation("a.one", "m", ""), Violation("b.x", "m", ""))
        with pytest.raises(PolicyEngineError, match=r"'b\.x'"):
            explain(self._result(*findings), self.RULES)

    def test_result_of_another_policy_is_an_engine_error(self) -> None:
        other = self._result(Violation("a.one", "m", ""), digest="sha256:" + "2" * 64)
        with pytest.raises(PolicyEngineError, match=r"rule metadata is of sha256:1111"):
            explain(other, self.RULES)

    def test_replaced_fields_keep_the_policy_decision(self) -> None:
        result = self._result(Violation("a.one", "m1", "/x"))
        explained = explain(result, self.RULES)
        assert dataclasses.replace(explained, violations=result.violations) == result


class TestWarningMetrics:
    def test_codes_the_policy_does_not_declare_are_counted_as_other(self) -> None:
        metrics = Metrics()
        metrics.use_policy(lanes=["lane-1"], codes=["a.one"])
        metrics.observe_warnings(["a.one", "x" * 500, "a.one"])
        text = metrics.render().decode()
        assert 'release_gate_warnings_total{code="a.one"} 2.0' in text
        assert 'release_gate_warnings_total{code="other"} 1.0' in text
        assert "x" * 500 not in text
