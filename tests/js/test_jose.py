"""Tokens verify with a JavaScript JOSE library (``jose``), using only the JWKS.

Needs ``node`` and ``npm ci --prefix tests/js``; skipped with the reason otherwise.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import LANE, ManifestFactory, post_json

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "jose").is_dir(),
        reason="jose is not installed: run `npm ci --prefix tests/js`",
    ),
]


def jose_verify(
    jwks: dict[str, Any], token: str, *, audience: str = LANE, packet_digest: str | None = None
) -> tuple[int, dict[str, Any]]:
    request: dict[str, Any] = {
        "jwks": jwks,
        "token": token,
        "issuer": "release-gate",
        "audience": audience,
    }
    if packet_digest is not None:
        request["packet_digest"] = packet_digest
    assert NODE is not None
    completed = subprocess.run(
        [NODE, str(HERE / "verify.mjs")],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=HERE,
        timeout=30,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr.decode()
    return completed.returncode, json.loads(completed.stdout)


@pytest.fixture
def minted(client: TestClient, make_manifest: ManifestFactory) -> tuple[str, str]:
    manifest = make_manifest()
    decision = post_json(client, "/v1/evaluate", manifest).json()
    assert decision["allow"] is True, decision["violations"]
    return decision["token"], manifest["packet"]["digest"]


class TestJoseVerification:
    def test_token_verifies_with_jose_and_the_jwks(
        self, client: TestClient, minted: tuple[str, str]
    ) -> None:
        token, digest = minted
        jwks = client.get("/.well-known/jwks.json").json()
        code, result = jose_verify(jwks, token, packet_digest=digest)
        assert code == 0, result
        assert result["header"]["alg"] == "EdDSA"
        assert result["header"]["typ"] == "release-approval+jwt"
        assert result["header"]["kid"] == jwks["keys"][0]["kid"]
        assert result["claims"]["aud"] == LANE
        assert result["claims"]["packet_digest"] == digest

    def test_jose_refuses_another_lane(self, client: TestClient, minted: tuple[str, str]) -> None:
        token, _ = minted
        jwks = client.get("/.well-known/jwks.json").json()
        code, result = jose_verify(jwks, token, audience="another-lane")
        assert code == 1
        assert result["code"] == "ERR_JWT_CLAIM_VALIDATION_FAILED"

    def test_jose_refuses_a_changed_payload(
        self, client: TestClient, minted: tuple[str, str]
    ) -> None:
        token, _ = minted
        head, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["scope"]["actions"].append("send_customer_notice")
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        jwks = client.get("/.well-known/jwks.json").json()
        code, result = jose_verify(jwks, f"{head}.{forged}.{signature}")
        assert code == 1
        assert result["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
