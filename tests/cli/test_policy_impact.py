"""``release-gate policy impact``: counts and exit codes on decisions the test recorded itself.

A gate on the tests' own policy directory (:mod:`tests.reload._support`) records
four decisions through the real app, on regorus (SQLite and PostgreSQL) and on
a real OPA server that loaded the bundle:

====  ==========================  ===========  =============================
name  manifest                    recorded     under the tighter candidate
====  ==========================  ===========  =============================
old   timeline read 2 h before    allow        deny (evidence.stale)
new   timeline read 30 min before allow        allow, unchanged
wide  2 h, an action not allowed  deny         deny, gains evidence.stale
away  a lane nobody governs       deny         deny, unchanged
====  ==========================  ===========  =============================

The candidate is the walkthrough's change: the timeline's maximum age 6 h -> 1 h.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.cli import main
from release_gate.cli.policy import _ProgressBar
from release_gate.config import Settings
from release_gate.impact import ReplaySetup, run_impact
from release_gate.policy.bundle import load_bundle
from release_gate.policy.opa_bundle import build_bundle
from release_gate.runtime import build_runtime
from release_gate.store.replay import ReplayFilter
from tests.helpers import LANE, ManifestFactory, post_json
from tests.opa_server import running_opa
from tests.reload._support import (
    REVISION_2,
    add_failing_rule,
    break_bundle,
    edit_data,
    packet,
    policy_dir,
    tighten_timeline,
)

OTHER_LANE = "board-briefing"


@dataclass
class Recorded:
    url: str
    policies: Path
    decisions: dict[str, dict[str, Any]]  # by name, in the order recorded
    engine: str


def _record(
    settings: Settings, make_manifest: ManifestFactory, tmp_path: Path
) -> dict[str, dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)

    def wide(document: dict[str, Any]) -> None:
        packet("PKT-I-3", timeline_minutes=120, now=now)(document)
        document["requested_actions"].append("share_summary")

    def away(document: dict[str, Any]) -> None:
        packet("PKT-I-4", timeline_minutes=120, now=now)(document)
        document["lane"] = OTHER_LANE

    manifests = {
        "old": make_manifest(packet("PKT-I-1", timeline_minutes=120, now=now)),
        "new": make_manifest(packet("PKT-I-2", timeline_minutes=30, now=now)),
        "wide": make_manifest(wide),
        "away": make_manifest(away),
    }
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            decisions = {}
            for name, manifest in manifests.items():
                response = post_json(client, "/v1/evaluate", manifest)
                assert response.status_code == 200, response.text
                decisions[name] = response.json()
    finally:
        runtime.close()
    assert [d["allow"] for d in decisions.values()] == [True, True, False, False]
    return decisions


def _settings(tmp_path: Path, signing_key_file: Path, url: str) -> Settings:
    return Settings(
        policies=policy_dir(tmp_path / "policies"),
        state_dir=tmp_path / "state",
        signing_key_file=signing_key_file,
        database_url=url,
        policy_poll_seconds=0,
    )


@pytest.fixture
def on_regorus(
    tmp_path: Path, signing_key_file: Path, any_db_url: str, make_manifest: ManifestFactory
) -> Recorded:
    """Decisions recorded by a gate on the embedded engine."""
    settings = _settings(tmp_path, signing_key_file, any_db_url)
    decisions = _record(settings, make_manifest, tmp_path)
    return Recorded(any_db_url, settings.policies, decisions, "regorus")


@pytest.fixture(params=["regorus", "opa"])
def recorded(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    signing_key_file: Path,
    any_db_url: str,
    make_manifest: ManifestFactory,
) -> Iterator[Recorded]:
    """Decisions recorded on regorus, then by a gate on a real OPA server (the bundle loaded)."""
    if request.param == "regorus":
        yield request.getfixturevalue("on_regorus")
        return
    binary = request.getfixturevalue("opa_binary")
    settings = _settings(tmp_path, signing_key_file, any_db_url)
    out = tmp_path / "bundle.tar.gz"
    bundle = build_bundle(settings.policies, out, signing_key=None, key_id=None)
    with running_opa(binary, "--bundle", str(bundle), log=tmp_path / "opa.log") as opa:
        on_opa = settings.model_copy(update={"opa_url": opa.url})
        decisions = _record(on_opa, make_manifest, tmp_path)
    yield Recorded(any_db_url, settings.policies, decisions, "opa")


def _candidate(recorded: Recorded, tmp_path: Path) -> Path:
    candidate = tmp_path / "candidate"
    shutil.copytree(recorded.policies, candidate)
    tighten_timeline(candidate)
    return candidate


def _impact(
    capsys: pytest.CaptureFixture[str], *args: str, url: str
) -> tuple[int, dict[str, Any] | str]:
    code = main(["policy", "impact", *args, "--database-url", url])
    out = capsys.readouterr().out
    if ("--format" in args and args[args.index("--format") + 1] == "json") or code == 2:
        parsed: dict[str, Any] = json.loads(out)
        return code, parsed
    return code, out


def _json(capsys: pytest.CaptureFixture[str], *args: str, url: str) -> dict[str, Any]:
    code, report = _impact(capsys, *args, "--format", "json", url=url)
    assert code == 0, report
    assert isinstance(report, dict)
    return report


class TestCounts:
    def test_the_tighter_timeline_flips_one_approval_and_adds_a_code_to_a_denial(
        self, recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        candidate = _candidate(recorded, tmp_path)
        report = _json(capsys, "--candidate", str(candidate), url=recorded.url)
        bundle = load_bundle(candidate)
        d = recorded.decisions
        assert report == {
            "candidate": {"revision": REVISION_2, "digest": bundle.digest},
            "decisions": 4,
            "unchanged": 2,
            "allow_to_deny": 1,
            "deny_to_allow": 0,
            "codes_changed": 1,
            "by_lane": {
                OTHER_LANE: {
                    "decisions": 1,
                    "allow_to_deny": 0,
                    "deny_to_allow": 0,
                    "codes_changed": 0,
                },
                LANE: {"decisions": 3, "allow_to_deny": 1, "deny_to_allow": 0, "codes_changed": 1},
            },
            "by_code": {"evidence.stale": {"added": 2, "removed": 0}},
            "examples": [
                {
                    "decision_id": d["wide"]["decision_id"],
                    "packet": {"id": "PKT-I-3", "revision": 1},
                    "lane": LANE,
                    "before": {"allow": False, "codes": ["lane.action_out_of_scope"]},
                    "after": {
                        "allow": False,
                        "codes": ["evidence.stale", "lane.action_out_of_scope"],
                    },
                },
                {
                    "decision_id": d["old"]["decision_id"],
                    "packet": {"id": "PKT-I-1", "revision": 1},
                    "lane": LANE,
                    "before": {"allow": True, "codes": []},
                    "after": {"allow": False, "codes": ["evidence.stale"]},
                },
            ],
        }

    def test_a_wider_lane_flips_a_denial_to_allow(
        self, recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        candidate = tmp_path / "candidate"
        shutil.copytree(recorded.policies, candidate)
        edit_data(
            candidate, lambda data: data["lanes"][LANE]["allowed_actions"].append("share_summary")
        )
        report = _json(capsys, "--candidate", str(candidate), url=recorded.url)
        assert (report["deny_to_allow"], report["allow_to_deny"], report["unchanged"]) == (1, 0, 3)
        assert report["by_code"] == {"lane.action_out_of_scope": {"added": 0, "removed": 1}}
        (example,) = report["examples"]
        assert example["decision_id"] == recorded.decisions["wide"]["decision_id"]
        assert example["after"] == {"allow": True, "codes": []}


class TestFilters:
    def test_lane_since_until_and_live(
        self,
        on_regorus: Recorded,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        candidate = str(_candidate(on_regorus, tmp_path))
        d = on_regorus.decisions
        by_lane = _json(capsys, "--candidate", candidate, "--lane", OTHER_LANE, url=on_regorus.url)
        assert (by_lane["decisions"], by_lane["unchanged"]) == (1, 1)
        since = d["new"]["evaluated_at"]  # new, wide and away
        later = _json(capsys, "--candidate", candidate, "--since", since, url=on_regorus.url)
        assert (later["decisions"], later["allow_to_deny"], later["codes_changed"]) == (3, 0, 1)
        until = _json(capsys, "--candidate", candidate, "--until", since, url=on_regorus.url)
        assert (until["decisions"], until["allow_to_deny"]) == (1, 1)
        live = _json(capsys, "--candidate", candidate, "--live", url=on_regorus.url)
        assert (live["decisions"], live["allow_to_deny"], live["unchanged"]) == (2, 1, 1)


class TestExitCodes:
    def test_fail_on_flip_exits_1_only_when_a_decision_flips(
        self, on_regorus: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        candidate = str(_candidate(on_regorus, tmp_path))
        code, text = _impact(capsys, "--candidate", candidate, "--fail-on-flip", url=on_regorus.url)
        assert code == 1
        assert isinstance(text, str)
        assert "allow -> deny          1" in text
        assert on_regorus.decisions["old"]["decision_id"] in text
        same = ["--candidate", str(on_regorus.policies), "--fail-on-flip"]
        code, text = _impact(capsys, *same, url=on_regorus.url)
        assert code == 0
        assert "unchanged              4" in text

    @pytest.mark.parametrize(
        ("args", "detail"),
        [
            (["--candidate", "{tmp}/nowhere"], "does not exist"),
            (["--candidate", "{broken}"], "cannot load policies"),
            (["--candidate", "{policies}", "--since", "yesterday"], "--since"),
            (["--candidate", "{policies}", "--jobs", "0"], "--jobs"),
        ],
        ids=["no-candidate", "broken-candidate", "bad-since", "no-jobs"],
    )
    def test_usage_and_candidate_errors_exit_2(
        self,
        on_regorus: Recorded,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        args: list[str],
        detail: str,
    ) -> None:
        broken = tmp_path / "broken"
        shutil.copytree(on_regorus.policies, broken)
        break_bundle(broken, "rego")
        filled = [a.format(tmp=tmp_path, broken=broken, policies=on_regorus.policies) for a in args]
        code, problem = _impact(capsys, *filled, url=on_regorus.url)
        assert code == 2
        assert isinstance(problem, dict)
        assert detail in problem["detail"]

    def test_a_recorded_manifest_the_candidate_cannot_decide_exits_2(
        self, on_regorus: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        candidate = _candidate(on_regorus, tmp_path)
        add_failing_rule(candidate, "PKT-I-2")
        code, problem = _impact(capsys, "--candidate", str(candidate), url=on_regorus.url)
        assert code == 2
        assert isinstance(problem, dict)
        decision = on_regorus.decisions["new"]["decision_id"]
        assert f"decision {decision} cannot be decided under the candidate" in problem["detail"]

    def test_a_store_that_is_not_there_exits_2_and_is_not_created(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        missing = tmp_path / "no" / "decisions.db"
        code, problem = _impact(capsys, "--candidate", str(policies), url=f"sqlite:///{missing}")
        assert code == 2
        assert isinstance(problem, dict)
        assert "no decision store" in problem["detail"]
        assert not missing.parent.exists()

    def test_an_unmigrated_store_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        empty = tmp_path / "empty.db"
        empty.touch()
        code, problem = _impact(capsys, "--candidate", str(policies), url=f"sqlite:///{empty}")
        assert code == 2
        assert isinstance(problem, dict)
        assert "release-gate db upgrade" in problem["detail"]


class TestParallel:
    def test_processes_side_by_side_give_the_serial_report(
        self, on_regorus: Recorded, tmp_path: Path
    ) -> None:
        candidate = _candidate(on_regorus, tmp_path)
        setup = ReplaySetup(candidate=candidate, database_url=on_regorus.url, query=ReplayFilter())
        bundle = load_bundle(candidate)
        serial = run_impact(setup, bundle, jobs=1, chunk_size=1)
        parallel = run_impact(setup, bundle, jobs=2, chunk_size=1, parallel_from=0)
        wire = {"revision": bundle.revision, "digest": bundle.digest}
        assert parallel.to_wire(**wire) == serial.to_wire(**wire)
        assert serial.to_wire(**wire)["decisions"] == 4


class TestProgress:
    def test_a_line_every_tenth_on_stderr_once_past_a_second(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        bar = _ProgressBar()
        bar(10, 100)  # within the first second: nothing
        assert capsys.readouterr().err == ""
        bar._started -= 2.0  # as if it had been running for two seconds
        for done in range(0, 101, 5):
            bar(done, 100)
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 11
        assert lines[-1] == "policy impact: 100 of 100 decisions replayed (100%)"
