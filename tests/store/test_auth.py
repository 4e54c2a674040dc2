"""API keys: hashes only, roles per route, 401/403 as problem details."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.cli import main
from release_gate.config import Settings
from release_gate.errors import ConfigurationError
from release_gate.keys.api_keys import Authenticator, hash_key, load_api_keys
from release_gate.runtime import build_runtime
from tests.helpers import LANE, ManifestFactory

ROLE_KEYS = {
    role: f"rgk_test_{role}" for role in ("evaluator", "verifier", "auditor", "release_owner")
}


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ROLE_KEYS[role]}"}


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-keys.json"
    entries = [
        {"name": f"{r}-svc", "sha256": hash_key(k), "roles": [r]} for r, k in ROLE_KEYS.items()
    ]
    path.write_text(json.dumps(entries))
    return path


@pytest.fixture
def secured(settings: Settings, keys_file: Path) -> Iterator[TestClient]:
    runtime = build_runtime(settings.model_copy(update={"api_keys": keys_file}))
    with TestClient(create_app(runtime.settings, runtime=runtime)) as client:
        yield client
    runtime.close()


ROUTES = [
    ("post", "/v1/evaluate", "evaluator"),
    ("post", "/v1/verify", "verifier"),
    ("get", "/v1/revocations", "verifier"),
    ("get", "/v1/decisions", "auditor"),
    ("get", "/v1/decisions/head", "auditor"),
    ("post", "/v1/holds", "release_owner"),
    ("delete", "/v1/holds/00000000-0000-4000-8000-000000000000", "release_owner"),
]


class TestAuthentication:
    @pytest.mark.parametrize(("method", "path", "role"), ROUTES)
    def test_missing_key_is_401_problem(
        self, secured: TestClient, method: str, path: str, role: str
    ) -> None:
        response = secured.request(method, path)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(("method", "path", "role"), ROUTES)
    def test_wrong_role_is_403(
        self, secured: TestClient, method: str, path: str, role: str
    ) -> None:
        other = "auditor" if role != "auditor" else "evaluator"
        response = secured.request(method, path, headers=_bearer(other))
        assert response.status_code == 403
        assert other in response.json()["detail"]

    def test_unknown_key_is_401(self, secured: TestClient) -> None:
        response = secured.get("/v1/decisions", headers={"Authorization": "Bearer rgk_nope"})
        assert response.status_code == 401

    def test_right_roles_work_end_to_end(
        self, secured: TestClient, make_manifest: ManifestFactory
    ) -> None:
        manifest = make_manifest()
        decision = secured.post(
            "/v1/evaluate",
            content=json.dumps(manifest).encode(),
            headers={"content-type": "application/json", **_bearer("evaluator")},
        ).json()
        assert decision["allow"] is True
        body = {
            "token": decision["token"],
            "lane": LANE,
            "packet_digest": manifest["packet"]["digest"],
        }
        verified = secured.post("/v1/verify", json=body, headers=_bearer("verifier")).json()
        assert verified["valid"] is True
        hold = secured.post(
            "/v1/holds",
            json={"packet_id": "PKT-TEST-1", "revision": 3, "reason": "scope"},
            headers=_bearer("release_owner"),
        ).json()
        assert hold["placed_by"] == "release_owner-svc"
        listed = secured.get("/v1/decisions", headers=_bearer("auditor")).json()
        assert listed["items"][0]["decision_id"] == decision["decision_id"]

    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/.well-known/jwks.json"])
    def test_operational_routes_stay_open(self, secured: TestClient, path: str) -> None:
        assert secured.get(path).status_code == 200


class TestKeyConfiguration:
    def test_production_without_keys_refuses_to_start(self, settings: Settings) -> None:
        with pytest.raises(ConfigurationError, match="RELEASE_GATE_API_KEYS"):
            build_runtime(settings.model_copy(update={"env": "production"}))

    def test_development_without_keys_warns_loudly(
        self, settings: Settings, caplog: pytest.LogCaptureFixture
    ) -> None:
        build_runtime(settings).close()
        assert "API AUTHENTICATION IS OFF" in caplog.text

    @pytest.mark.parametrize(
        ("entries", "message"),
        [
            ([{"name": "a", "key": "plain", "roles": ["auditor"]}], "exactly"),
            ([{"name": "a", "sha256": "abc", "roles": ["auditor"]}], "64 lowercase hex"),
            ([{"name": "a", "sha256": "a" * 64, "roles": ["root"]}], "roles"),
            ([], "non-empty"),
            ([{"name": "a", "sha256": "a" * 64, "roles": ["intake"], "lanes": []}], "non-empty"),
            (
                [{"name": "a", "sha256": "a" * 64, "roles": ["intake"], "lanes": ["a lane"]}],
                "must be an id",
            ),
            (
                [{"name": "a", "sha256": "a" * 64, "roles": ["intake"], "sources": ["x"]}],
                "limits only",
            ),
            (
                [{"name": "a", "sha256": "a" * 64, "roles": ["evaluator"], "lanes": [LANE]}],
                "limits only",
            ),
        ],
    )
    def test_invalid_key_file_is_refused(
        self, tmp_path: Path, entries: list[object], message: str
    ) -> None:
        path = tmp_path / "keys.json"
        path.write_text(json.dumps(entries))
        with pytest.raises(ConfigurationError, match=message):
            load_api_keys(path)

    def test_apikey_create_prints_key_once_and_its_hash(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert (
            main(["apikey", "create", "--name", "ci", "--role", "auditor", "--role", "verifier"])
            == 0
        )
        printed = json.loads(capsys.readouterr().out)
        assert printed["entry"] == {
            "name": "ci",
            "sha256": hash_key(printed["key"]),
            "roles": ["auditor", "verifier"],
        }
        path = tmp_path / "keys.json"
        path.write_text(json.dumps([printed["entry"]]))
        auth = Authenticator(load_api_keys(path))
        assert auth.require(f"Bearer {printed['key']}", "auditor").name == "ci"

    def test_apikey_create_ties_a_key_to_lanes(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["apikey", "create", "--name", "lane-a", "--role", "intake", "--lane", LANE]
        assert main(argv) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["entry"]["lanes"] == [LANE]
        path = tmp_path / "keys.json"
        path.write_text(json.dumps([printed["entry"]]))
        caller = Authenticator(load_api_keys(path)).require(f"Bearer {printed['key']}", "intake")
        assert caller.lanes == frozenset({LANE})

    def test_apikey_create_refuses_lanes_on_a_role_they_do_not_limit(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["apikey", "create", "--name", "x", "--role", "evaluator", "--lane", LANE]
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""  # no key printed
        assert "limits only" in captured.err

    def test_apikey_create_ties_a_key_to_evidence_sources(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["apikey", "create", "--name", "cases", "--role", "evidence_source"]
        assert main([*argv, "--source", "case_management"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["entry"]["sources"] == ["case_management"]
        path = tmp_path / "keys.json"
        path.write_text(json.dumps([printed["entry"]]))
        bearer = f"Bearer {printed['key']}"
        caller = Authenticator(load_api_keys(path)).require(bearer, "evidence_source")
        assert caller.sources == frozenset({"case_management"})
