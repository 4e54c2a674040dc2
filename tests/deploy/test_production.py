"""Production mode refuses to start on every unsafe configuration, naming the fix."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.config import Settings
from release_gate.errors import ConfigurationError
from release_gate.keys.api_keys import generate_key, hash_key
from release_gate.keys.signing import load_private_key, write_private_key
from release_gate.ops.production import DEMO_PUBLIC_KEYS
from release_gate.runtime import build_runtime
from release_gate_client.jwk import public_jwk
from tests.databases import migrate
from tests.deploy._support import GateProcess, PrivateTrust, base_env, release_gate_argv
from tests.helpers import DEMO_KEYS

PG_PLACEHOLDER = "postgresql+psycopg://gate@db.invalid/gate"


def _api_keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-keys.json"
    entry = {"name": "ops", "sha256": hash_key(generate_key()), "roles": ["evaluator"]}
    path.write_text(json.dumps([entry]), encoding="utf-8")
    return path


def _production(tmp_path: Path, policies: Path, **overrides: Any) -> Settings:
    key = tmp_path / "gate.pem"
    if not key.exists():
        write_private_key(key, Ed25519PrivateKey.generate(), force=False)
    values: dict[str, Any] = {
        "env": "production",
        "policies": policies,
        "state_dir": tmp_path / "state",
        "signing_key_file": key,
        "api_keys": _api_keys_file(tmp_path),
        "database_url": PG_PLACEHOLDER,
    }
    values.update(overrides)
    return Settings(**values)


class TestDemoKeyList:
    def test_matches_the_published_demo_keys(self) -> None:
        published = {
            public_jwk(load_private_key(path).public_key, kid="-")["x"]
            for path in DEMO_KEYS.glob("*.demo-key.pem")
        }
        assert published == DEMO_PUBLIC_KEYS


class TestProductionRefusals:
    def test_refuses_without_a_signing_key(self, tmp_path: Path, trust: PrivateTrust) -> None:
        settings = _production(tmp_path, trust.policies, signing_key_file=None)
        with pytest.raises(ConfigurationError, match=r"no signing key configured.*KEYS_DIR"):
            build_runtime(settings)

    def test_refuses_with_api_auth_off(self, tmp_path: Path, trust: PrivateTrust) -> None:
        settings = _production(tmp_path, trust.policies, api_keys=None)
        with pytest.raises(ConfigurationError, match=r"authentication is off.*API_KEYS"):
            build_runtime(settings)

    @pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
    def test_refuses_a_key_file_others_can_read(
        self, tmp_path: Path, trust: PrivateTrust, mode: int
    ) -> None:
        settings = _production(tmp_path, trust.policies)
        assert settings.signing_key_file is not None
        os.chmod(settings.signing_key_file, mode)
        with pytest.raises(ConfigurationError, match=r"group or others.*chmod 600"):
            build_runtime(settings)

    def test_refuses_a_readable_key_in_a_key_ring(
        self, tmp_path: Path, trust: PrivateTrust, keys_dir: Path
    ) -> None:
        for pem in keys_dir.glob("*.pem"):
            os.chmod(pem, 0o644)
        settings = _production(tmp_path, trust.policies, signing_key_file=None, keys_dir=keys_dir)
        with pytest.raises(ConfigurationError, match="chmod 600"):
            build_runtime(settings)

    def test_refuses_sqlite(self, tmp_path: Path, trust: PrivateTrust) -> None:
        settings = _production(tmp_path, trust.policies, database_url=None)
        with pytest.raises(ConfigurationError, match=r"SQLite.*PostgreSQL"):
            build_runtime(settings)

    def test_lists_every_problem_at_once(self, tmp_path: Path, trust: PrivateTrust) -> None:
        settings = _production(
            tmp_path, trust.policies, signing_key_file=None, api_keys=None, database_url=None
        )
        with pytest.raises(ConfigurationError) as info:
            build_runtime(settings)
        assert info.value.detail.count("\n  - ") == 3

    def test_refuses_demo_keys_in_the_trust_store(
        self, tmp_path: Path, postgres_url: str, gate_policies: Path
    ) -> None:
        migrate(postgres_url)
        settings = _production(tmp_path, gate_policies, database_url=postgres_url)
        with pytest.raises(ConfigurationError, match=r"published demo key.*dana.whitfield"):
            build_runtime(settings)

    def test_refuses_a_demo_key_as_signing_key(
        self, tmp_path: Path, trust: PrivateTrust, postgres_url: str
    ) -> None:
        migrate(postgres_url)
        key = tmp_path / "demo-as-gate.pem"
        shutil.copy(DEMO_KEYS / "priya-raman.demo-key.pem", key)
        os.chmod(key, 0o600)
        settings = _production(
            tmp_path, trust.policies, signing_key_file=key, database_url=postgres_url
        )
        with pytest.raises(ConfigurationError, match="signing key is a published demo key"):
            build_runtime(settings)

    def test_refuses_a_demo_key_as_retired_key(
        self, tmp_path: Path, trust: PrivateTrust, postgres_url: str
    ) -> None:
        """The JWKS would publish it, and a token forged with its public private half would
        verify."""
        migrate(postgres_url)
        retired = tmp_path / "demo-retired.pem"
        shutil.copy(DEMO_KEYS / "dana-whitfield.demo-key.pem", retired)
        os.chmod(retired, 0o600)
        settings = _production(
            tmp_path, trust.policies, retired_key_files=(retired,), database_url=postgres_url
        )
        with pytest.raises(ConfigurationError, match=r"retired key .* published demo key"):
            build_runtime(settings)

    def test_refuses_a_readable_private_key_as_retired_key(
        self, tmp_path: Path, trust: PrivateTrust
    ) -> None:
        retired = tmp_path / "old.pem"
        write_private_key(retired, Ed25519PrivateKey.generate(), force=False)
        os.chmod(retired, 0o644)
        settings = _production(tmp_path, trust.policies, retired_key_files=(retired,))
        with pytest.raises(ConfigurationError, match=r"old\.pem is accessible.*chmod 600"):
            build_runtime(settings)

    def test_a_readable_public_retired_key_is_fine(
        self, tmp_path: Path, trust: PrivateTrust, postgres_url: str
    ) -> None:
        migrate(postgres_url)
        public = tmp_path / "old.pub.pem"
        public.write_bytes(
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        os.chmod(public, 0o644)
        settings = _production(
            tmp_path, trust.policies, retired_key_files=(public,), database_url=postgres_url
        )
        runtime = build_runtime(settings)
        try:
            assert runtime.gate is not None
            assert len(runtime.keyring.retired) == 1
        finally:
            runtime.close()

    def test_starts_when_everything_is_safe(
        self, tmp_path: Path, trust: PrivateTrust, postgres_url: str
    ) -> None:
        migrate(postgres_url)  # production never migrates by itself: `release-gate db upgrade`
        runtime = build_runtime(_production(tmp_path, trust.policies, database_url=postgres_url))
        try:
            assert runtime.gate is not None
            assert runtime.store is not None
            assert runtime.store.backend == "postgresql"
        finally:
            runtime.close()

    def test_development_mode_allows_the_defaults(
        self, tmp_path: Path, gate_policies: Path
    ) -> None:
        runtime = build_runtime(Settings(policies=gate_policies, state_dir=tmp_path / "state"))
        try:
            assert runtime.gate is not None
        finally:
            runtime.close()


class TestServeRefusal:
    def test_serve_exits_2_naming_the_fix(self, tmp_path: Path, gate_policies: Path) -> None:
        env = base_env(RELEASE_GATE_ENV="production", RELEASE_GATE_POLICIES=str(gate_policies))
        gate = GateProcess(
            argv=release_gate_argv("serve", "--port", "0"),
            env=env,
            port=0,
            log_dir=tmp_path,
            cwd=tmp_path,
        )
        gate.start(wait_ready=False)
        assert gate.wait(timeout=30) == 2
        logs = gate.logs()
        assert "refusing to start in production" in logs
        assert "RELEASE_GATE_KEYS_DIR" in logs
        assert "RELEASE_GATE_DATABASE_URL" in logs
        assert not (tmp_path / ".release-gate").exists(), "no dev key may be created"
