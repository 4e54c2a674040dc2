"""``/v1/policy``, ``/.well-known/jwks.json``, ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.keys.signing import write_private_key
from release_gate.runtime import build_runtime
from tests.governance import read_governance, write_bundle, write_governance
from tests.helpers import CONTRACT_CODES, LANE, OWNER, ROOT, documented_codes, post_json
from tests.service._support import Build, evaluate, post_raw
from tests.service.test_token import okp_thumbprint


def independent_policy_digest(root: Path) -> str:
    """Contract section 4, computed from the files without the service's code."""
    entries = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel.startswith("tests/") or rel.endswith("_test.rego"):
            continue
        if path.suffix == ".rego" or path.name == "data.json":
            entries.append([rel, hashlib.sha256(path.read_bytes()).hexdigest()])
    entries.sort()
    payload = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(payload).hexdigest()


class TestPolicyEndpoint:
    def test_policy_names_engine_revision_and_digest(
        self, client: TestClient, gate_policies: Path
    ) -> None:
        body = client.get("/v1/policy").json()
        manifest = json.loads((gate_policies / ".manifest").read_text())
        assert set(body) == {"engine", "revision", "digest", "rules"}
        assert body["engine"] == "regorus"
        assert body["revision"] == manifest["revision"]
        assert body["digest"] == independent_policy_digest(gate_policies)

    def test_rules_describe_every_contract_code(self, client: TestClient) -> None:
        rules = client.get("/v1/policy").json()["rules"]
        assert {r["code"] for r in rules} == documented_codes()
        assert CONTRACT_CODES <= documented_codes()
        for rule in rules:
            assert set(rule) == {
                "code",
                "title",
                "description",
                "solution",
                "level",
                "effective_on",
            }
            assert rule["title"]
            assert rule["description"]
            assert (rule["level"], rule["effective_on"]) == ("deny", None)

    def test_digest_changes_with_data_but_not_with_tests(
        self, tmp_path: Path, settings: Settings, rego_policies: Path
    ) -> None:
        copy = tmp_path / "policies"
        shutil.copytree(rego_policies, copy)
        (copy / "tests" / "gate_test.rego").write_text("package release.gate_test\n")
        assert independent_policy_digest(copy) == independent_policy_digest(rego_policies)
        data = read_governance(copy)
        data["lanes"][LANE]["token_ttl_seconds"] = 600
        write_governance(copy, data)
        changed = settings.model_copy(update={"policies": copy})
        runtime = build_runtime(changed)
        try:
            assert runtime.bundle is not None
            assert runtime.bundle.digest == independent_policy_digest(copy)
            assert runtime.bundle.digest != independent_policy_digest(rego_policies)
        finally:
            runtime.close()


class TestJwks:
    def test_jwks_holds_the_public_signing_key_with_thumbprint_kid(
        self, client: TestClient
    ) -> None:
        response = client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        keys = response.json()["keys"]
        assert len(keys) == 1
        key = keys[0]
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert "d" not in key
        assert len(base64.urlsafe_b64decode(key["x"] + "=")) == 32
        assert key["kid"] == okp_thumbprint(key)

    def test_retired_keys_stay_in_the_jwks_and_still_verify(
        self, tmp_path: Path, settings: Settings, build: Build
    ) -> None:
        retired = Ed25519PrivateKey.generate()
        retired_file = tmp_path / "retired.pem"
        write_private_key(retired_file, retired, force=False)
        rotated = settings.model_copy(update={"retired_key_files": (retired_file,)})
        runtime = build_runtime(rotated)
        try:
            with TestClient(create_app(rotated, runtime=runtime)) as client:
                keys = client.get("/.well-known/jwks.json").json()["keys"]
                assert len(keys) == 2
                assert keys[0]["kid"] == runtime.signing_key.kid
                retired_jwk = keys[1]
                token = evaluate(client, build())["token"]
                head, payload, _ = token.split(".")
                header = json.loads(base64.urlsafe_b64decode(head + "=="))
                header["kid"] = retired_jwk["kid"]
                new_head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=")
                signing_input = new_head + b"." + payload.encode()
                signature = base64.urlsafe_b64encode(retired.sign(signing_input)).rstrip(b"=")
                old_token = (signing_input + b"." + signature).decode()
                verdict = post_json(
                    client,
                    "/v1/verify",
                    {
                        "token": old_token,
                        "lane": LANE,
                        "packet_digest": build()["packet"]["digest"],
                    },
                ).json()
                assert verdict["reason"] is None
                assert verdict["valid"] is True
        finally:
            runtime.close()


class TestProblemDetails:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [("GET", "/no-such-path", 404), ("GET", "/v1/evaluate", 405), ("PUT", "/v1/verify", 405)],
    )
    def test_routing_errors_are_problem_details(
        self, client: TestClient, method: str, path: str, status: int
    ) -> None:
        response = client.request(method, path)
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == status


