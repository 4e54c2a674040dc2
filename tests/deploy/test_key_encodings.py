"""Issue 14: a published demo key, re-encoded, must not pass production mode.

The attack: the trust store lists each demo key with a text that a lenient
base64 decoder reads as the same 32 bytes (``...WL3k`` -> ``...WL3l``), so a
check that compares texts misses it and manifests signed with the published
demo private keys get tokens. Now the trust store refuses every non-canonical
text (so no decision is made: 503, never a token), on both engines and in both
modes, and the demo-key check compares bytes.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.errors import ConfigurationError
from release_gate.keys.api_keys import generate_key, hash_key
from release_gate.keys.signing import write_private_key
from release_gate.ops.production import governance_problems, is_demo_key
from release_gate.policy.governance import Governance, SignerKey, SignerRecord, load_governance
from release_gate.runtime import build_runtime
from tests.databases import migrate
from tests.deploy._support import GateProcess, base_env, free_port, release_gate_argv
from tests.governance_data import (
    SAME_KEY_VARIANTS,
    SIGNERS,
    canonical_text,
    demo_public_key,
    governance_doc,
    reencodings,
    write_policies,
)
from tests.helpers import DEFAULT_SIGNERS, OWNER, base_manifest, sign

NAMED = r"signer '[^']+' key '[^']+' is not a raw Ed25519 key in canonical unpadded base64url"
READY_DEADLINE = 30.0


def _demo_doc(variant: str | None) -> dict[str, Any]:
    """Every signer on its demo key, written as ``variant`` (``None``: canonically)."""
    texts = {}
    for _subject, _role, key_id, stem in SIGNERS:
        text = canonical_text(demo_public_key(stem))
        texts[key_id] = text if variant is None else reencodings(text).get(variant, text)
    return governance_doc(texts)


def _owner_variant_doc(variant: str) -> dict[str, Any]:
    """Only the release owner's key re-encoded (the one key with ``-`` and ``_``)."""
    doc = _demo_doc(None)
    key = doc["signers"][OWNER[0]]["keys"][0]
    key["public_key"] = reencodings(key["public_key"])[variant]
    return doc


def _api_key(tmp_path: Path) -> str:
    key = generate_key()
    entry = {"name": "ops", "sha256": hash_key(key), "roles": ["evaluator", "verifier"]}
    (tmp_path / "api-keys.json").write_text(json.dumps([entry]), encoding="utf-8")
    return key


def _settings(tmp_path: Path, policies: Path, *, mode: str, engine: str, db: str) -> Settings:
    key = tmp_path / "gate.pem"
    write_private_key(key, Ed25519PrivateKey.generate(), force=True)
    values: dict[str, Any] = {
        "env": mode,
        "policies": policies,
        "state_dir": tmp_path / "state",
        "signing_key_file": key,
        "database_url": db,
    }
    if mode == "production":
        values["api_keys"] = tmp_path / "api-keys.json"
    if engine == "opa":  # governance loads before OPA is ever asked: nothing listens here
        values["opa_url"] = f"http://127.0.0.1:{free_port()}"
    return Settings(**values)


@contextmanager
def _gate(settings: Settings) -> Iterator[TestClient]:
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            yield client
    finally:
        runtime.close()


def _demo_signed_manifest() -> dict[str, Any]:
    return sign(copy.deepcopy(base_manifest()), *DEFAULT_SIGNERS)


def _assert_refused(client: TestClient, api_key: str | None) -> None:
    """Not ready, naming the signer and key; a demo-signed manifest gets a 503, no token."""
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["policy"]["ok"] is False
    assert re.search(NAMED, ready.json()["checks"]["policy"]["detail"])
    headers = {"content-type": "application/json"}
    if api_key is not None:
        headers["authorization"] = f"Bearer {api_key}"
    answer = client.post(
        "/v1/evaluate", content=json.dumps(_demo_signed_manifest()).encode(), headers=headers
    )
    assert answer.status_code == 503
    assert "token" not in answer.json()
    assert answer.json()["type"].endswith("governance-invalid")


@pytest.fixture
def pg_db(postgres_url: str) -> str:
    migrate(postgres_url)
    return postgres_url


