"""Fail closed: an engine error, an undefined or odd decision, or a store failure is a
503 without a token, never an allow."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.runtime import Runtime, build_runtime
from tests.governance import write_bundle
from tests.helpers import OWNER, post_json
from tests.service._support import Build, assert_problem, evaluate

_ENTRY = 'decision := {"allow": allow, "violations": violations, "warnings": warnings}'


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            yield client, runtime
    finally:
        runtime.close()


def _policies_with_entry(tmp_path: Path, replacement: str) -> Path:
    copy = write_bundle(tmp_path / "policies")
    gate = copy / "release" / "gate.rego"
    text = gate.read_text()
    assert _ENTRY in text
    gate.write_text(text.replace(_ENTRY, replacement))
    return copy


ODD_DECISIONS = {
    "undefined": 'decision_renamed := {"allow": true, "violations": [], "warnings": []}',
    "undefined-by-condition": 'decision := {"allow": true} if { false }',
    "allow-is-1": 'decision := {"allow": 1, "violations": [], "warnings": []}',
    "allow-is-string": 'decision := {"allow": "true", "violations": [], "warnings": []}',
    "allow-missing": 'decision := {"violations": [], "warnings": []}',
    "violations-not-array": 'decision := {"allow": true, "violations": "none", "warnings": []}',
    "violation-without-code": 'decision := {"allow": false, "violations": [{"message": "m"}]}',
    "not-an-object": "decision := true",
    "conflict": _ENTRY + '\n\ndecision := {"allow": true, "violations": [], "warnings": []}',
    "allow-with-violations": (
        'decision := {"allow": true, "violations": violations, "warnings": []}'
    ),
    # contract section 8: every finding is explained from its rule's METADATA, by code
    "undeclared-code": (
        'decision := {"allow": false, "violations": [{"code": "made.up", "message": "m", '
        '"path": ""}], "warnings": []}'
    ),
    "undeclared-warning-code": (
        'decision := {"allow": false, "violations": violations, "warnings": [{"code": '
        '"made.up", "message": "m", "path": ""}]}'
    ),
}


class TestEngineFailure:
    @pytest.mark.parametrize("replacement", ODD_DECISIONS.values(), ids=ODD_DECISIONS.keys())
    def test_odd_decision_is_503_without_token(
        self, tmp_path: Path, settings: Settings, build: Build, replacement: str
    ) -> None:
        broken = settings.model_copy(
            update={"policies": _policies_with_entry(tmp_path, replacement)}
        )
        with serving(broken) as (client, runtime):
            assert runtime.store is not None
            before = runtime.store.count()
            # a manifest the real policy denies: no odd decision may turn it into an allow
            response = post_json(client, "/v1/evaluate", build(signers=(OWNER,)))
            problem = assert_problem(response, 503)
            assert "token" not in problem
            assert runtime.store.count() == before

    def test_explicit_deny_from_policy_without_violations_is_a_deny(
        self, tmp_path: Path, settings: Settings, build: Build
    ) -> None:
        replacement = 'decision := {"allow": false, "violations": [], "warnings": []}'
        changed = settings.model_copy(
            update={"policies": _policies_with_entry(tmp_path, replacement)}
        )
        with serving(changed) as (client, _):
            decision = evaluate(client, build())
            assert decision["allow"] is False
            assert decision["token"] is None


class TestStoreFailure:
    def _db_path(self, settings: Settings) -> Path:
        assert settings.database_url is not None
        return Path(settings.database_url.removeprefix("sqlite:///"))

    def test_dropped_table_is_503_without_token(
        self, fresh_settings: Settings, build: Build
    ) -> None:
        with serving(fresh_settings) as (client, _):
            with sqlite3.connect(self._db_path(fresh_settings)) as connection:
                connection.execute("DROP TABLE decisions")
            problem = assert_problem(post_json(client, "/v1/evaluate", build()), 503)
            assert "no token" in problem["detail"]

    def test_read_only_database_is_503_without_token(
        self, fresh_settings: Settings, build: Build
    ) -> None:
        settings = fresh_settings
        with serving(settings) as (client, runtime):
            assert runtime.store is not None
            evaluate(client, build())
        path = self._db_path(settings)
        read_only = settings.model_copy(
            update={"database_url": f"sqlite:///file:{path}?mode=ro&uri=true"}
        )
        with serving(read_only) as (client, runtime):
            assert runtime.store is not None
            response = post_json(client, "/v1/evaluate", build())
            assert_problem(response, 503)
            assert runtime.store.count() == 1

    def test_store_failure_counts_as_error_in_metrics(
        self, fresh_settings: Settings, build: Build
    ) -> None:
        with serving(fresh_settings) as (client, _):
            with sqlite3.connect(self._db_path(fresh_settings)) as connection:
                connection.execute("DROP TABLE decisions")
            post_json(client, "/v1/evaluate", build())
            metrics = client.get("/metrics").text
        assert 'release_gate_decisions_total{outcome="error"} 1.0' in metrics
        assert 'release_gate_decisions_total{outcome="allow"}' not in metrics

    def test_store_unreachable_at_start_up_keeps_serving_503(
        self, settings: Settings, build: Build
    ) -> None:
        unreachable = settings.model_copy(
            update={"database_url": "postgresql+psycopg://gate:gate@127.0.0.1:1/decisions"}
        )
        with serving(unreachable) as (client, _):
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"]["ok"] is False
            problem = assert_problem(post_json(client, "/v1/evaluate", build()), 503)
            assert "store" in problem["detail"]


class TestRevocationStoreFailure:
    """A revocation read that fails is a 503: never ``valid: true``, never a 500."""

    def _break_revocations(self, settings: Settings) -> None:
        assert settings.database_url is not None
        path = Path(settings.database_url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as connection:
            connection.execute("DROP TABLE revocations")

    def test_verify_is_503_when_revocations_cannot_be_read(
        self, fresh_settings: Settings, build: Build
    ) -> None:
        with serving(fresh_settings) as (client, _):
            decision = evaluate(client, build())
            assert decision["allow"] is True
            self._break_revocations(fresh_settings)
            body = {
                "token": decision["token"],
                "lane": decision["lane"],
                "packet_digest": decision["packet"]["digest"],
            }
            problem = assert_problem(post_json(client, "/v1/verify", body), 503)
            assert "valid" not in problem

    def test_revocation_list_is_503_when_revocations_cannot_be_read(
        self, fresh_settings: Settings
    ) -> None:
        with serving(fresh_settings) as (client, _):
            self._break_revocations(fresh_settings)
            assert_problem(client.get("/v1/revocations"), 503)