class TestHealth:
    def test_healthz_answers(self, client: TestClient) -> None:
        assert client.get("/healthz").status_code == 200

    def test_readyz_is_ready_with_policies_engine_and_store(self, client: TestClient) -> None:
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"


def _metric(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + ("{" + label_text + "}" if labels else "")) + r" (\S+)"
    match = re.search(rf"^{pattern}$", text, re.MULTILINE)
    assert match is not None, f"{name} {labels} not in metrics"
    return float(match.group(1))


class TestMetrics:
    def test_decisions_are_counted_by_outcome_and_code(
        self, fresh_settings: Settings, build: Build
    ) -> None:
        with _client_for(fresh_settings) as client:  # a registry of its own
            evaluate(client, build())
            evaluate(client, build(signers=(OWNER,)))
            post_raw(client, b"{")
            text = client.get("/metrics").text
        assert _metric(text, "release_gate_decisions_total", outcome="allow") == 1
        assert _metric(text, "release_gate_decisions_total", outcome="deny") == 1
        assert _metric(text, "release_gate_violations_total", code="signers.missing_role") == 2
        assert _metric(text, "release_gate_decision_seconds_count") == 2
        assert "release_gate_decision_seconds_bucket" in text

    def test_requests_are_counted_by_route_and_status(
        self, fresh_settings: Settings, build: Build
    ) -> None:
        with _client_for(fresh_settings) as client:
            evaluate(client, build())
            post_raw(client, b"{")
            client.get("/no/such/route")
            text = client.get("/metrics").text
        ok = _metric(
            text,
            "release_gate_http_requests_total",
            method="POST",
            route="/v1/evaluate",
            status="200",
        )
        bad = _metric(
            text,
            "release_gate_http_requests_total",
            method="POST",
            route="/v1/evaluate",
            status="400",
        )
        missing = _metric(
            text,
            "release_gate_http_requests_total",
            method="GET",
            route="(unmatched)",
            status="404",
        )
        assert (ok, bad, missing) == (1, 1, 1)

    def test_metrics_are_prometheus_text(self, client: TestClient) -> None:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")


@pytest.fixture
def broken_policies(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "broken-policies")


@contextmanager
def _client_for(settings: Settings) -> Iterator[TestClient]:
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            yield client
    finally:
        runtime.close()


def _edit_governance(root: Path, edit: object) -> None:
    data = read_governance(root)
    assert callable(edit)
    edit(data)
    write_governance(root, data)


def _duplicate_key_id(data: dict[str, object]) -> None:
    signers = data["signers"]
    assert isinstance(signers, dict)
    keys = signers["marcus.oyelaran@example.com"]["keys"]
    keys[1]["key_id"] = keys[0]["key_id"]


def _source_without_max_age(data: dict[str, object]) -> None:
    lanes = data["lanes"]
    assert isinstance(lanes, dict)
    del lanes[LANE]["max_evidence_age_seconds"]["entitlement"]


class TestGovernanceErrors:
    @pytest.mark.parametrize(
        ("edit", "named"),
        [
            (_duplicate_key_id, "marcus-2026-01"),
            (_source_without_max_age, "entitlement"),
        ],
        ids=["duplicate-key-id", "required-source-without-max-age"],
    )
    def test_governance_error_keeps_serving_but_answers_503(
        self,
        settings: Settings,
        broken_policies: Path,
        build: Build,
        edit: object,
        named: str,
    ) -> None:
        _edit_governance(broken_policies, edit)
        broken = settings.model_copy(update={"policies": broken_policies})
        with _client_for(broken) as client:
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert named in ready.text
            response = post_json(client, "/v1/evaluate", build())
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert problem["status"] == 503
            assert named in problem["detail"]
            assert "token" not in problem

    def test_rego_that_does_not_compile_answers_503(
        self, settings: Settings, broken_policies: Path, build: Build
    ) -> None:
        (broken_policies / "release" / "lane.rego").write_text("package release.lane\n\ndeny {")
        broken = settings.model_copy(update={"policies": broken_policies})
        with _client_for(broken) as client:
            assert client.get("/readyz").status_code == 503
            assert post_json(client, "/v1/evaluate", build()).status_code == 503

    def test_governance_error_exits_the_cli_with_2(
        self, broken_policies: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from release_gate.cli import main

        _edit_governance(broken_policies, _duplicate_key_id)
        example = ROOT / "manifests" / "examples" / "approved.json"
        code = main(
            [
                "evaluate",
                str(example),
                "--now",
                "2026-11-26T09:00:00Z",
                "--policies",
                str(broken_policies),
            ]
        )
        assert code == 2
        assert "marcus-2026-01" in json.loads(capsys.readouterr().out)["detail"]