class TestDemoKeyComparison:
    """The demo-key check compares bytes, whatever text the trust store holds."""

    def test_flags_a_demo_key_whose_text_is_not_canonical(self) -> None:
        """A Governance built by hand: the loader would refuse this text, the check must
        not depend on that."""
        public = demo_public_key("dana-whitfield")
        text = reencodings(canonical_text(public))["trailing-bits"]
        key = SignerKey(key_id="dana-2026-01", alg="Ed25519", public_key=text, status="active")
        governance = Governance(
            release_owner_role=OWNER[1],
            signers={OWNER[0]: SignerRecord(roles=[OWNER[1]], keys=[key])},
            lanes={},
            active_keys={(OWNER[0], "dana-2026-01"): public},
            key_bytes={(OWNER[0], "dana-2026-01"): public.public_bytes_raw()},
        )
        fresh = Ed25519PrivateKey.generate().public_key()
        problems = governance_problems(governance, signing_key=fresh)
        assert len(problems) == 1
        assert (
            "published demo key ('dana.whitfield@example.com', key_id 'dana-2026-01')"
            in (problems[0])
        )

    def test_every_canonical_demo_key_is_refused_once(self) -> None:
        governance = load_governance(_demo_doc(None))
        fresh = Ed25519PrivateKey.generate().public_key()
        problems = governance_problems(governance, signing_key=fresh)
        assert len(problems) == len(SIGNERS)

    def test_recognises_a_demo_key_as_bytes_or_key(self) -> None:
        public = demo_public_key("priya-raman")
        assert is_demo_key(public)
        assert is_demo_key(public.public_bytes_raw())
        assert not is_demo_key(Ed25519PrivateKey.generate().public_key())
        assert not is_demo_key(canonical_text(public).encode())  # the text is not the key


@pytest.mark.parametrize("engine", ["embedded", "opa"])
class TestReencodedDemoKeys:
    @pytest.mark.parametrize("variant", SAME_KEY_VARIANTS)
    def test_development_mode_refuses_every_reencoding(
        self, tmp_path: Path, engine: str, variant: str
    ) -> None:
        policies = write_policies(tmp_path / "policies", _owner_variant_doc(variant))
        db = f"sqlite:///{tmp_path / 'decisions.db'}"
        settings = _settings(tmp_path, policies, mode="development", engine=engine, db=db)
        with _gate(settings) as client:
            _assert_refused(client, None)

    @pytest.mark.parametrize("variant", SAME_KEY_VARIANTS)
    def test_production_mode_refuses_every_reencoding(
        self, tmp_path: Path, pg_db: str, engine: str, variant: str
    ) -> None:
        api_key = _api_key(tmp_path)
        policies = write_policies(tmp_path / "policies", _owner_variant_doc(variant))
        settings = _settings(tmp_path, policies, mode="production", engine=engine, db=pg_db)
        with _gate(settings) as client:
            _assert_refused(client, api_key)

    def test_production_refuses_the_canonical_demo_keys_at_start(
        self, tmp_path: Path, pg_db: str, engine: str
    ) -> None:
        """The control: written canonically, the demo keys stop start-up, one problem each."""
        _api_key(tmp_path)
        policies = write_policies(tmp_path / "policies", _demo_doc(None))
        settings = _settings(tmp_path, policies, mode="production", engine=engine, db=pg_db)
        with pytest.raises(ConfigurationError) as caught:
            build_runtime(settings)
        assert caught.value.detail.count("published demo key") == len(SIGNERS)


class TestTheReportedAttack:
    def test_a_real_production_gate_never_serves_reencoded_demo_keys(
        self, tmp_path: Path, pg_db: str
    ) -> None:
        """As reported: the last character of every demo key one step up, production mode
        (PostgreSQL, a 0600 key, API keys). Not ready, and a demo-signed manifest gets no
        token."""
        api_key = _api_key(tmp_path)
        policies = write_policies(tmp_path / "policies", _demo_doc("trailing-bits"))
        key = tmp_path / "gate.pem"
        write_private_key(key, Ed25519PrivateKey.generate(), force=False)
        port = free_port()
        env = base_env(
            RELEASE_GATE_ENV="production",
            RELEASE_GATE_POLICIES=str(policies),
            RELEASE_GATE_SIGNING_KEY_FILE=str(key),
            RELEASE_GATE_API_KEYS=str(tmp_path / "api-keys.json"),
            RELEASE_GATE_DATABASE_URL=pg_db,
            RELEASE_GATE_STATE_DIR=str(tmp_path / "state"),
            RELEASE_GATE_DRAIN_SECONDS="0",
        )
        gate = GateProcess(
            argv=release_gate_argv("serve", "--port", str(port)),
            env=env,
            port=port,
            log_dir=tmp_path / "logs",
            cwd=tmp_path,
        )
        gate.start(wait_ready=False)
        try:
            ready = _first_answer(gate, "/readyz")
            assert ready.status_code == 503
            assert re.search(NAMED, ready.text)
            answer = httpx.post(
                gate.url + "/v1/evaluate",
                content=json.dumps(_demo_signed_manifest()).encode(),
                headers={"content-type": "application/json", "authorization": f"Bearer {api_key}"},
                timeout=10.0,
            )
            assert answer.status_code == 503
            assert "token" not in answer.json()
        finally:
            gate.stop()


def _first_answer(gate: GateProcess, path: str) -> httpx.Response:
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        assert gate.proc is not None
        if gate.proc.poll() is not None:
            raise AssertionError(f"gate exited {gate.proc.returncode}:\n{gate.logs()}")
        try:
            return httpx.get(gate.url + path, timeout=2.0)
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"gate did not answer {path} in {READY_DEADLINE}s:\n{gate.logs()}")
