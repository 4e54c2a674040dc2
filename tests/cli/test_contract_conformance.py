"""Contract sections 2, 6 and 7 as a contract-only caller would exercise them.

A caller who knows only CONTRACT.md writes governance data with ``signers`` and
``lanes`` and nothing else, sets ``RELEASE_GATE_POLICIES`` instead of passing a
directory, and reads exit 1 as a deny or an invalid token, so any other failure
must be exit 2.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Run, write_json
from tests.governance import governance_data, write_bundle
from tests.helpers import DEFAULT_SIGNERS, OWNER, base_manifest, rfc3339, sign

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def _policies_with(tmp_path: Path, edit: Any) -> Path:
    data = governance_data()
    edit(data)
    return write_bundle(tmp_path / "policies-copy", data)


def _contract_only(data: dict[str, Any]) -> None:
    """Keep exactly what contract section 2 lists: signers and lanes."""
    for name in list(data):
        if name not in ("signers", "lanes"):
            del data[name]


def _decide(run: Run, tmp_path: Path, policies: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    path = write_json(tmp_path / "manifest.json", manifest)
    code, out = run("evaluate", str(path), "--now", rfc3339(NOW), "--policies", str(policies))
    decision: dict[str, Any] = json.loads(out)
    assert code == (0 if decision.get("allow") else 1), out
    return decision


class TestGovernanceDataFromTheContract:
    def test_signers_and_lanes_alone_are_loaded_and_allow(self, run: Run, tmp_path: Path) -> None:
        policies = _policies_with(tmp_path, _contract_only)
        decision = _decide(run, tmp_path, policies, sign(base_manifest(NOW), *DEFAULT_SIGNERS))
        assert decision["allow"] is True
        assert decision["violations"] == []

    def test_release_owner_role_defaults_to_support_release_owner(
        self, run: Run, tmp_path: Path
    ) -> None:
        policies = _policies_with(tmp_path, _contract_only)
        others = [s for s in DEFAULT_SIGNERS if s != OWNER]
        decision = _decide(run, tmp_path, policies, sign(base_manifest(NOW), *others))
        codes = [(v["code"], v["path"]) for v in decision["violations"]]
        assert ("signers.release_owner_missing", "/release_owner") in codes
        owner = next(v for v in decision["violations"] if v["path"] == "/release_owner")
        assert "support_release_owner" in owner["message"]

    @pytest.mark.parametrize(("ahead", "denied"), [(60, False), (61, True)])
    def test_future_tolerance_defaults_to_60_seconds(
        self, run: Run, tmp_path: Path, ahead: int, denied: bool
    ) -> None:
        policies = _policies_with(tmp_path, _contract_only)
        manifest = base_manifest(NOW)
        manifest["evidence"][0]["observed_at"] = rfc3339(NOW + dt.timedelta(seconds=ahead))
        decision = _decide(run, tmp_path, policies, sign(manifest, *DEFAULT_SIGNERS))
        codes = [v["code"] for v in decision["violations"]]
        assert (codes == ["evidence.future_timestamp"]) is denied
        assert decision["allow"] is not denied


class TestRegoTestCommandDirectory:
    def test_without_a_directory_it_tests_release_gate_policies(
        self,
        run: Run,
        gate_env: dict[str, str],
        tmp_path: Path,
        rego_policies: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("RELEASE_GATE_POLICIES", str(rego_policies))
        assert not (tmp_path / "policies").exists()  # the cwd has no policies/
        code, out = run("test")
        assert code == 0, out
        assert "0 failed" in out


class TestMalformedEnvironment:
    @pytest.mark.parametrize(
        "argv",
        [
            ("evaluate", "MANIFEST", "--now", "2026-11-26T09:00:00Z"),
            (
                "verify",
                "a.b.c",
                "--lane",
                "exec-customer-review",
                "--packet-digest",
                "sha256:" + "0" * 64,
            ),
            ("test",),
        ],
        ids=["evaluate", "verify", "test"],
    )
    def test_a_variable_that_does_not_parse_is_exit_2_with_problem_400(
        self, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]
    ) -> None:
        manifest = write_json(tmp_path / "m.json", sign(base_manifest(NOW), *DEFAULT_SIGNERS))
        monkeypatch.setenv("RELEASE_GATE_MAX_BODY_BYTES", "lots")
        code, out = run(*(str(manifest) if a == "MANIFEST" else a for a in argv))
        assert code == 2, out  # 1 would read as a deny or an invalid token
        problem = json.loads(out)
        assert problem["status"] == 400
        assert "RELEASE_GATE_MAX_BODY_BYTES" in problem["detail"]
